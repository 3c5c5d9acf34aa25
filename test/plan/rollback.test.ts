// Rollbacks in the plan: an image pinned to an earlier snapshot is a rollback, said
// as such on the image and on each node going back to it; a pin on the digest the
// nodes already run, or a plain content change, is no rollback.
import { describe, expect, it } from "vitest";
import { planChanges } from "../../src/plan/planner.js";
import { renderTerminal } from "../../src/plan/render/terminal.js";
import { cluster, digestOf, node } from "./fixtures.js";
import { applyAll } from "./scenario.js";

const nodes = [node(1), node(2)];
const c = cluster(nodes);
const state = applyAll(c, new Map([["compute", { digest: digestOf("v2"), size: 100 }]]));
const older = digestOf("v1");

describe("rollback wording", () => {
  it("a pinned earlier snapshot: 'rollback to 3f2a1c' on the image and on every node", () => {
    const plan = planChanges(c, state, { imageDigests: new Map([["compute", { digest: older, size: 90, pinned: true, createdAt: "2026-12-01T09:30:12.000Z" }]]) });
    const short = older.slice(7, 13);
    expect(plan.imageChanges[0]!.reasons.map((r) => r.message)).toEqual([`rollback to ${short} (snapshot of 2026-12-01 09:30 UTC)`, expect.stringMatching(/^content changed/)]);
    expect(plan.nodeChanges.map((n) => [n.node, n.kind, n.reasons.map((r) => r.code)])).toEqual([
      ["node001", "sync", ["image-changed", "image-rollback"]],
      ["node002", "sync", ["image-changed", "image-rollback"]],
    ]);
    const text = renderTerminal(plan, { color: false });
    expect(text).toContain(`~ compute  update  rollback to ${short} (snapshot of 2026-12-01 09:30 UTC): digest `);
    expect(text).toContain(
      `node[001-002]  ~ sync  image compute ${state.images.compute!.digest.slice(7, 13)} → ${short}; rollback to ${short} (snapshot of 2026-12-01 09:30 UTC)  (2 nodes)`,
    );
  });
  it("the same change without a pin is a content change, not a rollback", () => {
    const plan = planChanges(c, state, { imageDigests: new Map([["compute", { digest: older, size: 90 }]]) });
    expect(JSON.stringify(plan)).not.toContain("rollback");
  });
  it("a pin on what the nodes already run changes nothing", () => {
    const plan = planChanges(c, state, { imageDigests: new Map([["compute", { digest: digestOf("v2"), size: 100, pinned: true }]]) });
    expect(plan.imageChanges).toEqual([]);
    expect(plan.nodeChanges).toEqual([]);
  });
});
