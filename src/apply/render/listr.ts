// Apply progress in a terminal: listr2, one task per node with its phase and a
// progress bar while it syncs. Large applies are folded into one task per range of
// nodes (node[001-128] install), or per change kind, so the screen stays readable.
import { Listr } from "listr2";
import type { ApplyEvent } from "../events.js";
import { PHASE_LABEL } from "../../progress/phases.js";
import { compressHostnames } from "../../config/hostrange.js";
import { groupNodes, phaseCounts } from "./groups.js";
import { formatBytes, oneLine } from "./lines.js";

const MAX_TASKS = 24;

type Event<T extends ApplyEvent["type"]> = Extract<ApplyEvent, { type: T }>;

function bar(percent: number, width = 24): string {
  const full = Math.round((percent / 100) * width);
  return `[${"#".repeat(full)}${"-".repeat(width - full)}] ${percent.toFixed(0).padStart(3)}%`;
}

/** The part of listr2's task wrapper this renderer drives. */
interface Task {
  title: string;
  output: string;
}

/** One line of the display: a node, or a group of nodes in a large apply. */
interface Slot {
  title: string;
  task?: Task;
  done: () => void;
  fail: (e: Error) => void;
  finished: Promise<void>;
}

interface Group {
  slot: Slot;
  label: string;
  total: number;
  done: number;
  failed: string[];
  phases: Map<string, string>;
}

function makeSlot(title: string): Slot {
  let done!: () => void;
  let fail!: (e: Error) => void;
  const finished = new Promise<void>((res, rej) => {
    done = res;
    fail = rej;
  });
  return { title, done, fail, finished };
}

function groupTitle(g: Group): string {
  return `${g.label}: ${g.done}/${g.total} done${g.failed.length ? `, ${g.failed.length} failed` : ""}`;
}

function compressFailed(nodes: string[]): string {
  const ranges = compressHostnames(nodes);
  return ranges.length > 4 ? `${nodes.length} nodes (${ranges.slice(0, 4).join(", ")}, …)` : ranges.join(", ");
}

/** The display's state, changed by one method per event type. */
class ListrView {
  private readonly slots = new Map<string, Slot>();
  private readonly planned: Array<{ node: string; change: string }> = [];
  /** Node → its group, when the apply is large. */
  private readonly groupOf = new Map<string, Group>();
  private groups: Group[] = [];
  private list: Listr<unknown, "default" | "test", "simple"> | undefined;
  private readonly started = Date.now();
  private readonly rates = new Map<string, { t: number; bytes: number }>();
  private closedResolve!: () => void;
  readonly closed = new Promise<void>((r) => (this.closedResolve = r));

  constructor(private readonly renderer: "default" | "test" | undefined) {}

  planned_change(e: Event<"planned_change">): void {
    if (e.change === "remove" || e.change === "update") return;
    this.planned.push({ node: e.node, change: e.change });
    this.slots.set(e.node, makeSlot(`${e.node}  ${e.change}${e.wipes_disks ? " (wipes disks)" : ""}`));
  }

  apply_start(): void {
    const many = this.slots.size > MAX_TASKS;
    if (many) this.makeGroups();
    const entries = many ? this.groups.map((g) => g.slot) : [...this.slots.values()];
    this.list = new Listr<unknown, "default" | "test", "simple">(
      entries.map((s) => ({
        title: s.title,
        task: async (_ctx, task) => {
          s.task = task;
          await s.finished;
        },
        rendererOptions: { outputBar: 1, persistentOutput: false },
      })),
      { concurrent: true, exitOnError: false, rendererOptions: { collapseErrors: false }, ...(this.renderer ? { renderer: this.renderer } : {}) },
    );
    this.list
      .run()
      .catch(() => undefined)
      .finally(this.closedResolve);
  }

  private makeGroups(): void {
    // The per-node slots are not drawn: their outcomes must not reject unobserved.
    for (const s of this.slots.values()) s.finished.catch(() => undefined);
    this.groups = groupNodes(this.planned, MAX_TASKS).map((g) => {
      const group: Group = { slot: makeSlot(`${g.label}: 0/${g.nodes.length} done`), label: g.label, total: g.nodes.length, done: 0, failed: [], phases: new Map() };
      for (const n of g.nodes) this.groupOf.set(n, group);
      return group;
    });
  }

  node_phase(e: Event<"node_phase">): void {
    this.groupOf.get(e.node)?.phases.set(e.node, e.phase);
    const s = this.slots.get(e.node);
    if (s?.task) s.task.output = `${PHASE_LABEL[e.phase]}${e.attempt > 1 ? ` (attempt ${e.attempt})` : ""}`;
    this.refresh(e.node);
  }

  node_progress(e: Event<"node_progress">): void {
    const s = this.slots.get(e.node);
    if (!s?.task || e.percent === undefined) return;
    const prev = this.rates.get(e.node);
    const now = Date.now();
    const rate = prev && now > prev.t ? `, ${formatBytes(((e.bytes - prev.bytes) * 1000) / (now - prev.t))}/s` : "";
    this.rates.set(e.node, { t: now, bytes: e.bytes });
    s.task.output = `${PHASE_LABEL[e.phase]} ${bar(e.percent)} ${formatBytes(e.bytes)}${rate}`;
  }

  node_complete(e: Event<"node_complete">): void {
    const g = this.groupOf.get(e.node);
    if (g) {
      g.done++;
      g.phases.delete(e.node);
      this.settle(g);
    }
    const s = this.slots.get(e.node);
    if (s?.task) s.task.title = `${s.title}: UP in ${e.elapsed_s.toFixed(1)} s${e.bytes ? `, ${formatBytes(e.bytes)}` : ""}`;
    s?.done();
    this.refresh(e.node);
  }

  node_errored(e: Event<"node_errored">): void {
    if (!e.final) return;
    const g = this.groupOf.get(e.node);
    g?.phases.delete(e.node);
    const s = this.slots.get(e.node);
    if (e.outcome === "skipped") {
      // Never started (interrupted apply, failed canaries): not a failure of the node.
      if (s?.task) s.task.title = `${s.title}: skipped: ${oneLine(e.error)}`;
      s?.done();
      if (g) g.total--;
    } else {
      g?.failed.push(e.node);
      s?.fail(new Error(`${e.node}: ${oneLine(e.error)}`));
    }
    if (g) this.settle(g);
    this.refresh(e.node);
  }

  change_summary(): void {
    for (const s of this.slots.values()) s.done();
    for (const g of this.groups) this.finish(g);
    if (!this.list) this.closedResolve();
  }

  private refresh(node: string): void {
    const g = this.groupOf.get(node);
    if (!g?.slot.task) return;
    g.slot.task.output = phaseCounts(g.phases.values());
    g.slot.task.title = groupTitle(g);
  }

  /** A group whose nodes have all ended is drawn as done (or failed, naming its failed nodes). */
  private settle(g: Group): void {
    if (g.done + g.failed.length >= g.total) this.finish(g);
  }

  private finish(g: Group): void {
    if (g.slot.task) {
      g.slot.task.output = "";
      g.slot.task.title = groupTitle(g);
    }
    if (g.failed.length) g.slot.fail(new Error(`${g.label}: ${compressFailed(g.failed)} failed after ${((Date.now() - this.started) / 1000).toFixed(0)} s`));
    else g.slot.done();
  }
}

/**
 * Starts the listr2 display and returns the event sink that drives it, plus a
 * promise that settles when the display has drawn its last frame.
 */
export function listrRenderer(opts: { renderer?: "default" | "test" } = {}): { sink: (e: ApplyEvent) => void; closed: Promise<void> } {
  const view = new ListrView(opts.renderer);
  const sink = (e: ApplyEvent) => {
    switch (e.type) {
      case "planned_change":
        return view.planned_change(e);
      case "apply_start":
        return view.apply_start();
      case "node_phase":
        return view.node_phase(e);
      case "node_progress":
        return view.node_progress(e);
      case "node_complete":
        return view.node_complete(e);
      case "node_errored":
        return view.node_errored(e);
      case "change_summary":
        return view.change_summary();
      default:
        return;
    }
  };
  return { sink, closed: view.closed };
}
