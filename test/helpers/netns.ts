// The pieces every network-namespace test helper needs: running a command (in a
// namespace or not), failing with the Debian package when a tool is missing,
// removing namespaces that killed runs left behind. (waitFor, re-exported here for
// the helpers that import it from this file, lives in wait.ts.) Topologies (bridges, veth pairs, labs) stay with each helper: they differ.
import { execFileSync, spawn, type ChildProcess, type SpawnOptions } from "node:child_process";
import { existsSync } from "node:fs";
import { join } from "node:path";

import { processAlive } from "./process.js";

export { processAlive };
export { waitFor } from "./wait.js";

export const REPO_ROOT = new URL("../../", import.meta.url).pathname;
export const METALFORM_BIN = join(REPO_ROOT, "bin/metalform");

/** Runs a command to completion; throws on a non-zero exit (stderr is captured, not printed). */
export function sh(cmd: string, args: string[]): string {
  return execFileSync(cmd, args, { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
}

/** Runs a command to completion inside a namespace. */
export function inNs(ns: string, cmd: string, args: string[]): string {
  return sh("ip", ["netns", "exec", ns, cmd, ...args]);
}

/** Starts a command inside a namespace without blocking the event loop (servers under test may live in this process). */
export function startInNs(ns: string, cmd: string, args: string[], options: SpawnOptions = {}): ChildProcess {
  return spawn("ip", ["netns", "exec", ns, cmd, ...args], { stdio: ["ignore", "pipe", "pipe"], ...options });
}

/** Starts the built metalform CLI inside a namespace, colour off so output can be matched. */
export function startMetalformInNs(ns: string, args: string[], env: Record<string, string> = {}): ChildProcess {
  return startInNs(ns, process.execPath, [METALFORM_BIN, ...args], { env: { ...process.env, NO_COLOR: "1", ...env } });
}

/**
 * Fails (never skips) when a tool is missing, naming its Debian package. `howToInstall`
 * lets a helper keep the wording its tests and CI logs already know.
 */
export function requireTool(path: string, pkg: string, howToInstall = `apt-get install -y ${pkg}`): void {
  if (!existsSync(path)) throw new Error(`${path} is missing: ${howToInstall}`);
}

/** Like requireTool, for commands looked up on PATH; lists every missing one at once. */
export function requireCommands(tools: Record<string, string>): void {
  const missing: string[] = [];
  for (const [tool, pkg] of Object.entries(tools)) {
    try {
      execFileSync("sh", ["-c", `command -v ${tool}`], { stdio: "ignore" });
    } catch {
      missing.push(`${tool} (Debian package ${pkg})`);
    }
  }
  if (missing.length > 0) throw new Error(`missing: ${missing.join(", ")}; apt-get install -y ${Object.values(tools).join(" ")}`);
}

/** Fails when dist/ is not built: the CLI tests run bin/metalform, which loads dist/. */
export function requireBuilt(note = ""): void {
  if (!existsSync(join(REPO_ROOT, "dist/cli/main.js"))) throw new Error(`dist/ is not built: run \`npm run build\`${note ? ` ${note}` : ""}`);
}

/** Deletes a namespace, best effort (it may be gone already, or never made). */
export function deleteNamespace(ns: string): void {
  try {
    sh("ip", ["netns", "del", ns]);
  } catch {
    /* not there */
  }
}

/**
 * Removes namespaces left by earlier runs that were killed: those matching `pattern`
 * whose first capture group, the creating test process's PID, is no longer alive.
 * The PID, not "has processes", decides: a namespace in use by a parallel test file
 * may hold only sockets of that file's process. `killProcesses` first kills what still
 * runs inside (VMs, simulators), which would otherwise outlive the namespace.
 * Best effort: without `ip netns list` there is nothing to clean.
 */
export function removeStaleNamespaces(pattern: RegExp, opts: { killProcesses?: boolean } = {}): void {
  let list: string;
  try {
    list = sh("ip", ["netns", "list"]);
  } catch {
    return;
  }
  for (const line of list.split("\n")) {
    const name = line.split(/\s+/)[0] ?? "";
    const pid = pattern.exec(name)?.[1];
    if (pid === undefined || processAlive(Number(pid))) continue;
    if (opts.killProcesses) killNamespaceProcesses(name);
    deleteNamespace(name);
  }
}

function killNamespaceProcesses(ns: string): void {
  let pids: string[];
  try {
    pids = sh("ip", ["netns", "pids", ns]).split(/\s+/).filter(Boolean);
  } catch {
    return;
  }
  for (const p of pids) {
    try {
      process.kill(Number(p), "SIGKILL");
    } catch {
      /* gone already */
    }
  }
}
