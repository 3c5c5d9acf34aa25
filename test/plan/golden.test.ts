// Golden outputs of the three renderers for one plan that has every kind of change.
// Regenerate with UPDATE_GOLDEN=1 npx vitest run test/plan/golden.test.ts and review the diff.
import { describe, expect, it } from "vitest";
import { goldenDir } from "../helpers/golden.js";
import { planChanges } from "../../src/plan/planner.js";
import { renderTerminal } from "../../src/plan/render/terminal.js";
import { renderMarkdown } from "../../src/plan/render/markdown.js";
import { planToJson, renderJson } from "../../src/plan/json.js";
import { validatePlanJson } from "../../src/plan/schema.js";
import { mixedScenario } from "./scenario.js";
import { cluster, digests, node } from "./fixtures.js";
import { applyAll } from "./scenario.js";

const golden = goldenDir(new URL("./golden/", import.meta.url));

function mixedPlan() {
  const { state, desired, imageDigests } = mixedScenario();
  return planChanges(desired, state, { imageDigests, allowWipe: ["node011"] });
}

describe("renderers (golden)", () => {
  it("terminal, no colour", () => golden("mixed.txt", renderTerminal(mixedPlan(), { color: false })));
  it("terminal, colour", () => {
    const out = renderTerminal(mixedPlan(), { color: true });
    golden("mixed.ansi", out);
    expect(out).toContain("\u001b[1;31m-/+ reimage (wipes disks)\u001b[0m");
  });
  it("markdown", () => golden("mixed.md", renderMarkdown(mixedPlan())));
  it("json, valid against schemas/plan.schema.json", () => {
    const text = renderJson(mixedPlan());
    golden("mixed.json", text);
    expect(validatePlanJson(JSON.parse(text))).toEqual([]);
  });

  it("no changes", () => {
    const desired = cluster([node(1), node(2)]);
    const d = digests({ compute: "compute-v1" });
    const state = applyAll(desired, d);
    const plan = planChanges(desired, state, { imageDigests: d });
    const out = renderTerminal(plan, { color: false });
    expect(out).toBe("No changes. The cluster matches the configuration.\n");
    golden("nochange.md", renderMarkdown(plan));
    expect(validatePlanJson(planToJson(plan))).toEqual([]);
  });

  it("groups identical changes over a host range on one line", () => {
    const nodes = Array.from({ length: 128 }, (_, i) => node(i + 1));
    const state = applyAll(cluster(nodes), digests({ compute: "compute-v1" }));
    const plan = planChanges(cluster(nodes), state, { imageDigests: digests({ compute: "compute-v2" }) });
    const out = renderTerminal(plan, { color: false });
    const lines = out.split("\n").filter((l) => l.includes("~ sync"));
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^  node\[001-128\]  ~ sync  image compute [0-9a-f]{6} → [0-9a-f]{6}  \(128 nodes\)$/);
    expect(out.trimEnd().split("\n").at(-1)).toBe("Plan: 0 to install, 0 to reimage (wipes disks), 128 to sync, 0 to update, 0 to remove.");
  });

  it("the schema rejects what it should (strict validator is live)", () => {
    const doc = planToJson(mixedPlan()) as { node_changes: Array<Record<string, unknown>> };
    doc.node_changes[0]!.actions = ["destroy"];
    expect(validatePlanJson(doc).join("\n")).toMatch(/node_changes\/0\/actions\/0/);
    const doc2 = planToJson(mixedPlan());
    doc2.extra = 1;
    expect(validatePlanJson(doc2).length).toBeGreaterThan(0);
  });
});
