// Picking nodes by name or host range from the command line (power, --target ...).
import { expandHostRange } from "./hostrange.js";
import type { DesiredCluster, Node } from "./types.js";

export class SelectionError extends Error {}

/** Nodes named by `patterns` (names or host ranges), in configuration order. Unknown names are an error. */
export function selectNodes(cluster: DesiredCluster, patterns: readonly string[]): Node[] {
  if (patterns.length === 0) return cluster.nodes;
  const wanted = new Set<string>();
  for (const p of patterns) {
    for (const part of p.split(/[\s]+/).filter(Boolean)) {
      const names = expandHostRange(part);
      if (!Array.isArray(names)) throw new SelectionError(`"${part}": ${names.message}`);
      for (const n of names) wanted.add(n);
    }
  }
  const byName = new Map(cluster.nodes.map((n) => [n.name, n]));
  const unknown = [...wanted].filter((n) => !byName.has(n));
  if (unknown.length) {
    const shown = unknown.slice(0, 5).join(", ") + (unknown.length > 5 ? `, … (${unknown.length} in all)` : "");
    throw new SelectionError(`no such node in the configuration: ${shown}`);
  }
  return cluster.nodes.filter((n) => wanted.has(n.name));
}
