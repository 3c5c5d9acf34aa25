// The default backend: a JSON file (default `.metalform/state.json` beside the
// configuration), its previous version in `<file>.backup`, its lock in `<file>.lock`.
import { mkdir, readFile } from "node:fs/promises";
import { dirname } from "node:path";
import { parseState, serializeState } from "./codec.js";
import { StateError } from "./errors.js";
import { writeFileAtomic } from "../util/fs.js";
import { acquireLock, readLock, removeLock } from "./lockfile.js";
import type { ImportableStore, LockInfo, LockRequest, StateLock } from "./store.js";
import { STATE_FORMAT_VERSION, type ClusterState } from "./types.js";
import { METALFORM_VERSION } from "./version.js";

export class LocalStateStore implements ImportableStore {
  readonly lockPath: string;
  readonly backupPath: string;
  /** Lock IDs this instance took and has not released. */
  private readonly held = new Set<string>();

  constructor(readonly path: string) {
    this.lockPath = `${path}.lock`;
    this.backupPath = `${path}.backup`;
  }

  get location(): string {
    return this.path;
  }

  private async readText(): Promise<string | undefined> {
    try {
      return await readFile(this.path, "utf8");
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === "ENOENT") return undefined;
      throw new StateError("io", `cannot read state ${this.path}: ${(e as Error).message}`);
    }
  }

  async read(): Promise<ClusterState | undefined> {
    const text = await this.readText();
    return text === undefined ? undefined : parseState(text, this.path);
  }

  private async checkHeld(): Promise<void> {
    if (this.held.size === 0) {
      throw new StateError("not-locked", `refusing to write ${this.path} without holding its lock`);
    }
    const holder = await readLock(this.lockPath);
    if (!holder || !this.held.has(holder.id)) {
      throw new StateError("not-locked", `the lock on ${this.path} was taken away (now: ${holder ? holder.id : "none"}); nothing written`);
    }
  }

  private async replace(currentText: string | undefined, next: ClusterState): Promise<void> {
    await mkdir(dirname(this.path), { recursive: true, mode: 0o700 });
    if (currentText !== undefined) await writeFileAtomic(this.backupPath, currentText, 0o600);
    await writeFileAtomic(this.path, serializeState(next), 0o600);
  }

  /** Stores `state` as it is, lineage and serial included (`state migrate`): only into no state or a same-lineage one behind it. */
  async importState(state: ClusterState): Promise<ClusterState> {
    await this.checkHeld();
    const currentText = await this.readText();
    const current = currentText === undefined ? undefined : parseState(currentText, this.path);
    if (current && current.lineage !== state.lineage) {
      throw new StateError("conflict", `state ${this.path} already holds another state (lineage ${current.lineage}, not ${state.lineage}); nothing written`);
    }
    if (current && current.serial >= state.serial) {
      throw new StateError("conflict", `state ${this.path} is at serial ${current.serial}, not behind serial ${state.serial}; nothing written`);
    }
    const next: ClusterState = { ...state, formatVersion: STATE_FORMAT_VERSION, metalformVersion: METALFORM_VERSION };
    await this.replace(currentText, next);
    return next;
  }

  async write(state: ClusterState, expectedSerial: number): Promise<ClusterState> {
    await this.checkHeld();
    // Parsing the current file first means a corrupt or newer file is refused here and never overwritten.
    const currentText = await this.readText();
    const current = currentText === undefined ? undefined : parseState(currentText, this.path);
    const currentSerial = current?.serial ?? 0;
    if (current && current.lineage !== state.lineage) {
      throw new StateError("conflict", `state ${this.path} has lineage ${current.lineage}, not ${state.lineage}: it is a different state; nothing written`);
    }
    if (currentSerial !== expectedSerial) {
      throw new StateError("conflict", `state ${this.path} moved on: serial is ${currentSerial}, expected ${expectedSerial}; nothing written`);
    }
    const next: ClusterState = {
      ...state,
      formatVersion: STATE_FORMAT_VERSION,
      metalformVersion: METALFORM_VERSION,
      serial: expectedSerial + 1,
    };
    await this.replace(currentText, next);
    return next;
  }

  async lock(request: LockRequest, timeoutMs: number): Promise<StateLock> {
    await mkdir(dirname(this.path), { recursive: true, mode: 0o700 });
    const info = await acquireLock(this.lockPath, this.path, request, timeoutMs);
    this.held.add(info.id);
    return {
      info,
      release: async () => {
        if (!this.held.delete(info.id)) return;
        const now = await readLock(this.lockPath);
        if (now?.id === info.id) await removeLock(this.lockPath, info.id);
      },
    };
  }

  async unlock(id: string): Promise<void> {
    await removeLock(this.lockPath, id);
    this.held.delete(id);
  }

  lockHolder(): Promise<LockInfo | undefined> {
    return readLock(this.lockPath);
  }
}
