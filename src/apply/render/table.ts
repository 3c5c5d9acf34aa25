// The per-node summary table printed at the end of an apply.
import { summaryLine, type ApplySummary, type NodeResult } from "../results.js";
import { formatBytes, oneLine } from "./lines.js";

export function resultTable(results: readonly NodeResult[]): string {
  const rows = [["NODE", "CHANGE", "RESULT", "PHASE", "ATTEMPTS", "TIME", "BYTES", "ERROR"]];
  for (const r of results) {
    rows.push([r.node, r.change, r.outcome, r.phase, String(r.attempts), `${(r.elapsedMs / 1000).toFixed(1)}s`, r.bytes ? formatBytes(r.bytes) : "-", oneLine(r.error ?? "")]);
  }
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  return rows
    .map((r) =>
      r
        .map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]!)))
        .join("  ")
        .trimEnd(),
    )
    .join("\n");
}

/** What apply prints at the end without --json: the table, then the summary line. */
export function resultReport(result: { results: readonly NodeResult[]; summary: ApplySummary; interrupted: boolean }): string {
  return `\n${resultTable(result.results)}\n\n${summaryLine(result.summary, { interrupted: result.interrupted })}`;
}
