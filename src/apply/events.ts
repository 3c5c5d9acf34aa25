// Events of an apply: what renderers (listr2, plain lines, JSON lines) show and
// what `apply --json` emits, one JSON object a line. Documented by
// schemas/events.schema.json.
import type { NodeChangeKind } from "../plan/types.js";
import type { NodeOutcome } from "../progress/outcome.js";
import type { Phase } from "../progress/phases.js";
import type { ApplySummary } from "./results.js";

export const EVENTS_FORMAT_VERSION = "1.0";

interface Base {
  /** ISO 8601 */
  time: string;
}

export type ApplyEvent =
  | (Base & { type: "version"; format_version: string; metalform_version: string })
  | (Base & { type: "planned_change"; node: string; change: NodeChangeKind; actions: string[]; wipes_disks: boolean; reasons: string[] })
  | (Base & { type: "apply_start"; nodes: number; parallelism: number; canary: number })
  | (Base & { type: "node_phase"; node: string; change: NodeChangeKind; phase: Phase; attempt: number; message?: string })
  | (Base & {
      type: "node_progress";
      node: string;
      phase: Phase;
      bytes: number;
      total?: number;
      percent?: number;
      rate_bytes_per_s?: number;
      eta_s?: number;
    })
  | (Base & { type: "node_complete"; node: string; change: NodeChangeKind; elapsed_s: number; bytes?: number; image_digest?: string })
  | (Base & {
      type: "node_errored";
      node: string;
      change: NodeChangeKind;
      phase: Phase;
      error: string;
      attempt: number;
      final: boolean;
      /** On final errors: how the node ended (failed, never started, or no longer waited for). */
      outcome?: Exclude<NodeOutcome, "succeeded">;
    })
  | (Base & { type: "node_message"; node: string; message: string })
  | (Base & ApplySummary & { type: "change_summary"; interrupted: boolean });

export type ApplyEventType = ApplyEvent["type"];

export type EventSink = (e: ApplyEvent) => void;

/** Distributive Omit: keeps each member of the union intact. */
export type WithoutTime<T> = T extends unknown ? Omit<T, "time"> : never;
