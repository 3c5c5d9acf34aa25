// The plan for people at a terminal: drift first, then images, then nodes grouped by
// identical change, then the counts. Wipes are red and say so.
import { groupChanges, imagesLine, LABEL, plural, summaryLine, SYMBOL, type ChangeGroup } from "./groups.js";
import { driftLine, extraReasons, fieldLine, IMAGE_SYMBOL, imageLine, oneLiner, textDiffLines } from "./describe.js";
import { style, type Style } from "./style.js";
import type { NodeChangeKind, Plan } from "../types.js";

export interface TerminalOptions {
  color: boolean;
}

function paintKind(st: Style, kind: NodeChangeKind, s: string): string {
  switch (kind) {
    case "install":
      return st.green(s);
    case "sync":
    case "update":
      return st.yellow(s);
    case "reimage":
      return st.redBold(s);
    case "remove":
      return st.red(s);
  }
}

function paintDiffLine(st: Style, l: string): string {
  if (l.startsWith("@@")) return st.dim(l);
  if (l.startsWith("+")) return st.green(l);
  if (l.startsWith("-")) return st.red(l);
  return l;
}

function groupLines(st: Style, g: ChangeGroup, width: number): string[] {
  const c = g.sample;
  const head = `  ${g.label.padEnd(width)}  ${paintKind(st, g.kind, `${SYMBOL[g.kind]} ${LABEL[g.kind]}`)}`;
  const count = g.nodes.length > 1 ? st.dim(`  (${g.nodes.length} nodes)`) : "";
  const prot = c.protected && c.wipesDisks ? st.red("  protected: wipe allowed by --allow-wipe") : "";
  const one = oneLiner(c);
  if (one !== undefined) return [`${head}  ${one}${count}${prot}`];
  const out = [`${head}${count}${prot}`];
  const pad = "        ";
  for (const f of c.fields) {
    const line = `${pad}${fieldLine(f)}`;
    out.push(f.forcesReimage ? st.red(line) : line);
    for (const l of textDiffLines(f)) out.push(`${pad}    ${paintDiffLine(st, l)}`);
  }
  for (const r of extraReasons(c)) out.push(`${pad}${st.dim("because: " + r)}`);
  return out;
}

export function renderTerminal(plan: Plan, opts: TerminalOptions): string {
  const st = style(opts.color);
  const out: string[] = [];
  for (const w of plan.warnings) out.push(`${st.yellow("Warning:")} ${w}`);
  if (plan.warnings.length) out.push("");

  if (plan.drift.length) {
    out.push(st.magenta(st.bold("Drift: nodes reported something other than the state expected")));
    const w = Math.max(...plan.drift.map((d) => d.node.length));
    for (const d of plan.drift) out.push(`  ${d.node.padEnd(w)}  ${driftLine(d)}`);
    out.push("");
  }

  if (plan.imageChanges.length) {
    out.push(st.bold("Images:"));
    const w = Math.max(...plan.imageChanges.map((c) => c.image.length));
    for (const c of plan.imageChanges) {
      const sym = IMAGE_SYMBOL[c.kind];
      const paint = (s: string) => (c.kind === "create" ? st.green(s) : c.kind === "update" ? st.yellow(s) : st.red(s));
      out.push(`  ${paint(sym)} ${c.image.padEnd(w)}  ${paint(c.kind)}  ${imageLine(c)}`);
    }
    out.push("");
  }

  if (plan.nodeChanges.length) {
    const groups = groupChanges(plan.nodeChanges);
    const w = Math.min(32, Math.max(...groups.map((g) => g.label.length)));
    out.push(st.bold("Nodes:"));
    for (const g of groups) out.push(...groupLines(st, g, w));
    out.push("");
  }

  const unchanged: string[] = [];
  if (plan.unchanged.nodes) unchanged.push(`${plural(plan.unchanged.nodes, "node")} unchanged`);
  if (plan.unchanged.images) unchanged.push(`${plural(plan.unchanged.images, "image")} unchanged`);
  if (unchanged.length && (plan.nodeChanges.length || plan.imageChanges.length)) out.push(st.dim(unchanged.join(", ") + "."), "");

  const il = imagesLine(plan);
  if (il) out.push(il);
  const summary = summaryLine(plan);
  out.push(plan.summary.reimage > 0 ? st.bold(summary) : summary);
  return out.join("\n") + "\n";
}
