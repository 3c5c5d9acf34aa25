// Runs the real rsync daemon (Debian `rsync`) in the foreground with a generated
// configuration. rsync re-reads its config file for every client connection, so
// reload() only rewrites the file.

import { spawn, type ChildProcess } from "node:child_process";
import { EventEmitter } from "node:events";
import { chmod, mkdir, mkdtemp, open, readdir, readFile, readlink, rename, rm, writeFile } from "node:fs/promises";
import { existsSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { createInterface } from "node:readline";
import { nullLogger, type Logger } from "../../util/log.js";
import type { Service } from "../service.js";
import { checkModules, renderRsyncdConf, renderSecrets, type RsyncModule } from "./config.js";

export interface RsyncDaemonOptions {
  /** Address to bind (the provisioning address). */
  address: string;
  /** TCP port (873 is the standard one; below 1024 needs root). */
  port: number;
  /** One read-only module per image. */
  modules: readonly RsyncModule[];
  /** Private directory for the config and pid file; a fresh temporary one by default. */
  runDir?: string;
  /** The rsync binary; "rsync" from PATH by default. */
  rsyncPath?: string;
  logger?: Logger;
  /** How long start() waits for the daemon to accept connections; default 10 s. */
  startTimeoutMs?: number;
  /** How long stop() waits after SIGTERM before SIGKILL; default 5 s. */
  stopTimeoutMs?: number;
  /** Simultaneous clients per module; 0 (default) means unlimited. */
  maxConnections?: number;
  /** The daemon drops a client after this many seconds of I/O silence; default 600. */
  timeoutSec?: number;
}

export interface RsyncDaemonEvents {
  /** The daemon ended without stop() being called. */
  exit: [{ code: number | null; signal: NodeJS.Signals | null; output: string }];
}

const OUTPUT_LINES_KEPT = 40;

/** How a daemon process ended before it listened. */
interface DaemonEnd {
  code: number | null;
  signal: NodeJS.Signals | null;
  error?: NodeJS.ErrnoException;
  /** Killed because it did not listen within startTimeoutMs. */
  timedOut?: boolean;
}

function notInstalled(rsync: string): string {
  return `rsync is not installed (${rsync} not found): apt-get install rsync (Debian package rsync)`;
}

export class RsyncDaemon extends EventEmitter<RsyncDaemonEvents> implements Service {
  readonly name = "rsync";
  private readonly opts: RsyncDaemonOptions;
  private readonly log: Logger;
  private current: readonly RsyncModule[];
  private child: ChildProcess | undefined;
  private runDir: string | undefined;
  private ownRunDir = false;
  private stopping = false;
  private output: string[] = [];
  private tail: { stop(): Promise<void> } | undefined;

  constructor(options: RsyncDaemonOptions) {
    super();
    const problems = checkModules(options.modules);
    if (problems.length > 0) throw new Error(problems.join("; "));
    this.opts = options;
    this.current = [...options.modules];
    this.log = options.logger ?? nullLogger;
  }

  get modules(): readonly RsyncModule[] {
    return this.current;
  }

  /** Path of the generated rsyncd.conf (defined once started). */
  get configPath(): string | undefined {
    return this.runDir && path.join(this.runDir, "rsyncd.conf");
  }

  /** PID of the daemon while it runs. */
  get pid(): number | undefined {
    return this.child?.pid;
  }

  /** `rsync://ADDRESS:PORT/` of the running daemon. */
  get url(): string {
    const host = this.opts.address.includes(":") ? `[${this.opts.address}]` : this.opts.address;
    return `rsync://${host}:${this.opts.port}/`;
  }

  async start(): Promise<void> {
    if (this.child) return;
    if (process.getuid?.() !== 0) {
      // Without root the daemon can neither chroot nor read every file of an image.
      this.log.warn("not-root", { message: "the rsync daemon needs root for `use chroot` and `uid = 0`; transfers will fail" });
    }
    await this.prepareRunDir();
    await rm(path.join(this.runDir!, "rsyncd.pid"), { force: true });
    await this.writeConfig(this.current);
    this.output = [];
    this.stopping = false;
    await this.startTail(path.join(this.runDir!, "rsyncd.log"));
    const { child, exited } = this.spawnDaemon();
    const ended = await this.untilListening(child, exited);
    if (!ended) {
      this.watchExit(child);
      this.log.info("listening", { address: this.opts.address, port: this.opts.port, pid: child.pid, modules: this.current.map((m) => m.name) });
      return;
    }
    this.child = undefined;
    await this.stopTail();
    throw this.startError(ended);
  }

  private spawnDaemon(): { child: ChildProcess; exited: Promise<DaemonEnd> } {
    const rsync = this.opts.rsyncPath ?? "rsync";
    if (!findExecutable(rsync)) throw new Error(notInstalled(rsync));
    const argv = [rsync, "--daemon", "--no-detach", `--config=${this.configPath}`];
    // With util-linux's setpriv the daemon gets SIGTERM when metalform dies (even by
    // SIGKILL), instead of holding the port until the next start replaces it.
    if (SETPRIV) argv.unshift(SETPRIV, "--pdeathsig", "TERM");
    const child = spawn(argv[0]!, argv.slice(1), {
      stdio: ["ignore", "pipe", "pipe"],
      // Own process group, so stop() also ends transfers the daemon forked.
      detached: true,
    });
    this.child = child;
    for (const stream of [child.stdout, child.stderr]) {
      createInterface({ input: stream }).on("line", (line) => this.daemonLine(line));
    }
    const exited = new Promise<DaemonEnd>((resolve) => {
      child.once("error", (error: NodeJS.ErrnoException) => resolve({ code: null, signal: null, error }));
      // "close" comes after the output streams ended, so every line has been read.
      child.once("close", (code, signal) => resolve({ code, signal }));
    });
    return { child, exited };
  }

  /** Undefined once our daemon listens; how it ended when it exited (or was killed at the deadline) first. */
  private async untilListening(child: ChildProcess, exited: Promise<DaemonEnd>): Promise<DaemonEnd | undefined> {
    const timeoutMs = this.opts.startTimeoutMs ?? 10_000;
    const deadline = Date.now() + timeoutMs;
    let ended: DaemonEnd | undefined;
    void exited.then((e) => (ended = e));
    while (!ended && Date.now() < deadline) {
      // Ready means: a listening socket on our port belongs to our daemon. Merely
      // connecting is not enough: another program holding the port would pass.
      if (await listensOn(child.pid, this.opts.port)) return ended;
      await Promise.race([exited, sleep(50)]);
    }
    if (ended) return ended;
    killGroup(child, "SIGKILL");
    await exited;
    return { code: null, signal: "SIGKILL", timedOut: true };
  }

  /** After a good start: a daemon that exits unasked is logged and reported. */
  private watchExit(child: ChildProcess): void {
    child.once("close", (code, signal) => {
      if (this.child !== child) return;
      this.child = undefined;
      if (this.stopping) return;
      const output = this.output.join("\n");
      this.log.error("daemon-exited", { code, signal, output: this.output.slice(-5).join(" | ") });
      this.emit("exit", { code, signal, output });
    });
  }

  private startError(ended: DaemonEnd): Error {
    const where = `${this.opts.address}:${this.opts.port}`;
    if (ended.timedOut) {
      return new Error(`rsync daemon did not accept connections on ${where} within ${(this.opts.startTimeoutMs ?? 10_000) / 1000} s${this.outputTail()}`);
    }
    if (ended.error?.code === "ENOENT") return new Error(notInstalled(this.opts.rsyncPath ?? "rsync"));
    if (ended.error) return new Error(`cannot run rsync: ${ended.error.message}`);
    return new Error(`${this.startFailure(where)} (rsync exited with ${ended.code ?? ended.signal})${this.outputTail()}`);
  }

  async stop(): Promise<void> {
    const child = this.child;
    if (child) {
      this.stopping = true;
      const gone = new Promise<void>((resolve) => {
        if (child.exitCode !== null || child.signalCode !== null) resolve();
        else child.once("exit", () => resolve());
      });
      killGroup(child, "SIGTERM");
      let timer: NodeJS.Timeout | undefined;
      const deadline = new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(true), this.opts.stopTimeoutMs ?? 5000)));
      // The deadline timer must not outlive the daemon: it would hold the process open.
      const timedOut = await Promise.race([gone.then(() => false), deadline]);
      clearTimeout(timer);
      if (timedOut) {
        this.log.warn("kill", { pid: child.pid, reason: "did not exit after SIGTERM" });
        killGroup(child, "SIGKILL");
        await gone;
      }
      this.child = undefined;
      this.log.info("stopped", { pid: child.pid });
    }
    await this.stopTail();
    if (this.ownRunDir && this.runDir) {
      await rm(this.runDir, { recursive: true, force: true });
      this.runDir = undefined;
      this.ownRunDir = false;
    }
  }

  /**
   * Replaces the set of modules. The running daemon serves the new set from the
   * next connection on; transfers in progress are not disturbed.
   */
  async reload(modules: readonly RsyncModule[]): Promise<void> {
    const problems = checkModules(modules);
    if (problems.length > 0) throw new Error(problems.join("; "));
    if (this.runDir) await this.writeConfig(modules);
    this.current = [...modules];
    // Who may read each module, by user name only (never a password).
    this.log.info("reloaded", { modules: modules.map((m) => (m.access ? `${m.name} (${m.access.map((c) => c.user).join(", ") || "nobody"})` : m.name)) });
  }

  private async prepareRunDir(): Promise<void> {
    if (this.runDir) return;
    if (this.opts.runDir) {
      await mkdir(this.opts.runDir, { recursive: true, mode: 0o700 });
      this.runDir = this.opts.runDir;
    } else {
      this.runDir = await mkdtemp(path.join(os.tmpdir(), "metalform-rsyncd-"));
      this.ownRunDir = true;
    }
    await chmod(this.runDir, 0o700);
  }

  private async writeConfig(modules: readonly RsyncModule[]): Promise<void> {
    const runDir = this.runDir!;
    const text = renderRsyncdConf({
      address: this.opts.address,
      port: this.opts.port,
      pidFile: path.join(runDir, "rsyncd.pid"),
      // Tailed into the logger. (/dev/stderr cannot be used: Node's stdio pipes are
      // socket pairs, which open() on /proc/self/fd refuses, and rsync would fall
      // back to syslog.)
      logFile: path.join(runDir, "rsyncd.log"),
      lockFile: path.join(runDir, "rsyncd.lock"),
      modules,
      maxConnections: this.opts.maxConnections ?? 0,
      timeoutSec: this.opts.timeoutSec ?? 600,
      secretsFile: path.join(runDir, "rsyncd.secrets"),
    });
    // Secrets first, so a new module never names a user the file does not hold yet.
    // rsync rereads both for every connection; `strict modes` wants the file 0600.
    await replaceFile(path.join(runDir, "rsyncd.secrets"), renderSecrets(modules));
    await replaceFile(path.join(runDir, "rsyncd.conf"), text);
  }

  /** Follows the daemon's log file from its current end, line by line. */
  private async startTail(file: string): Promise<void> {
    await this.stopTail();
    await writeFile(file, "", { flag: "a" });
    const handle = await open(file, "r");
    let offset = (await handle.stat()).size;
    let partial = "";
    let reading: Promise<void> = Promise.resolve();
    const readMore = async () => {
      const buf = Buffer.alloc(64 * 1024);
      for (;;) {
        const { bytesRead } = await handle.read(buf, 0, buf.length, offset);
        if (bytesRead === 0) break;
        offset += bytesRead;
        const text = partial + buf.subarray(0, bytesRead).toString("utf8");
        const lines = text.split("\n");
        partial = lines.pop() ?? "";
        for (const l of lines) this.daemonLine(l);
      }
    };
    const timer = setInterval(() => {
      reading = reading.then(readMore).catch(() => undefined);
    }, 100);
    timer.unref();
    this.tail = {
      stop: async () => {
        clearInterval(timer);
        await reading;
        await readMore().catch(() => undefined);
        if (partial) this.daemonLine(partial);
        await handle.close();
      },
    };
  }

  private async stopTail(): Promise<void> {
    const t = this.tail;
    this.tail = undefined;
    if (t) await t.stop();
  }

  private daemonLine(line: string): void {
    if (line.trim() === "") return;
    this.output.push(line);
    if (this.output.length > OUTPUT_LINES_KEPT) this.output.shift();
    // "2026/11/24 21:07:21 [7834] rsync on img/ from UNDETERMINED (127.0.0.1)"
    const m = /^\d{4}\/\d\d\/\d\d \d\d:\d\d:\d\d \[(\d+)\] (.*)$/.exec(line);
    const message = m ? m[2]! : line;
    const fields = { pid: m ? Number(m[1]) : undefined, message };
    // Refusals ("denied", "auth failed", "unknown module" for a hidden one) are warnings: they carry the client's address.
    if (/error|failed|refused|denied|unable|unknown module/i.test(message)) this.log.warn("rsyncd", fields);
    else this.log.debug("rsyncd", fields);
  }

  private startFailure(where: string): string {
    const text = this.output.join("\n");
    if (/Address already in use/i.test(text)) return `rsync daemon cannot listen on ${where}: the port is already in use by another program`;
    if (/Cannot assign requested address/i.test(text)) return `rsync daemon cannot listen on ${where}: no interface on this host has address ${this.opts.address}`;
    if (/Permission denied/i.test(text)) return `rsync daemon cannot listen on ${where}: permission denied (ports below 1024 need root)`;
    return `rsync daemon failed to start on ${where}`;
  }

  private outputTail(): string {
    const lines = this.output.slice(-6).map((l) => l.replace(/^\d{4}\/\d\d\/\d\d \d\d:\d\d:\d\d \[\d+\] /, ""));
    return lines.length > 0 ? `; rsync said: ${lines.join(" / ")}` : "";
  }
}

/** Atomic replace, owner-only: a connection arriving mid-write reads the old or the new file. */
async function replaceFile(file: string, text: string): Promise<void> {
  const tmp = `${file}.${process.pid}.tmp`;
  await writeFile(tmp, text, { mode: 0o600 });
  await rename(tmp, file);
}

function killGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  if (child.pid === undefined) return;
  try {
    process.kill(-child.pid, signal);
  } catch {
    try {
      child.kill(signal);
    } catch {
      // already gone
    }
  }
}

/**
 * True when process PID holds a TCP socket listening on PORT: the inodes of
 * listening sockets from /proc/net/tcp{,6} matched against the process's fds.
 */
async function listensOn(pid: number | undefined, port: number): Promise<boolean> {
  if (pid === undefined) return false;
  const inodes = new Set<string>();
  const portHex = port.toString(16).toUpperCase().padStart(4, "0");
  for (const table of ["/proc/net/tcp", "/proc/net/tcp6"]) {
    const text = await readFile(table, "utf8").catch(() => "");
    for (const line of text.split("\n").slice(1)) {
      // sl local_address rem_address st tx:rx tr:when retrnsmt uid timeout inode
      const f = line.trim().split(/\s+/);
      if (f.length < 10 || f[3] !== "0A") continue;
      if (f[1]!.split(":")[1] === portHex) inodes.add(f[9]!);
    }
  }
  if (inodes.size === 0) return false;
  const fds = await readdir(`/proc/${pid}/fd`).catch(() => [] as string[]);
  for (const fd of fds) {
    const target = await readlink(`/proc/${pid}/fd/${fd}`).catch(() => "");
    const m = /^socket:\[(\d+)\]$/.exec(target);
    if (m && inodes.has(m[1]!)) return true;
  }
  return false;
}

const SETPRIV = ["/usr/bin/setpriv", "/bin/setpriv"].find((p) => existsSync(p));

/** A command name resolved like the shell would (PATH), or a path that exists. */
function findExecutable(cmd: string): string | undefined {
  if (cmd.includes("/")) return existsSync(cmd) ? cmd : undefined;
  for (const dir of (process.env.PATH ?? "/usr/bin:/bin").split(":")) {
    const p = path.join(dir || ".", cmd);
    if (existsSync(p)) return p;
  }
  return undefined;
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
