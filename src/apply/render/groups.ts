// Large applies in a terminal: one line per rack-like range of nodes (node[001-128]
// install) instead of one per node. Pure: names in, groups out.
import { compressHostnames } from "../../config/hostrange.js";

export interface NodeGroup {
  /** e.g. "rack1-n[01-32] install" */
  label: string;
  nodes: string[];
}

/** The name without its last number: nodes that differ only there share a range. */
function stem(name: string): string {
  const m = /^(.*?)(\d+)(\D*)$/.exec(name);
  return m ? `${m[1]}#${m[3]}` : name;
}

/**
 * Groups nodes by change kind and host-range stem; when that still makes more than
 * `max` groups, one group per change kind.
 */
export function groupNodes(planned: ReadonlyArray<{ node: string; change: string }>, max: number): NodeGroup[] {
  const byStem = new Map<string, { change: string; nodes: string[] }>();
  for (const p of planned) {
    const key = `${p.change}\u0000${stem(p.node)}`;
    const g = byStem.get(key) ?? { change: p.change, nodes: [] };
    g.nodes.push(p.node);
    byStem.set(key, g);
  }
  if (byStem.size <= max) {
    return [...byStem.values()].map((g) => ({ label: `${compressHostnames(g.nodes).join(",")} ${g.change}`, nodes: g.nodes }));
  }
  const byChange = new Map<string, string[]>();
  for (const p of planned) {
    const list = byChange.get(p.change) ?? [];
    list.push(p.node);
    byChange.set(p.change, list);
  }
  return [...byChange].map(([change, nodes]) => ({ label: `${nodes.length} nodes ${change}`, nodes }));
}

/** "12 sync, 3 dhcp" from each running node's phase. */
export function phaseCounts(phases: Iterable<string>): string {
  const counts = new Map<string, number>();
  for (const p of phases) counts.set(p, (counts.get(p) ?? 0) + 1);
  return [...counts].map(([p, n]) => `${n} ${p}`).join(", ");
}
