// Apply progress in a terminal: listr2, one task per node with its phase and a
// progress bar while it syncs. Large applies are folded into one task per change
// kind so that the screen stays readable.
import { Listr } from "listr2";
import type { ApplyEvent } from "../events.js";
import { PHASE_LABEL } from "../phases.js";
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
export function listrRenderer(): { sink: (e: ApplyEvent) => void; closed: Promise<void> } {
  const slots = new Map<string, Slot>();
  const aggregate = { total: 0, done: 0, failed: 0, phases: new Map<string, string>() };
  let list: Listr | undefined;
  let aggregateSlot: Slot | undefined;
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

  const refreshAggregate = () => {
    if (!aggregateSlot?.task) return;
    const counts = new Map<string, number>();
    for (const p of aggregate.phases.values()) counts.set(p, (counts.get(p) ?? 0) + 1);
    aggregateSlot.task.output = [...counts].map(([p, n]) => `${n} ${p}`).join(", ");
    aggregateSlot.task.title = `${aggregate.done}/${aggregate.total} nodes done, ${aggregate.failed} failed`;
  };

  const sink = (e: ApplyEvent) => {
    switch (e.type) {
      case "planned_change": {
        if (e.change === "remove" || e.change === "update") return;
        aggregate.total++;
        slots.set(e.node, makeSlot(`${e.node}  ${e.change}${e.wipes_disks ? " (wipes disks)" : ""}`));
        return;
      }
      case "apply_start": {
        const many = slots.size > MAX_TASKS;
        if (many) {
          aggregateSlot = makeSlot(`${slots.size} nodes`);
          for (const s of slots.values()) s.finished.catch(() => undefined);
        }
        const entries = many ? [aggregateSlot!] : [...slots.values()];
        list = new Listr<unknown>(
          entries.map((s) => ({
            title: s.title,
            task: async (_ctx, task) => {
              s.task = task as unknown as Task;
              await s.finished;
            },
            rendererOptions: { outputBar: 1, persistentOutput: false },
          })),
          { concurrent: true, exitOnError: false, rendererOptions: { collapseErrors: false } },
        );
        list.run().catch(() => undefined).finally(closedResolve);
        return;
      }
      case "node_phase": {
        aggregate.phases.set(e.node, e.phase);
        const s = slots.get(e.node);
        if (s?.task) s.task.output = `${PHASE_LABEL[e.phase]}${e.attempt > 1 ? ` (attempt ${e.attempt})` : ""}`;
        refreshAggregate();
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
        aggregate.done++;
        aggregate.phases.delete(e.node);
        const s = slots.get(e.node);
        if (s?.task) s.task.title = `${s.title}: UP in ${e.elapsed_s.toFixed(1)} s${e.bytes ? `, ${formatBytes(e.bytes)}` : ""}`;
        s?.done();
        refreshAggregate();
        return;
      }
      case "node_errored": {
        if (!e.final) return;
        if (e.outcome === "skipped" || e.attempt === 0) {
          // Never started (interrupted apply, failed canaries): not a failure of the node.
          aggregate.phases.delete(e.node);
          const s = slots.get(e.node);
          if (s?.task) s.task.title = `${s.title}: ${oneLine(e.error)}`;
          s?.done();
          refreshAggregate();
          return;
        }
        aggregate.failed++;
        aggregate.phases.delete(e.node);
        slots.get(e.node)?.fail(new Error(`${e.node}: ${oneLine(e.error)}`));
        refreshAggregate();
        return;
      }
      case "change_summary": {
        for (const s of slots.values()) s.done();
        if (aggregateSlot) {
          refreshAggregate();
          if (aggregate.failed) aggregateSlot.fail(new Error(`${aggregate.failed} node(s) failed after ${((Date.now() - started) / 1000).toFixed(0)} s`));
          else aggregateSlot.done();
        }
        if (!list) closedResolve();
        return;
      }
      default:
        return;
    }
  };
  return { sink, closed };
}
