// The executor: carries out a plan's node changes with bounded parallelism, an
// optional canary group, per-phase timeouts and bounded retries, and writes the
// state after every node that finishes, so an interrupted apply loses nothing that
// was done. It knows nothing of sockets or BMCs: a NodeDriver boots nodes and the
// caller feeds what nodes report through `observe`.
import type { DesiredCluster } from "../config/types.js";
import { pruneLayouts, recordApplied } from "../plan/record.js";
import type { ImageChange, NodeChange, NodeChangeKind, Plan } from "../plan/types.js";
import type { StateStore } from "../state/store.js";
import type { ClusterState } from "../state/types.js";
import type { ApplyEvent, EventSink, WithoutTime } from "./events.js";
import { DEFAULT_PHASE_TIMEOUTS, phaseIndex, type Phase } from "./phases.js";

/** What the executor needs from the world to move one node. */
export interface NodeDriver {
  /** Point the services at the installer for this node (boot script, reservation). */
  begin(change: NodeChange): Promise<void>;
  /**
   * Make the node network-boot: power-cycle it through its BMC, or ask a person.
   * Runs while the "power" phase timer runs; `signal` aborts when the executor
   * stops waiting (timeout, interruption, or the node already showed up), so a
   * trigger that waits for a person must give up then.
   */
  trigger(change: NodeChange, attempt: number, signal: AbortSignal): Promise<void>;
  /** The node finished (ok or not): restore its normal boot configuration. */
  end(change: NodeChange, ok: boolean): Promise<void>;
  /** In-place update: new boot script, reservation, kernel arguments. No reboot. */
  update(change: NodeChange): Promise<void>;
  /** Remove: take the reservation and boot files away. Disks are never touched. */
  remove(change: NodeChange): Promise<void>;
  /**
   * This driver's own default for a phase's timeout (e.g. a person needs longer
   * than a BMC to power-cycle a node); undefined: the executor's default. A
   * timeout the operator gave (ApplyOptions.phaseTimeouts) always wins.
   */
  phaseTimeout?(change: NodeChange, phase: Phase): number | undefined;
}

/** What a node (or a service on its behalf) reported. */
export interface Observation {
  phase?: Phase;
  /** Bytes so far in the current phase (sync) and the total when known. */
  bytes?: number;
  total?: number;
  /** Progress of the current phase when the node knows it better than bytes/total. */
  percent?: number;
  /** The installer reported a failure: no retry will help. */
  failed?: string;
  message?: string;
  imageDigest?: string;
  layoutFingerprint?: string;
  /**
   * The node's install moved (its provisioner died): boot it again from the start.
   * Does not count against the retries; the text says what happened.
   */
  requeue?: string;
}

export interface ApplyOptions {
  parallelism: number;
  /** This many nodes must succeed before the others start (0: none). */
  canary: number;
  /** Extra boot attempts after a timeout (power-cycle again). */
  retries: number;
  phaseTimeouts?: Partial<Record<Phase, number>>;
  /** First abort: start no new nodes. */
  stopSignal?: AbortSignal;
  /** Second abort: stop waiting for running nodes; they are marked interrupted. */
  interruptSignal?: AbortSignal;
  now?: () => Date;
}

export type NodeOutcome = "succeeded" | "failed" | "skipped" | "interrupted";

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

export interface ApplyResult {
  results: NodeResult[];
  state: ClusterState;
  interrupted: boolean;
  summary: { installed: number; reimaged: number; synced: number; updated: number; removed: number; failed: number; skipped: number };
}

class NodeFailure extends Error {
  constructor(
    message: string,
    readonly retryable: boolean,
  ) {
    super(message);
  }
}

interface Running {
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

/** Error texts the renderers tell apart from failures. */
export const SKIPPED = "skipped";
export const INTERRUPTED = "interrupted";
const NOT_STARTED = "apply interrupted before this node started";

const PAST: Record<NodeChangeKind, string> = { install: "installed", reimage: "reimaged", sync: "synced", update: "updated", remove: "removed" };

export function summaryLine(s: ApplyResult["summary"], interrupted = false): string {
  const parts: string[] = [];
  for (const k of ["installed", "reimaged", "synced", "updated", "removed"] as const) if (s[k]) parts.push(`${s[k]} ${k}`);
  if (!parts.length) parts.push("0 changed");
  parts.push(`${s.failed} failed`);
  if (s.skipped) parts.push(`${s.skipped} skipped`);
  return `${interrupted ? "Apply interrupted" : "Apply complete"}: ${parts.join(", ")}.`;
}

export class Executor {
  private readonly running = new Map<string, Running>();
  /** Timeouts the operator gave; the rest come from the driver or the defaults. */
  private readonly explicitTimeouts: Partial<Record<Phase, number>>;
  /** Everyone waiting for a running node, told once when the apply stops waiting. */
  private readonly onInterrupt = new Set<() => void>();
  private stateChain: Promise<unknown> = Promise.resolve();
  private state: ClusterState;
  private serial: number;

  constructor(
    private readonly plan: Plan,
    private readonly desired: DesiredCluster,
    private readonly store: StateStore,
    initialState: ClusterState,
    private readonly driver: NodeDriver,
    private readonly emitSink: EventSink,
    private readonly opts: ApplyOptions,
  ) {
    this.state = initialState;
    this.serial = initialState.serial;
    this.explicitTimeouts = { ...opts.phaseTimeouts };
    // One listener on the caller's signal, however many nodes wait.
    opts.interruptSignal?.addEventListener("abort", () => {
      for (const f of [...this.onInterrupt]) f();
    }, { once: true });
  }

  private timeout(change: NodeChange, phase: Phase): number {
    return this.explicitTimeouts[phase] ?? this.driver.phaseTimeout?.(change, phase) ?? DEFAULT_PHASE_TIMEOUTS[phase];
  }

  private emit(e: WithoutTime<ApplyEvent>): void {
    this.emitSink({ ...e, time: (this.opts.now?.() ?? new Date()).toISOString() } as ApplyEvent);
  }

  /** Feed what a node reported. Unknown or finished nodes are ignored. */
  observe(node: string, o: Observation): void {
    const r = this.running.get(node);
    if (!r) return;
    if (o.imageDigest) r.imageDigest = o.imageDigest;
    if (o.failed) r.failed = o.failed;
    if (o.layoutFingerprint) r.layoutFingerprint = o.layoutFingerprint;
    if (o.phase && o.phase !== r.phase && phaseIndex(o.phase) >= phaseIndex(r.phase)) {
      r.phase = o.phase;
      this.emit({ type: "node_phase", node, change: r.change.kind, phase: o.phase, attempt: r.attempt, ...(o.message ? { message: o.message } : {}) });
    } else if (o.message && !o.bytes) {
      this.emit({ type: "node_message", node, message: o.message });
    }
    if (o.bytes !== undefined) {
      r.bytes = o.bytes;
      const now = Date.now();
      const percent = o.percent ?? (o.total ? Math.min(100, Math.round((o.bytes / o.total) * 1000) / 10) : undefined);
      // Rate over the phase so far; ETA from the rate and the percent left.
      r.progressStart ??= { t: now, bytes: o.bytes };
      const secs = (now - r.progressStart.t) / 1000;
      const rate = secs > 0.5 ? (o.bytes - r.progressStart.bytes) / secs : undefined;
      const eta = rate && percent !== undefined && percent > 0 && percent < 100 ? (secs * (100 - percent)) / percent : undefined;
      this.emit({
        type: "node_progress",
        node,
        phase: r.phase,
        bytes: o.bytes,
        ...(o.total ? { total: o.total } : {}),
        ...(percent !== undefined ? { percent } : {}),
        ...(rate !== undefined ? { rate_bytes_per_s: Math.round(rate) } : {}),
        ...(eta !== undefined ? { eta_s: Math.round(eta) } : {}),
      });
    }
    r.wake?.(o);
  }

  /** Nodes currently being worked on (for services that map MAC/IP to node). */
  isRunning(node: string): boolean {
    return this.running.has(node);
  }

  async run(): Promise<ApplyResult> {
    const changes = [...this.plan.nodeChanges];
    const results: NodeResult[] = [];
    this.emit({ type: "version", format_version: "1.0", metalform_version: this.plan.metalformVersion });
    for (const c of changes) {
      this.emit({
        type: "planned_change",
        node: c.node,
        change: c.kind,
        actions: c.actions,
        wipes_disks: c.wipesDisks,
        reasons: c.reasons.map((r) => r.message),
      });
    }
    this.emit({ type: "apply_start", nodes: changes.length, parallelism: this.opts.parallelism, canary: this.opts.canary });

    // Images first: the services serve the new trees from now on.
    await this.recordImages(this.plan.imageChanges);

    const immediate = changes.filter((c) => c.kind === "remove" || c.kind === "update");
    const booted = changes.filter((c) => c.kind !== "remove" && c.kind !== "update");
    for (const c of immediate) {
      if (this.opts.stopSignal?.aborted) {
        results.push(this.skip(c, NOT_STARTED));
        continue;
      }
      results.push(await this.runImmediate(c));
    }
    const canary = booted.slice(0, Math.min(this.opts.canary, booted.length));
    const rest = booted.slice(canary.length);
    const canaryResults = await this.pool(canary);
    results.push(...canaryResults);
    if (canaryResults.some((r) => r.outcome !== "succeeded")) {
      const why = this.opts.stopSignal?.aborted ? NOT_STARTED : "canary nodes failed";
      for (const c of rest) results.push(this.skip(c, why));
    } else {
      results.push(...(await this.pool(rest)));
    }
    await this.stateChain;
    const summary = { installed: 0, reimaged: 0, synced: 0, updated: 0, removed: 0, failed: 0, skipped: 0 };
    for (const r of results) {
      if (r.outcome === "succeeded") summary[PAST[r.change] as keyof typeof summary]++;
      else if (r.outcome === "skipped") summary.skipped++;
      else summary.failed++;
    }
    const interrupted = Boolean(this.opts.stopSignal?.aborted);
    this.emit({ type: "change_summary", ...summary, interrupted });
    return { results, state: this.state, interrupted, summary };
  }

  /** A change never started; said as a final error at attempt 0 (the renderers call it skipped). */
  private skip(c: NodeChange, why: string): NodeResult {
    this.emit({ type: "node_errored", node: c.node, change: c.kind, phase: "queued", error: `${SKIPPED}: ${why}`, attempt: 0, final: true, outcome: "skipped" });
    return { node: c.node, change: c.kind, outcome: "skipped", phase: "queued", attempts: 0, elapsedMs: 0, error: why };
  }

  private async recordImages(changes: ImageChange[]): Promise<void> {
    if (!changes.length) return;
    await this.commit((s) => {
      for (const c of changes) recordApplied(s, c, this.desired);
    });
  }

  /** Serializes state writes; each one is the successor of the previous. */
  private commit(mutate: (s: ClusterState) => void): Promise<void> {
    const next = this.stateChain.then(async () => {
      mutate(this.state);
      pruneLayouts(this.state);
      this.state = await this.store.write(this.state, this.serial);
      this.serial = this.state.serial;
    });
    // A failed write must not stop later ones from trying; the error surfaces to the node that caused it.
    this.stateChain = next.catch(() => undefined);
    return next;
  }

  private async runImmediate(c: NodeChange): Promise<NodeResult> {
    const t0 = Date.now();
    try {
      if (c.kind === "remove") await this.driver.remove(c);
      else await this.driver.update(c);
      await this.commit((s) => recordApplied(s, c, this.desired, { now: new Date().toISOString() }));
      this.emit({ type: "node_complete", node: c.node, change: c.kind, elapsed_s: (Date.now() - t0) / 1000 });
      return { node: c.node, change: c.kind, outcome: "succeeded", phase: "up", attempts: 1, elapsedMs: Date.now() - t0 };
    } catch (e) {
      const error = (e as Error).message;
      this.emit({ type: "node_errored", node: c.node, change: c.kind, phase: "queued", error, attempt: 1, final: true, outcome: "failed" });
      return { node: c.node, change: c.kind, outcome: "failed", phase: "queued", attempts: 1, elapsedMs: Date.now() - t0, error };
    }
  }

  /** Runs changes with at most `parallelism` at once; stops starting new ones on stop. */
  private async pool(changes: NodeChange[]): Promise<NodeResult[]> {
    const results: NodeResult[] = new Array(changes.length);
    let next = 0;
    const worker = async () => {
      for (;;) {
        const i = next++;
        if (i >= changes.length) return;
        const c = changes[i]!;
        if (this.opts.stopSignal?.aborted) {
          results[i] = this.skip(c, NOT_STARTED);
          continue;
        }
        results[i] = await this.runNode(c);
      }
    };
    const n = Math.max(1, Math.min(this.opts.parallelism, changes.length));
    await Promise.all(Array.from({ length: n }, worker));
    return results;
  }

  private async runNode(c: NodeChange): Promise<NodeResult> {
    const t0 = Date.now();
    const r: Running = { change: c, phase: "queued", bytes: 0, attempt: 0 };
    this.running.set(c.node, r);
    let error: string | undefined;
    let outcome: NodeOutcome = "failed";
    try {
      await this.driver.begin(c);
      let maxAttempts = 1 + Math.max(0, this.opts.retries);
      for (;;) {
        r.attempt++;
        r.phase = "power";
        delete r.failed;
        this.emit({ type: "node_phase", node: c.node, change: c.kind, phase: "power", attempt: r.attempt });
        // The trigger runs under the power phase's timer: a person who never
        // power-cycles the node counts as a node that never boots.
        const stopTrigger = new AbortController();
        try {
          const triggered = this.driver.trigger(c, r.attempt, stopTrigger.signal);
          await this.waitUntilUp(r, triggered);
          outcome = "succeeded";
          // An earlier attempt's error is history now (the attempt count tells of it).
          error = undefined;
          break;
        } catch (e) {
          if (e instanceof Requeued && !this.opts.interruptSignal?.aborted) {
            // Moved, not failed: the attempt starts over on the new provisioner.
            maxAttempts++;
            continue;
          }
          if (e instanceof Interrupted) {
            outcome = "interrupted";
            error = e.message;
            this.emit({ type: "node_errored", node: c.node, change: c.kind, phase: r.phase, error, attempt: r.attempt, final: true, outcome: "interrupted" });
            break;
          }
          const retryable = e instanceof NodeFailure ? e.retryable : false;
          const final = !retryable || r.attempt >= maxAttempts || Boolean(this.opts.stopSignal?.aborted);
          error = (e as Error).message;
          this.emit({ type: "node_errored", node: c.node, change: c.kind, phase: r.phase, error, attempt: r.attempt, final, ...(final ? { outcome: "failed" as const } : {}) });
          if (final) break;
        } finally {
          stopTrigger.abort();
        }
      }
    } catch (e) {
      error = (e as Error).message;
      this.emit({ type: "node_errored", node: c.node, change: c.kind, phase: r.phase, error, attempt: r.attempt, final: true, outcome: "failed" });
    } finally {
      this.running.delete(c.node);
    }
    const ok = outcome === "succeeded";
    try {
      await this.driver.end(c, ok);
    } catch (e) {
      if (ok) {
        outcome = "failed";
        error = `could not restore the boot configuration: ${(e as Error).message}`;
      }
    }
    const elapsedMs = Date.now() - t0;
    if (outcome === "succeeded") {
      const now = new Date().toISOString();
      try {
        await this.commit((s) => {
          recordApplied(s, c, this.desired, { now });
          const entry = s.nodes[c.node];
          if (entry) {
            entry.reported = {
              phase: "up",
              time: now,
              ...(r.imageDigest ? { imageDigest: r.imageDigest } : {}),
              ...(r.layoutFingerprint ? { layoutFingerprint: r.layoutFingerprint } : {}),
            };
          }
        });
        this.emit({
          type: "node_complete",
          node: c.node,
          change: c.kind,
          elapsed_s: Math.round(elapsedMs / 100) / 10,
          ...(r.bytes ? { bytes: r.bytes } : {}),
          ...(r.imageDigest ? { image_digest: r.imageDigest } : {}),
        });
      } catch (e) {
        outcome = "failed";
        error = `installed, but the state could not be written: ${(e as Error).message}`;
        this.emit({ type: "node_errored", node: c.node, change: c.kind, phase: "up", error, attempt: r.attempt, final: true, outcome: "failed" });
      }
    } else {
      // Record where the node stopped, so `state show` says so.
      const mark = `${outcome === "interrupted" ? "interrupted" : "failed"}:${r.phase}`;
      await this.commit((s) => {
        const entry = (s.nodes[c.node] ??= {});
        entry.reported = { ...entry.reported, phase: mark, time: new Date().toISOString() };
      }).catch(() => undefined);
    }
    return {
      node: c.node,
      change: c.kind,
      outcome,
      phase: r.phase,
      attempts: r.attempt,
      elapsedMs,
      ...(error ? { error } : {}),
      ...(r.bytes ? { bytes: r.bytes } : {}),
    };
  }

  /**
   * Resolves when the node is UP; rejects on failure, timeout, interruption, or
   * when the trigger (running alongside) fails.
   */
  private waitUntilUp(r: Running, triggered: Promise<void>): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      let timer: NodeJS.Timeout | undefined;
      let settled = false;
      const done = (err?: Error) => {
        if (settled) return;
        settled = true;
        if (timer) clearTimeout(timer);
        r.wake = undefined;
        this.onInterrupt.delete(onInterrupt);
        if (err) reject(err);
        else resolve();
      };
      const arm = () => {
        if (timer) clearTimeout(timer);
        const ms = this.timeout(r.change, r.phase);
        if (!Number.isFinite(ms)) return;
        timer = setTimeout(() => {
          done(new NodeFailure(`no progress in phase "${r.phase}" for ${formatSeconds(ms)} (attempt ${r.attempt})`, true));
        }, ms);
      };
      const onInterrupt = () => done(new Interrupted(`${INTERRUPTED}: the apply stopped waiting in phase "${r.phase}"`));
      // A trigger that fails (BMC refused) fails the attempt; one that succeeds changes nothing here.
      triggered.then(undefined, (e: unknown) => done(e instanceof Error ? e : new Error(String(e))));
      if (this.opts.interruptSignal?.aborted) return onInterrupt();
      if (r.failed) return done(new NodeFailure(r.failed, false));
      if (r.phase === "up") return done();
      this.onInterrupt.add(onInterrupt);
      r.wake = (o) => {
        if (o.failed) return done(new NodeFailure(o.failed, false));
        if (o.requeue) return done(new Requeued(o.requeue));
        if (r.phase === "up") return done();
        // Every report re-arms: a timeout is the longest silence within a phase.
        arm();
      };
      arm();
    });
  }
}

function formatSeconds(ms: number): string {
  return ms >= 1000 ? `${Math.round(ms / 1000)} s` : `${ms} ms`;
}

class Interrupted extends Error {}
/** The install moved elsewhere: start the node's attempt over (not a failure). */
class Requeued extends Error {}

export { NodeFailure };
