// A node that stopped short of UP is recorded as {phase, outcome}; state files written
// before the outcome field ("failed:disks", "interrupted:sync") read the same way.
import { describe, expect, it } from "vitest";
import { newState, parseState, serializeState } from "../../src/state/codec.js";
import { nodeRows, renderNodeState } from "../../src/state/describe.js";

function stateWith(reported: Record<string, unknown>): string {
  const s = newState("c", "lineage-1");
  return JSON.stringify({ ...s, nodes: { n1: { reported } } });
}

describe("recorded outcomes", () => {
  it("reads the old string form as phase and outcome", () => {
    const s = parseState(stateWith({ phase: "failed:disks", time: "2026-12-04T20:00:00Z" }), "state.json");
    expect(s.nodes.n1!.reported).toEqual({ phase: "disks", outcome: "failed", time: "2026-12-04T20:00:00Z" });
    const t = parseState(stateWith({ phase: "interrupted:switch-root", time: "2026-12-04T20:00:00Z" }), "state.json");
    expect(t.nodes.n1!.reported).toMatchObject({ phase: "switch-root", outcome: "interrupted" });
  });

  it("leaves ordinary phases and the new form alone, and writes the new form", () => {
    const up = parseState(stateWith({ phase: "up", time: "t", imageDigest: "sha256:ab" }), "state.json");
    expect(up.nodes.n1!.reported).toEqual({ phase: "up", time: "t", imageDigest: "sha256:ab" });
    const typed = parseState(stateWith({ phase: "sync", outcome: "failed", time: "t" }), "state.json");
    expect(typed.nodes.n1!.reported).toEqual({ phase: "sync", outcome: "failed", time: "t" });
    expect(JSON.parse(serializeState(typed)).nodes.n1.reported).toEqual({ phase: "sync", outcome: "failed", time: "t" });
  });

  it("refuses an outcome it does not know", () => {
    expect(() => parseState(stateWith({ phase: "sync", outcome: "exploded", time: "t" }), "state.json")).toThrow(/node "n1": report malformed/);
  });

  it("shows the outcome beside the phase", () => {
    const s = parseState(stateWith({ phase: "failed:power", time: "t" }), "state.json");
    expect(nodeRows(s)[0]!.phase).toBe("power (failed)");
    expect(renderNodeState("n1", s.nodes.n1!)).toContain("phase:        power (failed)");
  });
});
