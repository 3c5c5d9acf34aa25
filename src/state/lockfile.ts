// The lock of the local backend: a file created with O_EXCL next to the state,
// holding who took it. Creation is atomic on local file systems, so of two racing
// writers exactly one wins.
import { randomUUID } from "node:crypto";
import { link, open, readFile, unlink } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import { hostname, userInfo } from "node:os";
import { StateError } from "./errors.js";
import type { LockInfo, LockRequest } from "./store.js";

const POLL_MS = 100;

function currentUser(): string {
  try {
    return userInfo().username;
  } catch {
    return String(process.getuid?.() ?? "unknown");
  }
}

export function newLockInfo(req: LockRequest, now = new Date()): LockInfo {
  const host = hostname();
  return {
    id: randomUUID(),
    operation: req.operation,
    owner: req.owner ?? `${currentUser()}@${host}`,
    pid: process.pid,
    host,
    created: now.toISOString(),
  };
}

/** Reads the lock file; undefined when there is none, a placeholder when it is unreadable. */
export async function readLock(path: string): Promise<LockInfo | undefined> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw e;
  }
  try {
    const v = JSON.parse(text) as Partial<LockInfo>;
    if (typeof v.id === "string") {
      return {
        id: v.id,
        operation: String(v.operation ?? "?"),
        owner: String(v.owner ?? "?"),
        pid: Number(v.pid ?? 0),
        host: String(v.host ?? "?"),
        created: String(v.created ?? "?"),
      };
    }
  } catch {
    // A holder that is still writing its lock, or a damaged lock: report what we can.
  }
  return { id: "(unreadable)", operation: "?", owner: "?", pid: 0, host: "?", created: "?" };
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "EPERM";
  }
}

/** The ID as one shell word (the placeholder "(unreadable)" would be a syntax error unquoted). */
function shellWord(s: string): string {
  return /^[\w.-]+$/.test(s) ? s : `'${s.replaceAll("'", "'\\''")}'`;
}

export function describeHolder(h: LockInfo, statePath: string): string {
  const dead = h.stale
    ? " (its database session is gone: the lock is stale)"
    : h.host === hostname() && h.pid > 0 && !processAlive(h.pid)
      ? " (that process is no longer running)"
      : "";
  return (
    `the state ${statePath} is locked by ${h.owner} (pid ${h.pid} on ${h.host})${dead} since ${h.created} ` +
    `for "${h.operation}", lock ID ${h.id}. Wait for it to finish; if it died, run: metalform state unlock ${shellWord(h.id)}`
  );
}

// The lock appears with its whole content or not at all: written to a temporary file,
// then hard-linked to its name (link fails with EEXIST like O_EXCL does). A process
// killed mid-write thus never leaves an empty lock that names no holder.
async function tryCreate(path: string, info: LockInfo): Promise<boolean> {
  const tmp = join(dirname(path), `.${basename(path)}.tmp-${process.pid}-${randomUUID().slice(0, 8)}`);
  const fh = await open(tmp, "wx", 0o600);
  try {
    await fh.writeFile(JSON.stringify(info, null, 2) + "\n");
    await fh.sync();
  } finally {
    await fh.close();
  }
  try {
    await link(tmp, path);
    return true;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "EEXIST") return false;
    throw e;
  } finally {
    await unlink(tmp).catch(() => {});
  }
}

/** Takes the lock at `path`, polling until `timeoutMs` has passed. */
export async function acquireLock(path: string, statePath: string, req: LockRequest, timeoutMs: number): Promise<LockInfo> {
  const deadline = Date.now() + Math.max(0, timeoutMs);
  for (;;) {
    const info = newLockInfo(req);
    if (await tryCreate(path, info)) return info;
    if (Date.now() >= deadline) {
      const holder = await readLock(path);
      // Released between our attempt and the read: try once more right away.
      if (!holder) continue;
      throw new StateError("lock-held", `cannot lock: ${describeHolder(holder, statePath)}`);
    }
    await new Promise((r) => setTimeout(r, Math.min(POLL_MS, Math.max(1, deadline - Date.now()))));
  }
}

/** Removes the lock at `path` if its ID is `id`. */
export async function removeLock(path: string, id: string): Promise<void> {
  const holder = await readLock(path);
  if (!holder) throw new StateError("not-locked", `the state is not locked (no ${path}); nothing to unlock`);
  if (holder.id !== id) {
    throw new StateError(
      "lock-mismatch",
      `lock ID ${id} does not match the current lock ${holder.id} held by ${holder.owner} (pid ${holder.pid} on ${holder.host}); nothing was unlocked`,
    );
  }
  await unlink(path);
}
