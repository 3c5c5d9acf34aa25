// Which provisioner installs a node: pure. Only live provisioners that hold the
// node's image at the digest being applied qualify; those whose affinity names the
// node (its category, or a host range containing it) come first while any of them is
// alive with the image; among the rest the least loaded (assignments per slot) with
// a free slot wins, ties broken by fewer assignments, then by name.
import { expandHostRange } from "../config/hostrange.js";

export interface Candidate {
  name: string;
  slots: number;
  /** Installs assigned to it now. */
  load: number;
  /** Image name → digest of its copy. */
  images: Readonly<Record<string, string>>;
  categories: readonly string[];
  nodePatterns: readonly string[];
}

export interface NodeToPlace {
  name: string;
  category: string;
  image: string;
  digest: string;
}

export type Choice =
  | { kind: "chosen"; provisioner: string; affinity: boolean }
  /** Nobody can take it now, but someone may soon (a slot frees, an image copy finishes). */
  | { kind: "wait"; why: string }
  /** Nobody is alive to take it. */
  | { kind: "none"; why: string };

const patternCache = new Map<string, Set<string>>();

function patternNames(pattern: string): Set<string> {
  let set = patternCache.get(pattern);
  if (!set) {
    const names = expandHostRange(pattern, 100_000);
    set = new Set(Array.isArray(names) ? names : [pattern]);
    if (patternCache.size > 1000) patternCache.clear();
    patternCache.set(pattern, set);
  }
  return set;
}

export function hasAffinity(c: Pick<Candidate, "categories" | "nodePatterns">, node: Pick<NodeToPlace, "name" | "category">): boolean {
  return c.categories.includes(node.category) || c.nodePatterns.some((p) => patternNames(p).has(node.name));
}

export function chooseProvisioner(node: NodeToPlace, live: readonly Candidate[]): Choice {
  if (!live.length) return { kind: "none", why: "no provisioner is alive (none is heart-beating)" };
  const withImage = live.filter((c) => c.images[node.image] === node.digest);
  if (!withImage.length) {
    return { kind: "wait", why: `no live provisioner holds image ${node.image} at ${node.digest.slice(0, 19)} yet (copying)` };
  }
  const preferred = withImage.filter((c) => hasAffinity(c, node));
  const pool = preferred.length ? preferred : withImage;
  const free = pool.filter((c) => c.load < c.slots);
  if (!free.length) {
    const slots = pool.reduce((n, c) => n + c.slots, 0);
    return { kind: "wait", why: `all ${slots} slots of ${pool.map((c) => c.name).join(", ")} are busy` };
  }
  free.sort((a, b) => a.load / a.slots - b.load / b.slots || a.load - b.load || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  return { kind: "chosen", provisioner: free[0]!.name, affinity: preferred.length > 0 };
}
