// The executor: carries out a plan's node changes with bounded parallelism, an
// optional canary group, per-phase timeouts and bounded retries, and writes the
// state after every node that finishes, so an interrupted apply loses nothing that
// was done. It knows nothing of sockets or BMCs: a NodeDriver boots nodes and the
// caller feeds what nodes report through `observe`.
import type { InventoryRecord } from "../state/inventory.js";
import type { DesiredCluster } from "../config/types.js";
import { pruneLayouts, recordApplied } from "../plan/record.js";
import type { ImageChange, NodeChange, Plan } from "../plan/types.js";
import type { Observation } from "../progress/observation.js";
import type { NodeOutcome, StoppedOutcome } from "../progress/outcome.js";
import { DEFAULT_PHASE_TIMEOUTS, phaseIndex, type Phase } from "../progress/phases.js";
import type { StateStore } from "../state/store.js";
import type { ClusterState } from "../state/types.js";
import type { ApplyEvent, EventSink, WithoutTime } from "./events.js";
import { Interrupted, NodeFailure, Requeued, type NodeDriver } from "./node-driver.js";
import { summarize, type ApplyResult, type NodeResult } from "./results.js";
import { progressOf, waitUntilUp, type Running } from "./wait-up.js";

// The executor's vocabulary, importable from here as before.
export type { Observation } from "../progress/observation.js";
export type { NodeOutcome } from "../progress/outcome.js";
export { NodeFailure, type NodeDriver } from "./node-driver.js";
export { summaryLine, type ApplyResult, type NodeResult } from "./results.js";

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

/** What the executor works with; the caller owns each part. */
export interface ExecutorParts {
  plan: Plan;
  desired: DesiredCluster;
  store: StateStore;
  state: ClusterState;
  driver: NodeDriver;
  events: EventSink;
}

const NOT_STARTED = "apply interrupted before this node started";

/** How the attempts on one node ended. */
interface Ending {
  outcome: NodeOutcome;
  error?: string;
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
  private readonly plan: Plan;
  private readonly driver: NodeDriver;

  constructor(
    private readonly parts: ExecutorParts,
    private readonly opts: ApplyOptions,
  ) {
    this.plan = parts.plan;
    this.driver = parts.driver;
    this.state = parts.state;
    this.serial = parts.state.serial;
    this.explicitTimeouts = { ...opts.phaseTimeouts };
    // One listener on the caller's signal, however many nodes wait.
    opts.interruptSignal?.addEventListener(
      "abort",
      () => {
        for (const f of [...this.onInterrupt]) f();
      },
      { once: true },
    );
  }

  private timeout(change: NodeChange, phase: Phase): number {
    return this.explicitTimeouts[phase] ?? this.driver.phaseTimeout?.(change, phase) ?? DEFAULT_PHASE_TIMEOUTS[phase];
  }

  private emit(e: WithoutTime<ApplyEvent>): void {
    this.parts.events({ ...e, time: (this.opts.now?.() ?? new Date()).toISOString() });
  }

  /** A host's hardware inventory (its installer's), kept in the state with the apply's next write. */
  recordInventory(r: InventoryRecord): void {
    this.commit((s) => {
      s.inventory = { ...s.inventory, [r.mac]: r };
    }).catch(() => undefined);
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
    if (o.bytes !== undefined) this.progress(node, r, { ...o, bytes: o.bytes });
    r.wake?.(o);
  }

  private progress(node: string, r: Running, o: Observation & { bytes: number }): void {
    r.bytes = o.bytes;
    const p = progressOf(r, o, Date.now());
    this.emit({
      type: "node_progress",
      node,
      phase: r.phase,
      bytes: o.bytes,
      ...(o.total ? { total: o.total } : {}),
      ...(p.percent !== undefined ? { percent: p.percent } : {}),
      ...(p.rate !== undefined ? { rate_bytes_per_s: Math.round(p.rate) } : {}),
      ...(p.eta !== undefined ? { eta_s: Math.round(p.eta) } : {}),
    });
  }

  /** Nodes currently being worked on (for services that map MAC/IP to node). */
  isRunning(node: string): boolean {
    return this.running.has(node);
  }

  async run(): Promise<ApplyResult> {
    this.announce();
    // Images first: the services serve the new trees from now on.
    await this.recordImages(this.plan.imageChanges);
    const changes = this.plan.nodeChanges;
    const results: NodeResult[] = [];
    for (const c of changes.filter((c) => !boots(c))) {
      results.push(this.opts.stopSignal?.aborted ? this.skip(c, NOT_STARTED) : await this.runImmediate(c));
    }
    results.push(...(await this.runBooted(changes.filter(boots))));
    await this.stateChain;
    const summary = summarize(results);
    const interrupted = Boolean(this.opts.stopSignal?.aborted);
    this.emit({ type: "change_summary", ...summary, interrupted });
    return { results, state: this.state, interrupted, summary };
  }

  /** The opening events: versions, every planned change, the start. */
  private announce(): void {
    const changes = this.plan.nodeChanges;
    this.emit({ type: "version", format_version: "1.0", metalform_version: this.plan.metalformVersion });
    for (const c of changes) {
      this.emit({ type: "planned_change", node: c.node, change: c.kind, actions: c.actions, wipes_disks: c.wipesDisks, reasons: c.reasons.map((r) => r.message) });
    }
    this.emit({ type: "apply_start", nodes: changes.length, parallelism: this.opts.parallelism, canary: this.opts.canary });
  }

  /** The canaries first; the rest only when every canary succeeded. */
  private async runBooted(booted: NodeChange[]): Promise<NodeResult[]> {
    const canary = booted.slice(0, Math.min(this.opts.canary, booted.length));
    const rest = booted.slice(canary.length);
    const canaryResults = await this.pool(canary);
    if (canaryResults.every((r) => r.outcome === "succeeded")) return [...canaryResults, ...(await this.pool(rest))];
    const why = this.opts.stopSignal?.aborted ? NOT_STARTED : "canary nodes failed";
    return [...canaryResults, ...rest.map((c) => this.skip(c, why))];
  }

  /** A change never started: a final error at attempt 0 with the outcome "skipped". */
  private skip(c: NodeChange, why: string): NodeResult {
    this.emit({ type: "node_errored", node: c.node, change: c.kind, phase: "queued", error: why, attempt: 0, final: true, outcome: "skipped" });
    return { node: c.node, change: c.kind, outcome: "skipped", phase: "queued", attempts: 0, elapsedMs: 0, error: why };
  }

  private async recordImages(changes: ImageChange[]): Promise<void> {
    if (!changes.length) return;
    await this.commit((s) => {
      for (const c of changes) recordApplied(s, c, this.parts.desired);
    });
  }

  /** Serializes state writes; each one is the successor of the previous. */
  private commit(mutate: (s: ClusterState) => void): Promise<void> {
    const next = this.stateChain.then(async () => {
      mutate(this.state);
      pruneLayouts(this.state);
      this.state = await this.parts.store.write(this.state, this.serial);
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
      await this.commit((s) => recordApplied(s, c, this.parts.desired, { now: new Date().toISOString() }));
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
      for (let i = next++; i < changes.length; i = next++) {
        const c = changes[i]!;
        results[i] = this.opts.stopSignal?.aborted ? this.skip(c, NOT_STARTED) : await this.runNode(c);
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
    let ending: Ending;
    try {
      await this.driver.begin(c);
      ending = await this.attempts(r);
    } catch (e) {
      ending = { outcome: "failed", error: (e as Error).message };
      this.errored(r, { error: ending.error!, final: true, outcome: "failed" });
    } finally {
      this.running.delete(c.node);
    }
    ending = await this.restoreBoot(c, ending);
    const elapsedMs = Date.now() - t0;
    ending = ending.outcome === "succeeded" ? await this.recordUp(r, elapsedMs) : await this.recordStopped(r, ending);
    return {
      node: c.node,
      change: c.kind,
      outcome: ending.outcome,
      phase: r.phase,
      attempts: r.attempt,
      elapsedMs,
      ...(ending.error ? { error: ending.error } : {}),
      ...(r.bytes ? { bytes: r.bytes } : {}),
    };
  }

  private errored(r: Running, e: { error: string; final: boolean; outcome?: Exclude<NodeOutcome, "succeeded" | "skipped">; phase?: Phase }): void {
    const c = r.change;
    this.emit({
      type: "node_errored",
      node: c.node,
      change: c.kind,
      phase: e.phase ?? r.phase,
      error: e.error,
      attempt: r.attempt,
      final: e.final,
      ...(e.outcome ? { outcome: e.outcome } : {}),
    });
  }

  /** Boots the node until it is UP, fails for good, or the apply stops waiting. */
  private async attempts(r: Running): Promise<Ending> {
    const c = r.change;
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
        await waitUntilUp(r, triggered, {
          timeout: (ch, p) => this.timeout(ch, p),
          onInterrupt: this.onInterrupt,
          ...(this.opts.interruptSignal ? { interruptSignal: this.opts.interruptSignal } : {}),
        });
        // An earlier attempt's error is history now (the attempt count tells of it).
        return { outcome: "succeeded" };
      } catch (e) {
        if (e instanceof Requeued && !this.opts.interruptSignal?.aborted) {
          // Moved, not failed: the attempt starts over on the new provisioner.
          maxAttempts++;
          continue;
        }
        const error = (e as Error).message;
        if (e instanceof Interrupted) {
          this.errored(r, { error, final: true, outcome: "interrupted" });
          return { outcome: "interrupted", error };
        }
        const retryable = e instanceof NodeFailure ? e.retryable : false;
        const final = !retryable || r.attempt >= maxAttempts || Boolean(this.opts.stopSignal?.aborted);
        this.errored(r, { error, final, ...(final ? { outcome: "failed" as const } : {}) });
        if (final) return { outcome: "failed", error };
      } finally {
        stopTrigger.abort();
      }
    }
  }

  /** The node's normal boot again; a node that came UP but cannot get it back failed. */
  private async restoreBoot(c: NodeChange, ending: Ending): Promise<Ending> {
    const ok = ending.outcome === "succeeded";
    try {
      await this.driver.end(c, { ok });
      return ending;
    } catch (e) {
      return ok ? { outcome: "failed", error: `could not restore the boot configuration: ${(e as Error).message}` } : ending;
    }
  }

  private async recordUp(r: Running, elapsedMs: number): Promise<Ending> {
    const c = r.change;
    const now = new Date().toISOString();
    try {
      await this.commit((s) => {
        recordApplied(s, c, this.parts.desired, { now });
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
    } catch (e) {
      const error = `installed, but the state could not be written: ${(e as Error).message}`;
      this.errored(r, { error, final: true, outcome: "failed", phase: "up" });
      return { outcome: "failed", error };
    }
    this.emit({
      type: "node_complete",
      node: c.node,
      change: c.kind,
      elapsed_s: Math.round(elapsedMs / 100) / 10,
      ...(r.bytes ? { bytes: r.bytes } : {}),
      ...(r.imageDigest ? { image_digest: r.imageDigest } : {}),
    });
    return { outcome: "succeeded" };
  }

  /** Records where the node stopped and how, so `state show` says so. */
  private async recordStopped(r: Running, ending: Ending): Promise<Ending> {
    const outcome: StoppedOutcome = ending.outcome === "interrupted" ? "interrupted" : "failed";
    await this.commit((s) => {
      const entry = (s.nodes[r.change.node] ??= {});
      entry.reported = { ...entry.reported, phase: r.phase, outcome, time: new Date().toISOString() };
    }).catch(() => undefined);
    return ending;
  }
}

/** Removes and updates change nothing on the node; everything else boots it into the installer. */
function boots(c: NodeChange): boolean {
  return c.kind !== "remove" && c.kind !== "update";
}
