// How the work on a node ended: the apply's result per node, the final error events
// (schemas/events.schema.json `outcome`) and what the state records when a node
// stopped short of UP. Typed values, so no part tells them apart by an error's text.

export type NodeOutcome = "succeeded" | "failed" | "skipped" | "interrupted";

/** Recorded in the state beside the phase a node stopped in (state `reported.outcome`). */
export type StoppedOutcome = "failed" | "interrupted";

export const STOPPED_OUTCOMES: readonly StoppedOutcome[] = ["failed", "interrupted"];

export function isStoppedOutcome(s: unknown): s is StoppedOutcome {
  return typeof s === "string" && (STOPPED_OUTCOMES as readonly string[]).includes(s);
}
