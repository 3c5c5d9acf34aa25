// Property: whatever the configuration and the state, recording every change of a
// plan into the state (what apply does) and planning again yields no changes.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { InstallMode, Node } from "../../src/config/types.js";
import { layoutDigest } from "../../src/plan/layout.js";
import { planChanges } from "../../src/plan/planner.js";
import { recordApplied } from "../../src/plan/record.js";
import { newState } from "../../src/state/codec.js";
import type { ClusterState } from "../../src/state/types.js";
import { cluster, digestOf, image, layout, node } from "./fixtures.js";

const IMAGES = ["compute", "gpu", "login"];
const LAYOUTS = [layout("std"), layout("big", "xfs", 8), { ...layout("std"), name: "alias" }];

const arbNode = fc
  .record({
    i: fc.integer({ min: 1, max: 12 }),
    image: fc.constantFrom(...IMAGES),
    diskLayout: fc.constantFrom("std", "big", "alias"),
    installMode: fc.constantFrom<InstallMode>("auto", "full", "nosync", "skip"),
    boot: fc.constantFrom<"pxe" | "local">("pxe", "local"),
    kernelArgs: fc.subarray(["quiet", "console=ttyS0", "nomodeset"]),
    protect: fc.boolean(),
    ipTweak: fc.boolean(),
    bmc: fc.constantFrom("env", "file", "none"),
  })
  .map((r): Node =>
    node(r.i, {
      image: r.image,
      diskLayout: r.diskLayout,
      installMode: r.installMode,
      boot: r.boot,
      kernelArgs: r.kernelArgs,
      protect: r.protect,
      ...(r.ipTweak ? { ip: `10.9.0.${r.i}` } : {}),
      bmc:
        r.bmc === "none"
          ? undefined
          : { driver: "ipmi", address: `10.1.0.${r.i}`, port: 623, password: r.bmc === "env" ? { kind: "env", name: "P" } : { kind: "file", path: "/p" } },
    }),
  );

const uniqueNodes = fc.uniqueArray(arbNode, { selector: (n) => n.name, maxLength: 10 });
const arbDigests = fc.record({ compute: fc.constantFrom("c1", "c2"), gpu: fc.constantFrom("g1", "g2"), login: fc.constantFrom("l1", "l2") });
const arbReport = fc.option(
  fc.record({
    image: fc.option(fc.constantFrom("c1", "c2", "g1", "rogue"), { nil: undefined }),
    layout: fc.option(fc.constantFrom("std", "big", "odd"), { nil: undefined }),
    phase: fc.constantFrom("up", "installing", "failed"),
  }),
  { nil: undefined },
);

function toDigests(d: Record<string, string>) {
  return new Map(Object.entries(d).map(([k, v]) => [k, { digest: digestOf(v), size: v.length * 1000 }]));
}

function recordAll(state: ClusterState, desired: ReturnType<typeof cluster>, plan: ReturnType<typeof planChanges>) {
  for (const c of plan.imageChanges) recordApplied(state, c, desired);
  for (const c of plan.nodeChanges) recordApplied(state, c, desired);
}

describe("property: record then re-plan", () => {
  it("yields no changes", () => {
    fc.assert(
      fc.property(uniqueNodes, arbDigests, uniqueNodes, arbDigests, fc.array(arbReport, { minLength: 12, maxLength: 12 }), (oldNodes, oldD, newNodes, newD, reports) => {
        const images = IMAGES.map((n) => image(n));
        // A state made from some earlier configuration, with whatever the nodes reported since.
        const earlier = cluster(oldNodes, { images, layouts: LAYOUTS });
        const state = newState("lab");
        const allow = { allowWipe: ["node[001-012]"] };
        recordAll(state, earlier, planChanges(earlier, state, { imageDigests: toDigests(oldD), ...allow }));
        for (const [i, r] of reports.entries()) {
          const st = state.nodes[node(i + 1).name];
          if (!st || !r) continue;
          st.reported = {
            phase: r.phase,
            time: "2026-11-24T20:00:00Z",
            ...(r.image ? { imageDigest: digestOf(r.image) } : {}),
            ...(r.layout ? { layoutFingerprint: LAYOUTS.find((l) => l.name === r.layout) ? planLayoutDigest(r.layout) : digestOf(r.layout) } : {}),
          };
        }
        const desired = cluster(newNodes, { images, layouts: LAYOUTS });
        const digests = toDigests(newD);
        const plan = planChanges(desired, state, { imageDigests: digests, ...allow });
        recordAll(state, desired, plan);
        const again = planChanges(desired, state, { imageDigests: digests, ...allow });
        expect(again.nodeChanges).toEqual([]);
        expect(again.imageChanges).toEqual([]);
        expect(again.summary).toEqual({ install: 0, reimage: 0, sync: 0, update: 0, remove: 0 });
        expect(again.unchanged.nodes).toBe(newNodes.length);
      }),
      { numRuns: 300 },
    );
  });
});

function planLayoutDigest(name: string): string {
  return layoutDigest(LAYOUTS.find((l) => l.name === name)!);
}
