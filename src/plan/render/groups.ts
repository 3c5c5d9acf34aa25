// Grouping of identical changes so that a 10,000-node plan stays readable: nodes whose
// change is the same (same kind, same reasons, same field values before and after)
// are shown once under a host range such as node[001-128].
import { compressHostnames } from "../../config/hostrange.js";
import { canonicalJson } from "../layout.js";
import { changeText, valueText } from "../format.js";
import type { NodeChange, NodeChangeKind, Plan, PlanSummary } from "../types.js";

export interface ChangeGroup {
  kind: NodeChangeKind;
  /** Node names in the group, sorted. */
  nodes: string[];
  /** Host-range text of the names, e.g. "node[001-128]". */
  label: string;
  /** The first change of the group: the others differ only in the node's name. */
  sample: NodeChange;
}

function signature(c: NodeChange): string {
  if (c.kind === "install") return canonicalJson([c.kind, c.protected, valueText(c.after?.image), valueText(c.after?.diskLayout), c.reasons[0]?.code]);
  if (c.kind === "remove") return canonicalJson([c.kind]);
  return canonicalJson([
    c.kind,
    c.protected,
    c.reasons.map((r) => r.message),
    c.fields.map((f) => [f.field, changeText(f.before, f.after), f.forcesReimage, f.beforeText ?? null, f.afterText ?? null]),
  ]);
}

export function groupChanges(changes: readonly NodeChange[]): ChangeGroup[] {
  const groups = new Map<string, ChangeGroup>();
  for (const c of changes) {
    const key = signature(c);
    const g = groups.get(key);
    if (g) g.nodes.push(c.node);
    else groups.set(key, { kind: c.kind, nodes: [c.node], label: "", sample: c });
  }
  for (const g of groups.values()) g.label = g.nodes.length === 1 ? g.nodes[0]! : compressHostnames(g.nodes).join(",");
  return [...groups.values()];
}

export const SYMBOL: Record<NodeChangeKind, string> = { install: "+", reimage: "-/+", sync: "~", update: "~", remove: "-" };
export const LABEL: Record<NodeChangeKind, string> = {
  install: "install",
  reimage: "reimage (wipes disks)",
  sync: "sync",
  update: "update",
  remove: "remove",
};

export function summaryLine(plan: Plan): string {
  if (plan.nodeChanges.length === 0 && plan.imageChanges.length === 0) return "No changes. The cluster matches the configuration.";
  const s: PlanSummary = plan.summary;
  return `Plan: ${s.install} to install, ${s.reimage} to reimage (wipes disks), ${s.sync} to sync, ${s.update} to update, ${s.remove} to remove.`;
}

export function imagesLine(plan: Plan): string | undefined {
  if (plan.imageChanges.length === 0) return undefined;
  const n = (k: string) => plan.imageChanges.filter((c) => c.kind === k).length;
  return `Images: ${n("create")} to add, ${n("update")} to update, ${n("delete")} to remove.`;
}

export const plural = (n: number, one: string, many = one + "s") => `${n} ${n === 1 ? one : many}`;
