import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { planChanges } from "../../src/plan/planner.js";
import { checkPlanFresh, PlanFileError, readPlanFile, writePlanFile } from "../../src/plan/saved.js";
import { renderTerminal } from "../../src/plan/render/terminal.js";
import { renderMarkdown } from "../../src/plan/render/markdown.js";
import { newState } from "../../src/state/codec.js";
import { mixedScenario } from "./scenario.js";
import { digestOf } from "./fixtures.js";

const dir = mkdtempSync(join(tmpdir(), "mf-saved-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function saved() {
  const { state, desired, imageDigests } = mixedScenario();
  return { state, desired, plan: planChanges(desired, state, { imageDigests, allowWipe: ["node011"] }) };
}

describe("saved plans", () => {
  it("round-trips through the file: mode 0600, same rendering, created_at set", async () => {
    const { plan } = saved();
    const file = join(dir, "a.plan");
    const written = await writePlanFile(file, plan, new Date("2026-11-24T21:00:00Z"));
    expect(statSync(file).mode & 0o777).toBe(0o600);
    const back = await readPlanFile(file);
    expect(back).toEqual(written);
    expect(back.createdAt).toBe("2026-11-24T21:00:00.000Z");
    expect(renderTerminal(back, { color: false })).toBe(renderTerminal(plan, { color: false }));
    expect(renderMarkdown(back)).toBe(renderMarkdown(plan));
  });

  it("records every change, the configuration digest and the state's lineage and serial", async () => {
    const { plan, state, desired } = saved();
    const file = join(dir, "b.plan");
    await writePlanFile(file, plan);
    const doc = JSON.parse(readFileSync(file, "utf8"));
    expect(doc.config_digest).toBe(desired.digest);
    expect(doc.state).toEqual({ lineage: state.lineage, serial: state.serial });
    expect(doc.node_changes.map((c: { node: string }) => c.node)).toEqual(plan.nodeChanges.map((c) => c.node));
    expect(doc.node_changes.filter((c: { actions: string[] }) => c.actions.includes("delete")).map((c: { node: string }) => c.node)).toEqual(["node003", "node011", "node013"]);
  });

  it("is fresh when nothing moved on", () => {
    const { plan, state, desired } = saved();
    expect(checkPlanFresh(plan, state, desired.digest)).toEqual({ fresh: true, problems: [] });
  });

  it("is stale when the serial moved", () => {
    const { plan, state, desired } = saved();
    const f = checkPlanFresh(plan, { ...state, serial: state.serial + 1 }, desired.digest);
    expect(f.fresh).toBe(false);
    expect(f.problems.map((p) => p.code)).toEqual(["serial-moved"]);
    expect(f.problems[0]!.message).toBe(`the state moved on: serial ${state.serial} when the plan was made, ${state.serial + 1} now (something was applied or changed since)`);
  });

  it("is stale when the lineage differs", () => {
    const { plan, state, desired } = saved();
    const f = checkPlanFresh(plan, { ...state, lineage: "00000000-0000-4000-8000-000000000000" }, desired.digest);
    expect(f.problems.map((p) => p.code)).toEqual(["lineage-differs"]);
    expect(f.problems[0]!.message).toContain(state.lineage);
  });

  it("is stale when the configuration was edited (and says both problems at once)", () => {
    const { plan, state } = saved();
    const f = checkPlanFresh(plan, { ...state, serial: 9 }, digestOf("edited"));
    expect(f.problems.map((p) => p.code)).toEqual(["serial-moved", "config-edited"]);
    expect(f.problems[1]!.message).toMatch(/^the configuration was edited: digest [0-9a-f]{6} when the plan was made, [0-9a-f]{6} now$/);
  });

  it("is stale when a state appeared after a plan made without one, or vanished", () => {
    const { desired } = saved();
    const { plan } = saved();
    const noState = { ...plan, state: { lineage: null, serial: 0 } };
    expect(checkPlanFresh(noState, undefined, plan.configDigest).fresh).toBe(true);
    expect(checkPlanFresh(noState, newState("lab"), plan.configDigest).problems.map((p) => p.code)).toEqual(["state-created"]);
    expect(checkPlanFresh(plan, undefined, desired.digest).problems.map((p) => p.code)).toEqual(["state-missing"]);
  });

  it("refuses files that are not plans, damaged plans and plans of a newer format", async () => {
    const bad = join(dir, "bad.plan");
    writeFileSync(bad, "{ not json");
    await expect(readPlanFile(bad)).rejects.toThrow(PlanFileError);
    await expect(readPlanFile(bad)).rejects.toThrow(/is not a metalform plan file/);
    const { plan } = saved();
    const file = join(dir, "c.plan");
    await writePlanFile(file, plan);
    const doc = JSON.parse(readFileSync(file, "utf8"));
    doc.node_changes[0].actions = ["explode"];
    writeFileSync(file, JSON.stringify(doc));
    await expect(readPlanFile(file)).rejects.toThrow(/not a valid plan file:\n {2}\/node_changes\/0\/actions\/0/);
    doc.format_version = "2.0";
    writeFileSync(file, JSON.stringify(doc));
    await expect(readPlanFile(file)).rejects.toThrow(/format 2\.0; this metalform reads format 1\.0/);
    await expect(readPlanFile(join(dir, "missing.plan"))).rejects.toThrow(/cannot read plan file/);
  });
});
