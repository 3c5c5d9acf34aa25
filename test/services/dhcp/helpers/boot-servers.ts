// metalform's TFTP and HTTP boot servers in a child process inside a namespace (node
// cannot enter a namespace for one socket), for firmware tests: the sources are
// transpiled into a temp dir like the TFTP tests' bundle; events come back as JSON lines.
import { type ChildProcess } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import ts from "typescript";
import { startInNs } from "../../../helpers/netns.js";

const srcRoot = fileURLToPath(new URL("../../../../src", import.meta.url));
const addon = fileURLToPath(new URL("../../../../native/udp-bind-device/build/Release/udp_bind_device.node", import.meta.url));

export interface BootServers {
  /** Every event the servers emitted so far: `{ event, ...payload }`. */
  events: Record<string, unknown>[];
  stop(): Promise<void>;
}

export interface BootServersOptions {
  address: string;
  /** Served over TFTP (port 69) and over HTTP as /files/loaders/. */
  loaderDir: string;
  httpPort: number;
  /** The iPXE script every MAC gets. */
  script: string;
}

const RUNNER = `import { TftpServer } from "./services/tftp/server.js";
import { HttpBootServer } from "./services/http/server.js";
const o = JSON.parse(process.argv[2]);
const out = (event) => (e) => console.log(JSON.stringify({ event, ...e }));
const tftp = new TftpServer({ address: o.address, port: 69, root: o.loaderDir, nativeAddonPath: o.addon });
tftp.on("transfer-complete", out("tftp-complete"));
const http = new HttpBootServer({ address: o.address, port: o.httpPort, roots: { loaders: o.loaderDir }, scripts: () => o.script });
http.on("file-served", out("http-file"));
http.on("script-served", out("http-script"));
await tftp.start();
await http.start();
console.log("ready");
process.on("SIGTERM", async () => { await Promise.all([tftp.stop(), http.stop()]); process.exit(0); });
`;

function bundle(dir: string): string {
  const files = ["services/tftp", "services/http"].flatMap((d) =>
    fs
      .readdirSync(path.join(srcRoot, d))
      .filter((f) => f.endsWith(".ts"))
      .map((f) => `${d}/${f}`),
  );
  for (const rel of [...files, "util/log.ts", "services/service.ts", "services/udp-addon.ts"]) {
    const out = ts.transpileModule(fs.readFileSync(path.join(srcRoot, rel), "utf8"), {
      compilerOptions: { module: ts.ModuleKind.ES2022, target: ts.ScriptTarget.ES2022 },
    });
    const dest = path.join(dir, rel.replace(/\.ts$/, ".js"));
    fs.mkdirSync(path.dirname(dest), { recursive: true });
    fs.writeFileSync(dest, out.outputText);
  }
  fs.writeFileSync(path.join(dir, "package.json"), JSON.stringify({ type: "module" }));
  fs.writeFileSync(path.join(dir, "run.js"), RUNNER);
  return path.join(dir, "run.js");
}

export async function startBootServers(ns: string, opts: BootServersOptions): Promise<BootServers> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "mfS-boot-"));
  const proc = startInNs(ns, process.execPath, [bundle(dir), JSON.stringify({ ...opts, addon })]);
  const events: Record<string, unknown>[] = [];
  const stop = async () => {
    if (proc.exitCode === null) await new Promise<void>((r) => (proc.once("exit", () => r()), proc.kill("SIGTERM")));
    fs.rmSync(dir, { recursive: true, force: true });
  };
  await untilReady(proc, events).catch(async (e: Error) => {
    await stop();
    throw e;
  });
  return { events, stop };
}

function untilReady(proc: ChildProcess, events: Record<string, unknown>[]): Promise<void> {
  let stderr = "";
  let buf = "";
  proc.stderr!.on("data", (d) => (stderr += d));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`boot servers did not start: ${stderr}`)), 20_000);
    proc.on("exit", (code) => reject(new Error(`boot servers exited ${code}: ${stderr}`)));
    proc.stdout!.on("data", (d) => {
      buf += d;
      for (let nl = buf.indexOf("\n"); nl >= 0; nl = buf.indexOf("\n")) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        if (line === "ready") {
          clearTimeout(timer);
          resolve();
        } else if (line.startsWith("{")) events.push(JSON.parse(line) as Record<string, unknown>);
      }
    });
  });
}
