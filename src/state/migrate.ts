// `metalform state migrate`: the current state copied as it is (lineage and serial)
// into another backend, both locked for the copy. A target that holds another
// lineage, or is ahead, is never overwritten.
import { resolve } from "node:path";
import { serializeState } from "./codec.js";
import { StateError } from "./errors.js";
import { LocalStateStore } from "./local.js";
import type { ImportableStore } from "./store.js";
import type { ClusterState } from "./types.js";

export interface MigrateResult {
  lineage: string;
  serial: number;
  nodes: number;
  /** False when the target already held exactly this state. */
  copied: boolean;
}

const where = (s: ImportableStore) => (s instanceof LocalStateStore ? resolve(s.path) : s.location);
const sameContent = (a: ClusterState, b: ClusterState) => serializeState({ ...a, metalformVersion: "" }) === serializeState({ ...b, metalformVersion: "" });

export async function migrateState(from: ImportableStore, to: ImportableStore, lockTimeoutMs: number): Promise<MigrateResult> {
  if (where(from) === where(to)) throw new StateError("conflict", `the source and the target are the same state (${from.location}); nothing to do`);
  const l1 = await from.lock({ operation: "state migrate" }, lockTimeoutMs);
  try {
    const l2 = await to.lock({ operation: "state migrate" }, lockTimeoutMs);
    try {
      const st = await from.read();
      if (!st) throw new StateError("missing", `there is no state at ${from.location}: nothing to migrate`);
      const cur = await to.read();
      const result = { lineage: st.lineage, serial: st.serial, nodes: Object.keys(st.nodes).length };
      if (cur && cur.lineage !== st.lineage) {
        throw new StateError(
          "conflict",
          `${to.location} already holds a different state (lineage ${cur.lineage}, serial ${cur.serial}; the source has lineage ${st.lineage}); ` +
            `it was left as it is. Choose another target (a #NAME on the URL names another state in the same database).`,
        );
      }
      if (cur && cur.serial === st.serial) {
        if (sameContent(cur, st)) return { ...result, copied: false };
        throw new StateError("conflict", `${to.location} holds serial ${cur.serial} of the same lineage with different contents; it was left as it is`);
      }
      if (cur && cur.serial > st.serial) {
        throw new StateError("conflict", `${to.location} is ahead of the source (serial ${cur.serial} > ${st.serial}); it was left as it is`);
      }
      await to.importState(st);
      return { ...result, copied: true };
    } finally {
      await l2.release();
    }
  } finally {
    await l1.release();
  }
}
