// Apply progress for logs and CI: one timestamped line per phase change, sync
// progress at most every 25 %, no control characters.
import type { ApplyEvent } from "../events.js";
import { PHASE_LABEL } from "../../progress/phases.js";
import { summaryLine } from "../results.js";

const SYMBOL: Record<string, string> = { install: "+", reimage: "-/+", sync: "~", update: "~", remove: "-" };

export function formatBytes(n: number): string {
  if (n >= 1 << 30) return `${(n / (1 << 30)).toFixed(1)} GiB`;
  if (n >= 1 << 20) return `${(n / (1 << 20)).toFixed(1)} MiB`;
  if (n >= 1 << 10) return `${(n / (1 << 10)).toFixed(1)} KiB`;
  return `${n} B`;
}

/**
 * Makes text safe for one log line: control characters (newlines from a node's
 * error output, escape sequences a node could send to a terminal) become visible
 * and harmless — a line break as " | ", anything else as "?".
 */
export function oneLine(text: string): string {
  return text
    .trimEnd()
    .replace(/\r?\n|\r/g, " | ")
    .replace(/[\u0000-\u001f\u007f-\u009f\u2028\u2029]/g, "?");
}

function errorLine(e: Extract<ApplyEvent, { type: "node_errored" }>): string {
  const error = oneLine(e.error);
  // The event's outcome says how the node ended; the error is only the reason.
  if (e.outcome === "skipped") return `${e.node} skipped: ${error}`;
  if (e.outcome === "interrupted") return `${e.node} INTERRUPTED in ${e.phase}: ${error}`;
  return `${e.node} ${e.final ? "FAILED" : "retrying"} in ${e.phase}${e.attempt > 1 ? ` (attempt ${e.attempt})` : ""}: ${error}`;
}

/** Returns a sink that writes lines; progress is throttled per node. */
export function lineRenderer(rawWrite: (line: string) => void): (e: ApplyEvent) => void {
  const lastQuarter = new Map<string, number>();
  // Every line passes through oneLine: node names and reasons come from files, errors from nodes.
  const write = (line: string) => rawWrite(oneLine(line));
  return (e) => {
    const t = e.time;
    switch (e.type) {
      case "version":
        return;
      case "planned_change":
        return write(`${t} plan ${e.node} ${SYMBOL[e.change]} ${e.change}${e.wipes_disks ? " (wipes disks)" : ""}: ${e.reasons.join("; ")}`);
      case "apply_start":
        return write(`${t} apply start: ${e.nodes} node change(s), parallelism ${e.parallelism}${e.canary ? `, canary ${e.canary}` : ""}`);
      case "node_phase":
        lastQuarter.delete(e.node);
        return write(`${t} ${e.node} ${e.phase}: ${PHASE_LABEL[e.phase]}${e.attempt > 1 ? ` (attempt ${e.attempt})` : ""}${e.message ? ` — ${e.message}` : ""}`);
      case "node_progress": {
        if (e.percent === undefined) return;
        const q = Math.floor(e.percent / 25);
        if ((lastQuarter.get(e.node) ?? -1) >= q) return;
        lastQuarter.set(e.node, q);
        return write(`${t} ${e.node} ${e.phase}: ${e.percent.toFixed(0)}% (${formatBytes(e.bytes)}${e.total ? ` of ${formatBytes(e.total)}` : ""})`);
      }
      case "node_message":
        return write(`${t} ${e.node}: ${e.message}`);
      case "node_complete":
        return write(`${t} ${e.node} done: ${e.change} in ${e.elapsed_s.toFixed(1)} s${e.bytes ? `, ${formatBytes(e.bytes)} transferred` : ""}`);
      case "node_errored":
        return write(`${t} ${errorLine(e)}`);
      case "change_summary":
        return write(`${t} ${summaryLine(e, { interrupted: e.interrupted })}`);
    }
  };
}

/** `apply --json`: the events themselves, one per line. */
export function jsonLinesRenderer(write: (line: string) => void): (e: ApplyEvent) => void {
  return (e) => write(JSON.stringify(e));
}
