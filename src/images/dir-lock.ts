// A lock between processes on one machine: a directory made with mkdir (atomic) holding
// the owner's pid. A lock whose owner is gone is taken over. Recipe builds and snapshot
// commits use it so that two metalform runs never build or rename the same thing at once.
import { existsSync } from "node:fs";
import { mkdir, readFile, rm, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { nullLogger, type Logger } from "../util/log.js";

/** Takes the lock `path` (waiting while a live process holds it); resolves to its release. */
export async function lockDir(path: string, log: Logger = nullLogger): Promise<() => Promise<void>> {
  for (let waited = 0; ; waited += 1000) {
    try {
      await mkdir(path);
      await writeFile(join(path, "pid"), String(process.pid));
      return () => rm(path, { recursive: true, force: true });
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "EEXIST") throw e;
    }
    const pid = Number(await readFile(join(path, "pid"), "utf8").catch(() => "0"));
    const alive = pid > 0 && pid !== process.pid && existsSync(`/proc/${pid}`);
    // A lock without a pid yet is young (its owner is between mkdir and writeFile): wait a moment.
    const age = Date.now() - ((await stat(path).catch(() => undefined))?.mtimeMs ?? 0);
    if (!alive && (pid > 0 || age > 5000)) {
      await rm(path, { recursive: true, force: true });
      continue;
    }
    if (waited % 30_000 === 0) log.info("waiting-for-lock", { lock: path, pid });
    await new Promise((r) => setTimeout(r, 1000));
  }
}
