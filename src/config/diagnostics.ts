// Diagnostics: every problem found in a configuration, with where it is.
// Printed as `FILE:LINE:COL: error[CODE]: message`, with a code frame in a terminal.
import { readFileSync } from "node:fs";
import { relative } from "node:path";

export type Severity = "error" | "warning";

export interface Related {
  message: string;
  file?: string;
  line?: number;
  col?: number;
}

export interface Diagnostic {
  severity: Severity;
  /** Stable, kebab-case identifier, e.g. "duplicate-mac". */
  code: string;
  message: string;
  file?: string;
  line?: number;
  col?: number;
  /** The other place, for conflicts ("also used by node ... at FILE:LINE:COL"). */
  related?: Related;
}

/** An error at a source position (with the other place, for conflicts). */
export function errorAt(code: string, message: string, pos: { file: string; line: number; col: number }, related?: Related): Diagnostic {
  return { severity: "error", code, message, ...pos, ...(related ? { related } : {}) };
}

export function warningAt(code: string, message: string, pos: { file: string; line: number; col: number }): Diagnostic {
  return { severity: "warning", code, message, ...pos };
}

export function hasErrors(diags: readonly Diagnostic[]): boolean {
  return diags.some((d) => d.severity === "error");
}

export function sortDiagnostics(diags: Diagnostic[]): Diagnostic[] {
  return diags.sort((a, b) => (a.file ?? "").localeCompare(b.file ?? "") || (a.line ?? 0) - (b.line ?? 0) || (a.col ?? 0) - (b.col ?? 0) || a.code.localeCompare(b.code));
}

export function formatLocation(file?: string, line?: number, col?: number, cwd = process.cwd()): string {
  if (!file) return "";
  const rel = relative(cwd, file);
  const f = rel && !rel.startsWith("..") ? rel : file;
  return line ? `${f}:${line}:${col ?? 1}` : f;
}

const paint = (on: boolean, code: string, s: string) => (on ? `\u001b[${code}m${s}\u001b[0m` : s);

function codeFrame(d: Diagnostic, opts: { color: boolean; sources: Map<string, string[]> }): string {
  const { color, sources } = opts;
  if (!d.file || !d.line) return "";
  let lines = sources.get(d.file);
  if (!lines) {
    try {
      lines = readFileSync(d.file, "utf8").split(/\r?\n/);
    } catch {
      lines = [];
    }
    sources.set(d.file, lines);
  }
  const text = lines[d.line - 1];
  if (text === undefined) return "";
  const num = String(d.line);
  const gutter = " ".repeat(num.length);
  const caret = " ".repeat(Math.max(0, (d.col ?? 1) - 1)) + "^";
  const col = d.severity === "error" ? "31" : "33";
  return `\n${gutter} |\n${num} | ${text.length > 200 ? text.slice(0, 200) + "…" : text}\n${gutter} | ${paint(color, col, caret)}`;
}

/** One diagnostic per block; with `frames`, the offending line is shown under it. */
export function formatDiagnostics(diags: readonly Diagnostic[], opts: { color?: boolean; frames?: boolean; cwd?: string } = {}): string {
  const color = opts.color ?? false;
  const sources = new Map<string, string[]>();
  const out: string[] = [];
  for (const d of diags) {
    const loc = formatLocation(d.file, d.line, d.col, opts.cwd);
    const sev = paint(color, d.severity === "error" ? "1;31" : "1;33", `${d.severity}[${d.code}]`);
    let s = `${loc ? loc + ": " : ""}${sev}: ${d.message}`;
    if (d.related) {
      const rloc = formatLocation(d.related.file, d.related.line, d.related.col, opts.cwd);
      s += ` (${d.related.message}${rloc ? ` at ${rloc}` : ""})`;
    }
    if (opts.frames) s += codeFrame(d, { color, sources });
    out.push(s);
  }
  return out.join(opts.frames ? "\n\n" : "\n");
}

export function summarizeDiagnostics(diags: readonly Diagnostic[]): string {
  const e = diags.filter((d) => d.severity === "error").length;
  const w = diags.length - e;
  const plural = (n: number, s: string) => `${n} ${s}${n === 1 ? "" : "s"}`;
  return `${plural(e, "error")}, ${plural(w, "warning")}`;
}
