// Apply progress in a terminal: listr2, one task per node with its phase and a
// progress bar while it syncs. Large applies are folded into one task per range of
// nodes (node[001-128] install), or per change kind, so the screen stays readable.
import { Listr } from "listr2";
import type { ApplyEvent } from "../events.js";
import { PHASE_LABEL } from "../phases.js";
import { compressHostnames } from "../../config/hostrange.js";
import { groupNodes, phaseCounts } from "./groups.js";
import { formatBytes, oneLine } from "./lines.js";

const MAX_TASKS = 24;

function bar(percent: number, width = 24): string {
  const full = Math.round((percent / 100) * width);
  return `[${"#".repeat(full)}${"-".repeat(width - full)}] ${percent.toFixed(0).padStart(3)}%`;
}

/** The part of listr2's task wrapper this renderer drives. */
interface Task {
  title: string;
  output: string;
}

interface Group {
  slot: Slot;
  label: string;
  total: number;
  done: number;
  failed: string[];
  phases: Map<string, string>;
}

interface Slot {
  title: string;
  task?: Task;
  done: () => void;
  fail: (e: Error) => void;
  finished: Promise<void>;
}

/**
 * Starts the listr2 display and returns the event sink that drives it, plus a
 * promise that settles when the display has drawn its last frame.
 */
export function listrRenderer(opts: { renderer?: "default" | "test" } = {}): { sink: (e: ApplyEvent) => void; closed: Promise<void> } {
  const slots = new Map<string, Slot>();
  const planned: Array<{ node: string; change: string }> = [];
  /** Node → its group, when the apply is large. */
  const groupOf = new Map<string, Group>();
  let groups: Group[] = [];
  let list: Listr<unknown, "default" | "test", "simple"> | undefined;
  let closedResolve!: () => void;
  const closed = new Promise<void>((r) => (closedResolve = r));
  const started = Date.now();
  const rates = new Map<string, { t: number; bytes: number }>();

  const makeSlot = (title: string): Slot => {
    let done!: () => void;
    let fail!: (e: Error) => void;
    const finished = new Promise<void>((res, rej) => {
      done = res;
      fail = rej;
    });
    return { title, done, fail, finished };
  };

  const refresh = (node: string) => {
    const g = groupOf.get(node);
    if (!g?.slot.task) return;
    g.slot.task.output = phaseCounts(g.phases.values());
    g.slot.task.title = `${g.label}: ${g.done}/${g.total} done${g.failed.length ? `, ${g.failed.length} failed` : ""}`;
  };

  /** A group whose nodes have all ended is drawn as done (or failed, naming its failed nodes). */
  const settle = (g: Group) => {
    if (g.done + g.failed.length >= g.total) finish(g);
  };
  const finish = (g: Group) => {
    if (g.slot.task) {
      g.slot.task.output = "";
      g.slot.task.title = `${g.label}: ${g.done}/${g.total} done${g.failed.length ? `, ${g.failed.length} failed` : ""}`;
    }
    if (g.failed.length) g.slot.fail(new Error(`${g.label}: ${compressFailed(g.failed)} failed after ${((Date.now() - started) / 1000).toFixed(0)} s`));
    else g.slot.done();
  };

  const sink = (e: ApplyEvent) => {
    switch (e.type) {
      case "planned_change": {
        if (e.change === "remove" || e.change === "update") return;
        planned.push({ node: e.node, change: e.change });
        slots.set(e.node, makeSlot(`${e.node}  ${e.change}${e.wipes_disks ? " (wipes disks)" : ""}`));
        return;
      }
      case "apply_start": {
        const many = slots.size > MAX_TASKS;
        if (many) {
          for (const s of slots.values()) s.finished.catch(() => undefined);
          groups = groupNodes(planned, MAX_TASKS).map((g) => {
            const group: Group = { slot: makeSlot(`${g.label}: 0/${g.nodes.length} done`), label: g.label, total: g.nodes.length, done: 0, failed: [], phases: new Map() };
            for (const n of g.nodes) groupOf.set(n, group);
            return group;
          });
        }
        const entries = many ? groups.map((g) => g.slot) : [...slots.values()];
        list = new Listr<unknown, "default" | "test", "simple">(
          entries.map((s) => ({
            title: s.title,
            task: async (_ctx, task) => {
              s.task = task as unknown as Task;
              await s.finished;
            },
            rendererOptions: { outputBar: 1, persistentOutput: false },
          })),
          { concurrent: true, exitOnError: false, rendererOptions: { collapseErrors: false }, ...(opts.renderer ? { renderer: opts.renderer } : {}) },
        );
        list.run().catch(() => undefined).finally(closedResolve);
        return;
      }
      case "node_phase": {
        groupOf.get(e.node)?.phases.set(e.node, e.phase);
        const s = slots.get(e.node);
        if (s?.task) s.task.output = `${PHASE_LABEL[e.phase]}${e.attempt > 1 ? ` (attempt ${e.attempt})` : ""}`;
        refresh(e.node);
        return;
      }
      case "node_progress": {
        const s = slots.get(e.node);
        if (!s?.task || e.percent === undefined) return;
        const prev = rates.get(e.node);
        const now = Date.now();
        let rate = "";
        if (prev && now > prev.t) rate = `, ${formatBytes(((e.bytes - prev.bytes) * 1000) / (now - prev.t))}/s`;
        rates.set(e.node, { t: now, bytes: e.bytes });
        s.task.output = `${PHASE_LABEL[e.phase]} ${bar(e.percent)} ${formatBytes(e.bytes)}${rate}`;
        return;
      }
      case "node_complete": {
        const g = groupOf.get(e.node);
        if (g) {
          g.done++;
          g.phases.delete(e.node);
          settle(g);
        }
        const s = slots.get(e.node);
        if (s?.task) s.task.title = `${s.title}: UP in ${e.elapsed_s.toFixed(1)} s${e.bytes ? `, ${formatBytes(e.bytes)}` : ""}`;
        s?.done();
        refresh(e.node);
        return;
      }
      case "node_errored": {
        if (!e.final) return;
        const g = groupOf.get(e.node);
        g?.phases.delete(e.node);
        if (e.outcome === "skipped" || e.attempt === 0) {
          // Never started (interrupted apply, failed canaries): not a failure of the node.
          const s = slots.get(e.node);
          if (s?.task) s.task.title = `${s.title}: ${oneLine(e.error)}`;
          s?.done();
          if (g) {
            g.total--;
            settle(g);
          }
          refresh(e.node);
          return;
        }
        if (g) {
          g.failed.push(e.node);
          settle(g);
        }
        slots.get(e.node)?.fail(new Error(`${e.node}: ${oneLine(e.error)}`));
        refresh(e.node);
        return;
      }
      case "change_summary": {
        for (const s of slots.values()) s.done();
        for (const g of groups) finish(g);
        if (!list) closedResolve();
        return;
      }
      default:
        return;
    }
  };
  return { sink, closed };
}

function compressFailed(nodes: string[]): string {
  const ranges = compressHostnames(nodes);
  return ranges.length > 4 ? `${nodes.length} nodes (${ranges.slice(0, 4).join(", ")}, …)` : ranges.join(", ");
}
