// The schema is the user-facing contract: editors show its descriptions, so every
// property must have one (directly or through the definition it references).
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";

type Schema = { [k: string]: unknown; properties?: Record<string, Schema>; description?: string; $ref?: string };

describe("schemas/cluster.schema.json", () => {
  it("describes every property", () => {
    const root = JSON.parse(readFileSync(new URL("../../schemas/cluster.schema.json", import.meta.url), "utf8")) as Schema & { $defs: Record<string, Schema> };
    const missing: string[] = [];
    const described = (s: Schema): boolean => Boolean(s.description) || (s.$ref !== undefined && described(root.$defs[s.$ref.split("/").pop()!] ?? {}));
    const walk = (s: unknown, path: string) => {
      if (!s || typeof s !== "object") return;
      const o = s as Schema;
      for (const [k, v] of Object.entries(o.properties ?? {})) if (!described(v)) missing.push(`${path}.${k}`);
      for (const [k, v] of Object.entries(o)) walk(v, `${path}.${k}`);
    };
    walk(root, "");
    expect(missing).toEqual([]);
  });
});
