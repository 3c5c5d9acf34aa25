// `plan --refresh`: what the nodes' agents report they run, against what the state says
// they were given. Drift — a managed file changed on the node, an image other than the
// state's, a node whose agent went silent — becomes a sync with a `drift: …` reason (a
// sync rewrites the managed files and the image's differences; a node that is down is
// power-cycled into it). Pure: the observations come in, reasons go out.
import { shortDigest } from "./format.js";
import { ACTIONS, type NodeChange, type Reason } from "./types.js";

/** What a node's agent last reported, as the plan needs it. */
export interface ObservedNode {
  /** The image digest the node runs. */
  image?: string;
  /** Managed files whose digest differs from what the node had after its install. */
  changedFiles: string[];
  /** Its agent has been silent longer than the refresh allows. */
  down: boolean;
  /** When its agent last called (ISO 8601). */
  lastSeen?: string;
}

const MAX_NAMED_FILES = 5;

/** The drift of one node: reasons, empty when its agent saw nothing amiss (or there is no agent report). */
export function driftReasons(o: ObservedNode | undefined, stateImage: string): Reason[] {
  if (!o) return [];
  const out: Reason[] = [];
  if (o.down) out.push({ code: "drift-down", message: `drift: the node is down (its agent last called ${o.lastSeen ?? "never"})` });
  if (o.image && o.image !== stateImage)
    out.push({ code: "drift-image", message: `drift: the node runs image ${shortDigest(o.image)}; the state says ${shortDigest(stateImage)}` });
  if (o.changedFiles.length) {
    const named = o.changedFiles.slice(0, MAX_NAMED_FILES).join(", ") + (o.changedFiles.length > MAX_NAMED_FILES ? ` and ${o.changedFiles.length - MAX_NAMED_FILES} more` : "");
    out.push({ code: "drift-files", message: `drift: ${o.changedFiles.length} managed file${o.changedFiles.length === 1 ? "" : "s"} changed on the node: ${named}` });
  }
  return out;
}

/**
 * A node's change with its drift: none becomes a sync (`sync` makes it), an update
 * becomes a sync, a sync or reimage carries the reasons too (it repairs the drift).
 */
export function withDrift(change: NodeChange | undefined, reasons: Reason[], sync: () => NodeChange): NodeChange | undefined {
  if (!reasons.length) return change;
  if (!change) return { ...sync(), reasons };
  const kind = change.kind === "update" ? "sync" : change.kind;
  return { ...change, kind, actions: [...ACTIONS[kind]], reasons: [...change.reasons, ...reasons] };
}
