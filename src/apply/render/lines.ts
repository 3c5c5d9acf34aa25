// Apply progress for logs and CI: one timestamped line per phase change, sync
// progress at most every 25 %, no control characters.
import type { ApplyEvent } from "../events.js";
import { PHASE_LABEL } from "../phases.js";
import { summaryLine } from "../executor.js";

const SYMBOL: Record<string, string> = { install: "+", reimage: "-/+", sync: "~", update: "~", remove: "-" };

export function formatBytes(n: number): string {
  if (n >= 1 << 30) return `${(n / (1 << 30)).toFixed(1)} GiB`;
  if (n >= 1 << 20) return `${(n / (1 << 20)).toFixed(1)} MiB`;
  if (n >= 1 << 10) return `${(n / (1 << 10)).toFixed(1)} KiB`;
  return `${n} B`;
}

/** Returns a sink that writes lines; progress is throttled per node. */
export function lineRenderer(write: (line: string) => void): (e: ApplyEvent) => void {
  const lastQuarter = new Map<string, number>();
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
        return write(`${t} ${e.node} ${e.final ? "FAILED" : "retrying"} in ${e.phase}: ${e.error}`);
      case "change_summary":
        return write(`${t} ${summaryLine(e, e.interrupted)}`);
    }
  };
}

/** `apply --json`: the events themselves, one per line. */
export function jsonLinesRenderer(write: (line: string) => void): (e: ApplyEvent) => void {
  return (e) => write(JSON.stringify(e));
}
