// Hostile configurations are refused in bounded time AND memory. The messages and
// time of each refusal are in test/config/invalid.test.ts ("hostile input"); this adds
// the peak resident memory of the whole `metalform validate` process (measured with
// getrusage in test/robustness/maxrss.mjs) and a few larger inputs.
import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { requireBuilt } from "./harness.js";

const dir = mkdtempSync(join(tmpdir(), "mfrb-hc-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const HEAD = `cluster: { name: x }
network: { interface: eth1, address: 10.0.0.254/24 }
images: { img: { root: /srv/img } }
diskLayouts: { one: { disks: [ { name: d, match: { device: /dev/vda }, partitions: [ { size: rest, fs: ext4, mount: / } ] } ] } }
categories: { compute: { image: img, diskLayout: one } }
nodes:
`;

interface Case {
  name: string;
  make: () => string | Buffer;
  /** Text the refusal must contain. */
  expect: string;
  /** Peak RSS allowed, MiB (the CLI alone is ~60 MiB). */
  maxMiB: number;
}

const cases: Case[] = [
  {
    name: "alias bomb (billion laughs, 9^9 expansions)",
    make: () =>
      'a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]\n' +
      "bcdefghi"
        .split("")
        .map(
          (c, i) =>
            `${c}: &${c} [${Array(9)
              .fill("*" + "abcdefghi"[i])
              .join(",")}]\n`,
        )
        .join(""),
    expect: "too many alias expansions",
    maxMiB: 160,
  },
  {
    name: "alias bomb hidden inside a valid configuration's node list",
    make: () => HEAD + "  - &n { name: n1, category: compute, ip: 10.0.0.1, mac: '52:54:00:00:00:01' }\n" + "  - *n\n".repeat(5000),
    expect: "too many alias expansions",
    maxMiB: 200,
  },
  {
    name: "absurd host range (10^8 names)",
    make: () => HEAD + `  - { name: "node[1-100000000]", category: compute, ip: 10.0.0.10, macs: [] }\n`,
    expect: "expands to 100,000,000 names",
    maxMiB: 160,
  },
  {
    name: "absurd product of host ranges",
    make: () => HEAD + `  - { name: "r[1-999999999]-n[1-999999999]-c[1-999999999]", category: compute, ip: 10.0.0.10, macs: [] }\n`,
    expect: "expands to more than",
    maxMiB: 160,
  },
  {
    name: "flow nesting 100,000 deep",
    make: () => "a: " + "[".repeat(100_000) + "]".repeat(100_000) + "\n",
    expect: "nested deeper than 64 levels",
    maxMiB: 200,
  },
  {
    name: "block nesting 5,000 deep",
    make: () => Array.from({ length: 5000 }, (_, i) => " ".repeat(i) + "k:").join("\n") + " x\n",
    expect: "nested deeper than 64 levels",
    maxMiB: 250,
  },
  {
    name: "file of 17 MiB",
    make: () => Buffer.concat([Buffer.from("# "), Buffer.alloc(17 * 1024 * 1024, 0x41), Buffer.from("\n")]),
    expect: "the limit is 16 MiB per file",
    maxMiB: 160,
  },
  {
    name: "quoted string of 12 MB",
    make: () => `cluster: { name: "${"x".repeat(12_000_000)}" }\n`,
    expect: "quoted string longer than 65,536 characters",
    maxMiB: 400,
  },
  {
    // Was quadratic (the YAML parser's duplicate-key check): over 10 minutes; now ~6 s.
    // Memory is the YAML syntax tree's, ~23x the file; see docs/robustness.md.
    name: "a mapping of 150,000 keys (15 MB, just under the size limit), its last key a duplicate",
    make: () => "junk:\n" + Array.from({ length: 150_000 }, (_, i) => `  key${i}: ${"v".repeat(90)}`).join("\n") + "\n  key0: again\n",
    expect: "cluster.yaml:150002:3: error[yaml-syntax]: Map keys must be unique",
    maxMiB: 600,
  },
];

describe("hostile configurations: refused in bounded time and memory", () => {
  for (const c of cases) {
    it(
      c.name,
      () => {
        requireBuilt();
        const d = join(dir, c.name.replace(/\W+/g, "-"));
        mkdirSync(d, { recursive: true });
        writeFileSync(join(d, "cluster.yaml"), c.make());
        const t0 = Date.now();
        const r = spawnSync(process.execPath, [new URL("./maxrss.mjs", import.meta.url).pathname, "validate", "-c", d], { encoding: "utf8", timeout: 60_000 });
        const ms = Date.now() - t0;
        const kib = Number(/MAXRSS_KIB (\d+)/.exec(r.stderr)?.[1]);
        const mib = kib / 1024;
        console.log(`refused "${c.name}" in ${ms} ms, peak RSS ${mib.toFixed(0)} MiB`);
        expect(r.status, r.stderr.slice(0, 2000)).toBe(1);
        expect(r.stdout + r.stderr).toContain(c.expect);
        expect(kib).toBeGreaterThan(0);
        expect(mib, `peak RSS ${mib.toFixed(0)} MiB`).toBeLessThan(c.maxMiB);
        // Bounded, not fast: a blow-up (alias expansion, range expansion) would run into the
        // spawn timeout; speed is bench/validate's business, not a test's.
        expect(r.error, `no answer in ${ms} ms`).toBeUndefined();
      },
      60_000,
    );
  }
});
