// What an apply did, node by node, and the one-line summary people read at the end.
import type { NodeChangeKind } from "../plan/types.js";
import type { NodeOutcome } from "../progress/outcome.js";
import type { Phase } from "../progress/phases.js";
import type { ClusterState } from "../state/types.js";

export interface NodeResult {
  node: string;
  change: NodeChangeKind;
  outcome: NodeOutcome;
  phase: Phase;
  attempts: number;
  elapsedMs: number;
  error?: string;
  bytes?: number;
}

export interface ApplySummary {
  installed: number;
  reimaged: number;
  synced: number;
  updated: number;
  removed: number;
  failed: number;
  skipped: number;
}

export interface ApplyResult {
  results: NodeResult[];
  state: ClusterState;
  interrupted: boolean;
  summary: ApplySummary;
}

const PAST: Record<NodeChangeKind, "installed" | "reimaged" | "synced" | "updated" | "removed"> = {
  install: "installed",
  reimage: "reimaged",
  sync: "synced",
  update: "updated",
  remove: "removed",
};

/** Counts per change kind of the nodes that succeeded; failed (and interrupted) and skipped apart. */
export function summarize(results: readonly NodeResult[]): ApplySummary {
  const summary: ApplySummary = { installed: 0, reimaged: 0, synced: 0, updated: 0, removed: 0, failed: 0, skipped: 0 };
  for (const r of results) {
    if (r.outcome === "succeeded") summary[PAST[r.change]]++;
    else if (r.outcome === "skipped") summary.skipped++;
    else summary.failed++;
  }
  return summary;
}

export function summaryLine(s: ApplySummary, opts: { interrupted?: boolean } = {}): string {
  const parts: string[] = [];
  for (const k of ["installed", "reimaged", "synced", "updated", "removed"] as const) if (s[k]) parts.push(`${s[k]} ${k}`);
  if (!parts.length) parts.push("0 changed");
  parts.push(`${s.failed} failed`);
  if (s.skipped) parts.push(`${s.skipped} skipped`);
  return `${opts.interrupted ? "Apply interrupted" : "Apply complete"}: ${parts.join(", ")}.`;
}
