// Running the host tools the lab is made of (ip, qemu, ipmi_sim, radvd, apt-get):
// awaited commands with captured output, and detached daemons that outlive the
// process that started them (a `lab up` CLI run returns while the lab keeps running).
import { spawn } from "node:child_process";
import { closeSync, openSync, readFileSync } from "node:fs";

export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

export class CommandError extends Error {
  constructor(
    readonly argv: string[],
    readonly result: RunResult,
  ) {
    super(`${argv.join(" ")} exited with ${result.code}: ${(result.stderr || result.stdout).trim().slice(0, 2000)}`);
  }
}

/** Runs argv and resolves with its exit code and output (never rejects for a non-zero exit). */
export function runCommand(argv: string[], opts: { input?: string; timeoutMs?: number; env?: NodeJS.ProcessEnv; cwd?: string } = {}): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const [cmd, ...args] = argv;
    if (!cmd) return reject(new Error("empty command"));
    const child = spawn(cmd, args, { stdio: ["pipe", "pipe", "pipe"], env: opts.env ?? process.env, cwd: opts.cwd });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    let timer: NodeJS.Timeout | undefined;
    if (opts.timeoutMs) timer = setTimeout(() => child.kill("SIGKILL"), opts.timeoutMs);
    child.stdout.on("data", (b: Buffer) => out.push(b));
    child.stderr.on("data", (b: Buffer) => err.push(b));
    child.on("error", (e) => {
      if (timer) clearTimeout(timer);
      // A missing binary is an exit code like any other for callers that probe.
      resolve({ code: 127, stdout: "", stderr: String(e.message) });
    });
    child.on("close", (code, signal) => {
      if (timer) clearTimeout(timer);
      resolve({ code: code ?? (signal ? 128 : 1), stdout: Buffer.concat(out).toString(), stderr: Buffer.concat(err).toString() });
    });
    child.stdin.on("error", () => {});
    child.stdin.end(opts.input ?? "");
  });
}

/** Runs argv and returns its stdout; throws CommandError on a non-zero exit. */
export async function mustRun(argv: string[], opts: { input?: string; timeoutMs?: number; cwd?: string } = {}): Promise<string> {
  const r = await runCommand(argv, opts);
  if (r.code !== 0) throw new CommandError(argv, r);
  return r.stdout;
}

/** argv prefixed to run inside the network namespace `ns`. */
export function inNamespace(ns: string, argv: string[]): string[] {
  return ["ip", "netns", "exec", ns, ...argv];
}

/**
 * Starts a daemon detached from this process (own session, output appended to
 * logFile) and returns its pid. The caller records the pid to stop it later.
 */
export function startDaemon(argv: string[], logFile: string): number {
  const [cmd, ...args] = argv;
  if (!cmd) throw new Error("empty command");
  const fd = openSync(logFile, "a", 0o600);
  try {
    const child = spawn(cmd, args, { detached: true, stdio: ["ignore", fd, fd] });
    if (child.pid === undefined) throw new Error(`could not start ${cmd}`);
    child.on("error", () => {});
    child.unref();
    return child.pid;
  } finally {
    closeSync(fd);
  }
}

/** True while a process with this pid exists (and is not a zombie). */
export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "EPERM";
  }
  try {
    // A zombie still answers kill(0); its state letter in /proc says it is gone.
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const state = stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3);
    return state !== "Z";
  } catch {
    return false;
  }
}

/** True when pid is alive and its command line contains `needle` (guards against reused pids). */
export function processRuns(pid: number, needle: string): boolean {
  if (!processAlive(pid)) return false;
  try {
    return readFileSync(`/proc/${pid}/cmdline`, "utf8").includes(needle);
  } catch {
    return false;
  }
}

/** Sends SIGTERM, waits up to graceMs, then SIGKILL. Resolves once the process is gone. */
export async function stopProcess(pid: number, graceMs = 3000): Promise<void> {
  if (!processAlive(pid)) return;
  try {
    process.kill(pid, "SIGTERM");
  } catch {
    return;
  }
  const deadline = Date.now() + graceMs;
  while (Date.now() < deadline) {
    if (!processAlive(pid)) return;
    await sleep(50);
  }
  try {
    process.kill(pid, "SIGKILL");
  } catch {
    return;
  }
  const hard = Date.now() + 2000;
  while (Date.now() < hard && processAlive(pid)) await sleep(50);
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Polls `probe` until it returns a value (not undefined) or the timeout passes. */
export async function waitFor<T>(probe: () => Promise<T | undefined> | T | undefined, timeoutMs: number, intervalMs = 100): Promise<T | undefined> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v !== undefined) return v;
    if (Date.now() >= deadline) return undefined;
    await sleep(intervalMs);
  }
}
