// What `metalform status` shows: each configured node's state as its agent last told
// the head (serve's agents.json, node-agents.ts), against what the state says it was
// installed with. Pure: configuration, state and agent records in, statuses out,
// grouped by host range like the plan (nodes alike in everything but name and times).
import { compressHostnames } from "../config/hostrange.js";
import type { DesiredCluster } from "../config/types.js";
import type { ObservedNode } from "../plan/refresh.js";
import type { ClusterState } from "../state/types.js";
import type { AgentRecord, AgentsFile } from "./node-agents.js";

/**
 * `up`: its agent called within `downAfterMs`; `down`: it did before, not since;
 * `installing`: its installer claimed an attempt after the agent's last report;
 * `unknown`: no agent ever reported (installed before agents, or never installed).
 */
export type NodeRunState = "up" | "down" | "installing" | "unknown";

export interface NodeStatus {
  node: string;
  category: string;
  state: NodeRunState;
  /** The image digest the node runs (its agent's report). */
  image?: string;
  /** What the state says this node's image is; `image` differs from it when set. */
  imageInState?: string;
  imageDiffers: boolean;
  kernel?: string;
  /** The kernel's boot id in the agent's last report: a new one means the node rebooted. */
  bootId?: string;
  bootTime?: string;
  lastSeen?: string;
  installingSince?: string;
  lastWork?: AgentRecord["lastWork"];
}

export interface StatusOptions {
  now: Date;
  /** A node silent this long is down (default 2 minutes: four polls of the default interval). */
  downAfterMs?: number;
}

export const DEFAULT_DOWN_AFTER_MS = 120_000;

function runState(rec: AgentRecord | undefined, o: StatusOptions): NodeRunState {
  if (!rec) return "unknown";
  if (rec.installingSince) return "installing";
  if (!rec.report) return "unknown";
  return o.now.getTime() - Date.parse(rec.lastSeen) > (o.downAfterMs ?? DEFAULT_DOWN_AFTER_MS) ? "down" : "up";
}

export function nodeStatuses(cluster: DesiredCluster, state: ClusterState | undefined, agents: AgentsFile, o: StatusOptions): NodeStatus[] {
  return cluster.nodes.map((n) => {
    const rec = agents.nodes[n.name];
    const inState = state?.nodes[n.name]?.reported?.imageDigest ?? state?.images[n.image]?.digest;
    const image = rec?.report?.image || undefined;
    return {
      node: n.name,
      category: n.category,
      state: runState(rec, o),
      ...(image ? { image } : {}),
      ...(inState ? { imageInState: inState } : {}),
      imageDiffers: Boolean(image && inState && image !== inState),
      ...(rec?.report?.kernel ? { kernel: rec.report.kernel } : {}),
      ...(rec?.report?.bootId ? { bootId: rec.report.bootId } : {}),
      ...(rec?.bootTime ? { bootTime: rec.bootTime } : {}),
      ...(rec ? { lastSeen: rec.lastSeen } : {}),
      ...(rec?.installingSince ? { installingSince: rec.installingSince } : {}),
      ...(rec?.lastWork ? { lastWork: rec.lastWork } : {}),
    };
  });
}

export interface StatusGroup {
  /** Host-range text of the group's nodes, e.g. "node[001-128]". */
  label: string;
  nodes: string[];
  state: NodeRunState;
  category: string;
  image?: string;
  imageDiffers: boolean;
  kernel?: string;
  /** The earliest and latest of the group's boot times and last-seen times. */
  booted?: { first: string; last: string };
  seen?: { first: string; last: string };
}

function span(values: (string | undefined)[]): { first: string; last: string } | undefined {
  const v = values.filter((x): x is string => Boolean(x)).sort();
  return v.length ? { first: v[0]!, last: v.at(-1)! } : undefined;
}

/** Nodes alike in state, category, image and kernel share a line; groups in state order (down first). */
export function groupStatuses(statuses: readonly NodeStatus[]): StatusGroup[] {
  const byKey = new Map<string, NodeStatus[]>();
  for (const s of statuses) {
    const key = JSON.stringify([s.state, s.category, s.image ?? null, s.imageDiffers, s.kernel ?? null]);
    byKey.set(key, [...(byKey.get(key) ?? []), s]);
  }
  const order: NodeRunState[] = ["down", "installing", "unknown", "up"];
  return [...byKey.values()]
    .map((members): StatusGroup => {
      const s = members[0]!;
      const nodes = members.map((m) => m.node);
      const booted = span(members.map((m) => m.bootTime));
      const seen = span(members.map((m) => m.lastSeen));
      return {
        label: nodes.length === 1 ? nodes[0]! : compressHostnames(nodes).join(","),
        nodes,
        state: s.state,
        category: s.category,
        ...(s.image ? { image: s.image } : {}),
        imageDiffers: s.imageDiffers,
        ...(s.kernel ? { kernel: s.kernel } : {}),
        ...(booted ? { booted } : {}),
        ...(seen ? { seen } : {}),
      };
    })
    .sort((a, b) => order.indexOf(a.state) - order.indexOf(b.state) || a.label.localeCompare(b.label));
}

/**
 * What `plan --refresh` needs of each node with an agent report: the image it runs,
 * the managed files that changed since its install, whether it went silent. Nodes
 * being installed are left out (their drift is the install itself).
 */
export function observedNodes(agents: AgentsFile, o: StatusOptions): Map<string, ObservedNode> {
  const out = new Map<string, ObservedNode>();
  for (const [name, rec] of Object.entries(agents.nodes)) {
    if (!rec.report || rec.installingSince) continue;
    const files = rec.report.files;
    const base = rec.baseline ?? files;
    const changedFiles = [...new Set([...Object.keys(base), ...Object.keys(files)])].filter((f) => base[f] !== files[f]).sort();
    const down = runState(rec, o) === "down";
    out.set(name, { ...(rec.report.image ? { image: rec.report.image } : {}), changedFiles, down, lastSeen: rec.lastSeen });
  }
  return out;
}
