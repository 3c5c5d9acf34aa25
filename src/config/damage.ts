// Keeping going after schema errors, so that one run reports schema and semantic
// problems together: unknown fields are dropped; an entity with an invalid value
// is set aside whole (its name stays known, so references to it do not cascade
// into more errors).
import type { SchemaDamage } from "./schema.js";
import type { PathSeg } from "./source.js";

export interface Broken {
  networks: Set<string>;
  images: Set<string>;
  diskLayouts: Set<string>;
  categories: Set<string>;
  network: boolean;
  defaults: boolean;
  /** Something was set aside that cross-file checks would need (a whole file or section). */
  partial: boolean;
  /**
   * Nodes, categories and defaults that lost a misspelt field: a "missing image"
   * or "missing mac" about them would only repeat the unknown-field error.
   */
  incomplete: WeakSet<object>;
}

export function emptyBroken(): Broken {
  return { networks: new Set(), images: new Set(), diskLayouts: new Set(), categories: new Set(), network: false, defaults: false, partial: false, incomplete: new WeakSet() };
}

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === "object" && v !== null && !Array.isArray(v);

function deleteAt(root: unknown, path: PathSeg[]): void {
  let cur: unknown = root;
  for (let i = 0; i < path.length - 1; i++) {
    if (cur === null || typeof cur !== "object") return;
    cur = (cur as Record<string | number, unknown>)[path[i]!];
  }
  if (isObj(cur)) delete cur[path[path.length - 1] as string];
}

/**
 * Returns a copy of a file's data with the damage removed (undefined when the file
 * is unusable as a whole) and records what was set aside in `broken`.
 */
export function repairData(data: unknown, damage: SchemaDamage, broken: Broken): Obj | undefined {
  if (!isObj(data)) {
    broken.partial = true;
    return undefined;
  }
  const copy = structuredClone(data);
  for (const p of damage.unknownFields) {
    deleteAt(copy, p);
    // A misspelt top-level key ("netwrok", "node") hides a whole section.
    if (p.length === 1) broken.partial = true;
    const owner =
      p[0] === "defaults" ? copy.defaults : p[0] === "nodes" || p[0] === "categories" ? (copy[p[0]] as Record<string | number, unknown> | undefined)?.[p[1]!] : undefined;
    if (p.length > 1 && owner && typeof owner === "object") broken.incomplete.add(owner);
  }
  const badNodes = new Set<number>();
  for (const p of damage.brokenPaths) {
    const [top, second] = p;
    if (top === undefined) {
      broken.partial = true;
      return undefined;
    }
    if (top === "nodes") {
      if (typeof second === "number") badNodes.add(second);
      else delete copy.nodes;
    } else if (top === "networks" || top === "images" || top === "diskLayouts" || top === "categories") {
      if (typeof second === "string") {
        broken[top].add(second);
        if (isObj(copy[top])) delete copy[top][second];
      } else {
        delete copy[top];
        broken.partial = true;
      }
    } else if (top === "network") {
      broken.network = true;
      delete copy.network;
    } else if (top === "defaults") {
      broken.defaults = true;
      broken.partial = true;
      delete copy.defaults;
    } else if (top === "cluster") delete copy.cluster;
  }
  if (badNodes.size && Array.isArray(copy.nodes)) {
    // Keep indexes stable (positions are looked up by index): blank the bad entries.
    copy.nodes = (copy.nodes as unknown[]).map((n, i) => (badNodes.has(i) ? null : n));
  }
  return copy;
}
