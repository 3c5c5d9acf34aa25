// Inheritance of node settings: node > category > defaults. Scalars and lists are
// taken whole from the nearest level that sets them; the mappings `bmc` and
// `exclude` and `vars` merge key by key.
import type { RawSettings, Where } from "./merge.js";

/** One level of settings with where each came from (for messages about inherited values). */
export interface Level {
  settings: RawSettings;
  where: Where;
}

/** The nearest level's value of `key`, and that level. */
export function pick<K extends keyof RawSettings>(levels: Level[], key: K): { value: RawSettings[K]; level: Level } | undefined {
  for (let i = levels.length - 1; i >= 0; i--) {
    const l = levels[i]!;
    if (l.settings[key] !== undefined) return { value: l.settings[key], level: l };
  }
  return undefined;
}

/** bmc and exclude merge key by key, nearest level winning; `sources` says which level set each key. */
export function mergeMaps<T extends object>(levels: Level[], key: "bmc" | "exclude" | "vars"): { value: T; sources: Map<string, Level> } | undefined {
  let out: Record<string, unknown> | undefined;
  const sources = new Map<string, Level>();
  for (const l of levels) {
    const m = l.settings[key] as Record<string, unknown> | undefined;
    if (!m) continue;
    out ??= {};
    for (const [k, v] of Object.entries(m)) {
      out[k] = v;
      sources.set(k, l);
    }
  }
  // `bmc: {}` (or one whose only field was misspelt and dropped) sets nothing.
  return out && sources.size ? { value: out as T, sources } : undefined;
}
