// The machine-readable plan: the model with snake_case keys, described by
// schemas/plan.schema.json. The same document is the saved plan file, so
// `show FILE` reads it back into the model losslessly. The model holds no maps
// keyed by user data, which is what makes a key-by-key conversion safe.
import type { Plan } from "./types.js";

const toSnake = (k: string) => k.replace(/[A-Z]/g, (c) => "_" + c.toLowerCase());
const toCamel = (k: string) => k.replace(/_([a-z])/g, (_, c: string) => c.toUpperCase());

function convertKeys(v: unknown, f: (k: string) => string): unknown {
  if (Array.isArray(v)) return v.map((x) => convertKeys(x, f));
  if (v === null || typeof v !== "object") return v;
  const out: Record<string, unknown> = {};
  for (const [k, x] of Object.entries(v as Record<string, unknown>)) if (x !== undefined) out[f(k)] = convertKeys(x, f);
  return out;
}

/** The JSON document of a plan (an object ready for JSON.stringify). */
export function planToJson(plan: Plan): Record<string, unknown> {
  return convertKeys(plan, toSnake) as Record<string, unknown>;
}

/** The model of a plan document that has been validated against the schema. */
export function planFromJson(doc: Record<string, unknown>): Plan {
  return convertKeys(doc, toCamel) as Plan;
}

export function renderJson(plan: Plan, pretty = true): string {
  return JSON.stringify(planToJson(plan), null, pretty ? 2 : undefined) + "\n";
}
