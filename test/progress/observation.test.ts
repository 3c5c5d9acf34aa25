// Observations that arrive as JSON (the control socket, the provisioners' table) are
// checked field by field: a bad phase, a negative count or a non-string text rejects
// the whole observation; unknown fields are dropped.
import { describe, expect, it } from "vitest";
import { parseObservation, parseObservationBody } from "../../src/progress/observation.js";

describe("parseObservation", () => {
  it("keeps every known field of a good observation", () => {
    const o = { node: "n1", phase: "sync", bytes: 10, total: 20, percent: 50, message: "m", failed: "f", imageDigest: "sha256:a", layoutFingerprint: "sha256:b", requeue: "moved" };
    expect(parseObservation(o)).toEqual(o);
    expect(parseObservationBody({ phase: "up", extra: "dropped" })).toEqual({ phase: "up" });
  });

  it("rejects malformed ones", () => {
    expect(parseObservation({ phase: "up" })).toBeUndefined();
    expect(parseObservation({ node: "n1", phase: "failed:disks" })).toBeUndefined();
    expect(parseObservationBody({ bytes: -1 })).toBeUndefined();
    expect(parseObservationBody({ percent: Number.NaN })).toBeUndefined();
    expect(parseObservationBody({ message: 42 })).toBeUndefined();
    expect(parseObservationBody({ failed: "x".repeat(65537) })).toBeUndefined();
    expect(parseObservationBody(["phase", "up"])).toBeUndefined();
    expect(parseObservationBody(null)).toBeUndefined();
  });
});
