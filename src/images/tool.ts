// Running the host tools images are imported with (tar, rsync, cp, skopeo, umoci):
// argv in, exit code and the tail of stderr out, a Debian package named when the
// tool is missing.
import { spawn } from "node:child_process";

export interface ToolResult {
  code: number;
  stdout: string;
  stderr: string;
}

const PACKAGES: Record<string, string> = { tar: "tar", rsync: "rsync", cp: "coreutils", skopeo: "skopeo", umoci: "umoci", zstd: "zstd", xz: "xz-utils" };

/** Runs argv; stdout is kept when `keepStdout` (listings), else only stderr's tail. */
export function runTool(argv: string[], opts: { keepStdout?: boolean; timeoutMs?: number } = {}): Promise<ToolResult> {
  return new Promise((resolve) => {
    const [cmd, ...args] = argv;
    const p = spawn(cmd!, args, { stdio: ["ignore", opts.keepStdout ? "pipe" : "ignore", "pipe"] });
    const out: Buffer[] = [];
    let err = "";
    p.stdout?.on("data", (d: Buffer) => out.push(d));
    p.stderr!.on("data", (d: Buffer) => (err = (err + d.toString()).slice(-8000)));
    const t = setTimeout(() => p.kill("SIGKILL"), opts.timeoutMs ?? 60 * 60_000);
    p.on("error", (e) => {
      clearTimeout(t);
      const pkg = PACKAGES[cmd!];
      resolve({ code: 127, stdout: "", stderr: `${cmd}: ${e.message}${pkg ? ` (install the Debian package ${pkg})` : ""}` });
    });
    p.on("close", (code, sig) => {
      clearTimeout(t);
      resolve({ code: code ?? 128, stdout: Buffer.concat(out).toString(), stderr: err + (sig ? `\n${cmd} killed by ${sig}` : "") });
    });
  });
}

/** The last meaningful lines of a tool's stderr, on one line. */
export function toolError(r: ToolResult): string {
  const lines = r.stderr
    .split("\n")
    .map((l) => l.trim())
    .filter(Boolean)
    .map((l) => /msg="((?:[^"\\]|\\.)*)"/.exec(l)?.[1]?.replace(/\\"/g, '"') ?? l);
  return lines.slice(-3).join(" / ") || `exited ${r.code}`;
}
