// An apply or serve killed with SIGKILL cannot stop the rsync daemon it started
// (the daemon runs in its own process group so that stop() can end its transfers),
// and the orphan keeps the rsync port. The next start for the same state
// directory finds it by its configuration path and ends it — unless the process
// that started it still lives, which is a real conflict to report.
import { readdirSync, readFileSync } from "node:fs";
import { nullLogger, type Logger } from "../util/log.js";

export class ServicesBusy extends Error {}

interface Proc {
  pid: number;
  ppid: number;
  cmdline: string[];
}

function readProc(pid: number): Proc | undefined {
  try {
    const cmdline = readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0").filter(Boolean);
    // "pid (comm) state ppid …": comm may hold spaces and parentheses; the last ")" ends it.
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
    return { pid, ppid, cmdline };
  } catch {
    return undefined;
  }
}

function isMetalform(p: Proc | undefined): boolean {
  return Boolean(p?.cmdline.some((a) => /(^|\/)metalform$|\/dist\/cli\/main\.js$/.test(a)));
}

/** rsync daemons started with the configuration file `configPath`. */
export function rsyncDaemonsFor(configPath: string): Proc[] {
  const out: Proc[] = [];
  for (const d of readdirSync("/proc")) {
    if (!/^\d+$/.test(d)) continue;
    const p = readProc(Number(d));
    if (p && p.cmdline.includes("--daemon") && p.cmdline.includes(`--config=${configPath}`)) out.push(p);
  }
  return out;
}

/**
 * Ends rsync daemons left by a dead metalform for this configuration file.
 * Throws ServicesBusy when a live metalform still owns one.
 */
export async function reapOrphanRsync(configPath: string, log: Logger = nullLogger): Promise<number> {
  // The daemon and the children it forked for transfers; ours (this process's) are left alone.
  const found = rsyncDaemonsFor(configPath).filter((p) => p.ppid !== process.pid);
  const owner = found.find((p) => isMetalform(readProc(p.ppid)));
  if (owner) {
    throw new ServicesBusy(`another metalform (pid ${owner.ppid}) runs the services for this state directory; stop it first, or let apply use it (metalform serve)`);
  }
  for (const p of found) {
    log.warn("orphan-rsync", { pid: p.pid, note: "left by a metalform that died; ending it" });
    for (const [signal, waitMs] of [
      ["SIGTERM", 2000],
      ["SIGKILL", 2000],
    ] as const) {
      try {
        process.kill(p.pid, signal);
      } catch {
        break;
      }
      const deadline = Date.now() + waitMs;
      while (Date.now() < deadline && alive(p.pid)) await new Promise((r) => setTimeout(r, 20));
      if (!alive(p.pid)) break;
    }
  }
  return found.length;
}

/** Alive and not a zombie. */
function alive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3) !== "Z";
  } catch {
    return false;
  }
}
