// Waiting for one node to come UP during one attempt: every report re-arms the
// phase's timer (a timeout is the longest silence within a phase), a reported
// failure or a failed trigger ends the attempt, an interruption ends the wait.
import type { NodeChange } from "../plan/types.js";
import type { Observation } from "../progress/observation.js";
import type { Phase } from "../progress/phases.js";
import { Interrupted, NodeFailure, Requeued } from "./node-driver.js";

/** The executor's record of a node being worked on. */
export interface Running {
  change: NodeChange;
  phase: Phase;
  bytes: number;
  attempt: number;
  imageDigest?: string;
  layoutFingerprint?: string;
  /** First progress report of the phase, for rate and ETA. */
  progressStart?: { t: number; bytes: number };
  /** A failure reported while nobody was waiting yet. */
  failed?: string;
  /** Called on every observation; set while a node is being waited for. */
  wake?: (o: Observation) => void;
}

export interface WaitContext {
  /** The timeout of a phase for this change (ms; Infinity: none). */
  timeout: (change: NodeChange, phase: Phase) => number;
  interruptSignal?: AbortSignal;
  /** Everyone waiting is told once when the apply stops waiting. */
  onInterrupt: Set<() => void>;
}

/**
 * Resolves when the node is UP; rejects on failure, timeout, interruption, or
 * when the trigger (running alongside) fails.
 */
export function waitUntilUp(r: Running, triggered: Promise<void>, ctx: WaitContext): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    let timer: NodeJS.Timeout | undefined;
    let settled = false;
    const done = (err?: Error) => {
      if (settled) return;
      settled = true;
      if (timer) clearTimeout(timer);
      r.wake = undefined;
      ctx.onInterrupt.delete(onInterrupt);
      if (err) reject(err);
      else resolve();
    };
    const arm = () => {
      if (timer) clearTimeout(timer);
      const ms = ctx.timeout(r.change, r.phase);
      if (!Number.isFinite(ms)) return;
      timer = setTimeout(() => done(new NodeFailure(`no progress in phase "${r.phase}" for ${formatSeconds(ms)} (attempt ${r.attempt})`, { retryable: true })), ms);
    };
    const onInterrupt = () => done(new Interrupted(`the apply stopped waiting in phase "${r.phase}"`));
    // A trigger that fails (BMC refused) fails the attempt; one that succeeds changes nothing here.
    triggered.then(undefined, (e: unknown) => done(e instanceof Error ? e : new Error(String(e))));
    if (ctx.interruptSignal?.aborted) return onInterrupt();
    if (r.failed) return done(new NodeFailure(r.failed, { retryable: false }));
    if (r.phase === "up") return done();
    ctx.onInterrupt.add(onInterrupt);
    r.wake = (o) => {
      if (o.failed) return done(new NodeFailure(o.failed, { retryable: false }));
      if (o.requeue) return done(new Requeued(o.requeue));
      if (r.phase === "up") return done();
      arm();
    };
    arm();
  });
}

function formatSeconds(ms: number): string {
  return ms >= 1000 ? `${Math.round(ms / 1000)} s` : `${ms} ms`;
}

/** The node_progress fields for a byte count: percent, and rate and ETA over the phase so far. */
export function progressOf(r: Running, o: Observation & { bytes: number }, now: number): { percent?: number; rate?: number; eta?: number } {
  const percent = o.percent ?? (o.total ? Math.min(100, Math.round((o.bytes / o.total) * 1000) / 10) : undefined);
  r.progressStart ??= { t: now, bytes: o.bytes };
  const secs = (now - r.progressStart.t) / 1000;
  const rate = secs > 0.5 ? (o.bytes - r.progressStart.bytes) / secs : undefined;
  const eta = rate && percent !== undefined && percent > 0 && percent < 100 ? (secs * (100 - percent)) / percent : undefined;
  return { ...(percent !== undefined ? { percent } : {}), ...(rate !== undefined ? { rate } : {}), ...(eta !== undefined ? { eta } : {}) };
}
