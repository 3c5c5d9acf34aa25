// Malformed input never throws out of the loader: random edits of a valid
// configuration and random documents of plausible shape give diagnostics (or a
// model), never an exception, and a model only when there is no error.
import { afterAll, describe, expect, it } from "vitest";
import fc from "fast-check";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { parse, stringify } from "yaml";
import { loadClusterSync } from "../../src/config/load.js";
import { HEAD, node, removeConfigs, writeConfig } from "./helpers.js";

afterAll(removeConfigs);

const VALID =
  HEAD +
  node("n1", "52:54:00:00:00:01", "10.0.0.10") +
  `  - name: r[1-2]\n    category: compute\n    ip: 10.0.0.20\n    bmc: {address: 10.1.0.20, password: {env: PW}}\n    macs: ["52:54:00:00:00:02", "52:54:00:00:00:03"]\n`;

function check(text: string, file: string): void {
  writeFileSync(file, text);
  const r = loadClusterSync(file);
  const errors = r.diagnostics.filter((d) => d.severity === "error");
  expect(r.cluster === undefined).toBe(errors.length > 0);
  for (const d of r.diagnostics) {
    expect(d.code).toMatch(/^[a-z0-9-]+$/);
    expect(d.message.length).toBeGreaterThan(0);
  }
}

describe("the loader never throws", () => {
  const dir = writeConfig({});
  const file = join(dir, "c.yaml");

  it("the base configuration is valid", () => {
    writeFileSync(file, VALID);
    expect(loadClusterSync(file).diagnostics).toEqual([]);
  });

  it("on random line edits of a valid configuration", () => {
    const lines = VALID.split("\n");
    const edit = fc.oneof(
      fc.record({ op: fc.constant("delete" as const), at: fc.nat(lines.length - 1) }),
      fc.record({ op: fc.constant("dup" as const), at: fc.nat(lines.length - 1) }),
      fc.record({ op: fc.constant("indent" as const), at: fc.nat(lines.length - 1), by: fc.integer({ min: -4, max: 4 }) }),
      fc.record({
        op: fc.constant("char" as const),
        at: fc.nat(lines.length - 1),
        pos: fc.nat(200),
        ch: fc.constantFrom("[", "]", "{", "}", ":", "-", "#", '"', "'", "&a", "*a", "!!str ", "0", "x", " ", "\t", "%", "@", "|"),
      }),
      fc.record({
        op: fc.constant("replace" as const),
        at: fc.nat(lines.length - 1),
        value: fc.constantFrom("null", "~", "[]", "{}", "0", "-1", "1e400", "true", '""', "rest", "0%", "9999TB", "0.0.0.0", "n[1-0]", "x[1-99999999]"),
      }),
    );
    fc.assert(
      fc.property(fc.array(edit, { minLength: 1, maxLength: 4 }), (edits) => {
        const l = [...lines];
        for (const e of edits) {
          const i = Math.min(e.at, l.length - 1);
          const line = l[i] ?? "";
          if (e.op === "delete") l.splice(i, 1);
          else if (e.op === "dup") l.splice(i, 0, line);
          else if (e.op === "indent") l[i] = e.by >= 0 ? " ".repeat(e.by) + line : line.slice(Math.min(-e.by, line.length - line.trimStart().length));
          else if (e.op === "char") l[i] = line.slice(0, e.pos) + e.ch + line.slice(e.pos);
          else l[i] = line.replace(/: .*$/, `: ${e.value}`);
        }
        check(l.join("\n"), file);
      }),
      { numRuns: 250 },
    );
  });

  it("on random values put in place of the valid configuration's own", () => {
    const base = parse(VALID) as unknown;
    const leaves: (string | number)[][] = [];
    const walk = (v: unknown, path: (string | number)[]) => {
      if (v !== null && typeof v === "object") for (const [k, c] of Object.entries(v)) walk(c, [...path, Array.isArray(v) ? Number(k) : k]);
      else leaves.push(path);
    };
    walk(base, []);
    const replacement = fc.oneof(
      fc.constantFrom(
        "rest",
        "0%",
        "100%",
        "101%",
        "0MiB",
        "9999TB",
        "1GiB",
        "10.0.0.0",
        "10.0.0.254",
        "10.0.0.1",
        "10.0.1.1",
        "n[1-0]",
        "n[1-2]",
        "x[1-99999999]",
        "one",
        "img",
        "compute",
        "/",
        "swap",
        "none",
        "",
        "52:54:00:00:00:01",
      ),
      fc.constantFrom(null, 0, -1, 1, 5, true, [], {}, ["a"], { env: "X" }, { file: "f" }),
    );
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.nat(leaves.length - 1), replacement), { minLength: 1, maxLength: 3 }), (edits) => {
        const d = structuredClone(base) as Record<string | number, unknown>;
        for (const [i, value] of edits) {
          const path = leaves[i]!;
          if (!path.length) continue;
          let cur: Record<string | number, unknown> | undefined = d;
          for (const seg of path.slice(0, -1)) cur = cur?.[seg] as Record<string | number, unknown> | undefined;
          if (cur && typeof cur === "object") cur[path[path.length - 1]!] = value;
        }
        check(stringify(d), file);
      }),
      { numRuns: 500 },
    );
  });

  it("on random documents of plausible shape", () => {
    const scalar = fc.oneof(
      fc.constantFrom("img", "one", "compute", "/", "rest", "10GiB", "50%", "10.0.0.5", "52:54:00:00:00:09", "n[1-3]", "eth1", "10.0.0.254/24"),
      fc.integer(),
      fc.boolean(),
      fc.constant(null),
      fc.string({ maxLength: 8 }),
    );
    const value = fc.letrec((tie) => ({
      v: fc.oneof(
        { depthSize: "small" },
        scalar,
        fc.array(tie("v"), { maxLength: 3 }),
        fc.dictionary(
          fc.constantFrom(
            "name",
            "image",
            "diskLayout",
            "mac",
            "macs",
            "ip",
            "bmc",
            "address",
            "password",
            "env",
            "file",
            "size",
            "fs",
            "mount",
            "members",
            "level",
            "disks",
            "partitions",
            "match",
            "device",
            "minSize",
            "raid",
            "category",
            "exclude",
            "sync",
          ),
          tie("v"),
          { maxKeys: 4 },
        ),
      ),
    })).v;
    const doc = fc.record(
      {
        network: fc.oneof(value, fc.constant({ interface: "eth1", address: "10.0.0.254/24" })),
        images: fc.oneof(value, fc.constant({ img: { root: "/", kernel: "/" } })),
        diskLayouts: fc.dictionary(fc.constantFrom("one", "two"), value, { maxKeys: 2 }),
        categories: fc.dictionary(fc.constantFrom("compute", "c2"), value, { maxKeys: 2 }),
        defaults: value,
        nodes: fc.array(value, { maxLength: 4 }),
      },
      { requiredKeys: [] },
    );
    fc.assert(
      fc.property(doc, (d) => {
        check(stringify(d), file);
      }),
      { numRuns: 250 },
    );
  });
});
