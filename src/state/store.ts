// The state store: one small interface so that another backend (a database, an
// object store) can follow the local file.
import type { ClusterState } from "./types.js";

/** Who holds the state lock, written into the lock so a second writer can say so. */
export interface LockInfo {
  id: string;
  /** What the holder is doing, e.g. "apply" or "state rm". */
  operation: string;
  /** user@host */
  owner: string;
  pid: number;
  host: string;
  /** ISO 8601 */
  created: string;
  /** Set when the holder is known to be gone (its database session ended): the lock no longer protects anything. */
  stale?: boolean;
}

export interface LockRequest {
  operation: string;
  owner?: string;
}

export interface StateLock {
  readonly info: LockInfo;
  /** Releases the lock if it is still ours. */
  release(): Promise<void>;
}

export interface StateStore {
  /** Human-readable location, for messages. */
  readonly location: string;
  /** The current state, or undefined when none was ever written. Refuses corrupt or newer files. */
  read(): Promise<ClusterState | undefined>;
  /**
   * Writes `state` as the successor of serial `expectedSerial` (the serial the caller
   * read; 0 when there was no state). Refuses when the stored state moved on, when it
   * has another lineage, or when this store does not hold the lock. Returns what was
   * written (serial incremented).
   */
  write(state: ClusterState, expectedSerial: number): Promise<ClusterState>;
  /** Takes the lock, waiting up to `timeoutMs` for another holder to let go. */
  lock(request: LockRequest, timeoutMs: number): Promise<StateLock>;
  /** Removes the lock with this ID, whoever holds it (`metalform state unlock`). */
  unlock(id: string): Promise<void>;
  /** The current lock holder, if any. */
  lockHolder(): Promise<LockInfo | undefined>;
  /** Releases what the store holds open (connections); a no-op for files. */
  close?(): Promise<void>;
}

/** A store that can take a state as it is, lineage and serial included (`state migrate`). */
export interface ImportableStore extends StateStore {
  /** Refuses unless the store is locked by this instance and empty, or holds the same lineage at a lower serial. */
  importState(state: ClusterState): Promise<ClusterState>;
}
