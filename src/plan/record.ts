// Turning a carried-out change into state: apply calls this after each node or image
// change succeeds, then writes the state. Mutates `state` in place (an apply over
// 10,000 nodes must not copy the state 10,000 times) and returns it.
import type { DesiredCluster } from "../config/types.js";
import type { ClusterState, NodeReport } from "../state/types.js";
import { layoutIdentity } from "./layout.js";
import type { ImageChange, NodeChange } from "./types.js";

export interface RecordOptions {
  /** ISO time recorded as appliedAt / updatedAt. */
  now?: string;
}

const isNodeChange = (c: NodeChange | ImageChange): c is NodeChange => "node" in c;

export function recordApplied(state: ClusterState, change: NodeChange | ImageChange, desired: DesiredCluster, opts: RecordOptions = {}): ClusterState {
  if (!isNodeChange(change)) {
    if (change.kind === "delete" || !change.after) {
      delete state.images[change.image];
    } else {
      state.images[change.image] = { digest: change.after.digest, size: change.after.size };
      if (opts.now) state.images[change.image]!.updatedAt = opts.now;
    }
    return state;
  }
  if (change.kind === "remove" || !change.after) {
    delete state.nodes[change.node];
    return state;
  }
  const prev = Object.hasOwn(state.nodes, change.node) ? state.nodes[change.node] : undefined;
  const next = { ...prev, applied: structuredClone(change.after) };
  if (opts.now) next.appliedAt = opts.now;
  // A node that is (re)installed or synced will report afresh; its old report describes disks that no longer exist.
  if (change.kind !== "update") delete next.reported;
  state.nodes[change.node] = next;

  const layout = desired.diskLayouts.get(change.after.diskLayout.name);
  if (layout) {
    const l = layoutIdentity(layout);
    if (l.digest === change.after.diskLayout.digest) state.layouts[l.digest] = { name: layout.name, text: l.text };
  }
  if (desired.name && !state.cluster) state.cluster = desired.name;
  return state;
}

/** Drops recorded layouts no node uses any more; call before writing the state. */
export function pruneLayouts(state: ClusterState): ClusterState {
  const used = new Set(Object.values(state.nodes).map((n) => n.applied?.diskLayout.digest));
  for (const d of Object.keys(state.layouts)) if (!used.has(d)) delete state.layouts[d];
  return state;
}

/**
 * Records what a node reported (installer progress, or the installed system's
 * reporter). Drift is computed from these against the applied attributes. A report
 * for a node the state does not know creates its entry (never installed).
 */
export function recordReport(state: ClusterState, node: string, report: NodeReport): ClusterState {
  const prev = Object.hasOwn(state.nodes, node) ? state.nodes[node] : undefined;
  state.nodes[node] = { ...prev, reported: { ...report } };
  return state;
}
