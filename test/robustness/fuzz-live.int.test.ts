// The live DHCP and TFTP servers under mutated packets, briefly: bench/fuzz/run.mjs with
// a short count (the million-packet run is the benchmark). Needs root: run.mjs puts the
// servers in a network namespace of their own. The codec properties are fuzz.test.ts.
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";

const ROOT = new URL("../../", import.meta.url).pathname;

describe("live servers under mutated packets (short run of bench/fuzz)", () => {
  it("20,000 packets per protocol: no crash, no handler error, still answering, bounded memory", () => {
    if (!existsSync(join(ROOT, "dist/services/dhcp/server.js"))) throw new Error("dist/ is not built: run `npm run build`");
    const r = spawnSync(process.execPath, [join(ROOT, "bench/fuzz/run.mjs"), "--packets", "20000", "--json"], {
      encoding: "utf8",
      timeout: 120_000,
    });
    const line = r.stdout.split("\n").find((l) => l.startsWith("{"));
    expect(line, `no result; stderr:\n${r.stderr}`).toBeDefined();
    const { seed, results } = JSON.parse(line!) as { seed: number; results: Array<Record<string, unknown>> };
    expect(results.map((x) => x.proto)).toEqual(["dhcp", "tftp"]);
    for (const x of results) {
      const why = `seed ${seed}: ${JSON.stringify(x)}`;
      expect(x.sent, why).toBe(20000);
      expect(x.crashes, why).toBe(0);
      expect(x.handlerErrors, why).toBe(0);
      expect(x.answersAfter, why).toBe(true);
      expect(x.rssGrowthOk, why).toBe(true);
    }
    // The DHCP server really parsed the traffic (not dropped by a full socket).
    expect(Number((results[0]!.serverStats as { received: number }).received)).toBeGreaterThan(15000);
    expect(r.status).toBe(0);
  }, 150_000);
});
