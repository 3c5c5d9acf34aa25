// The plan as a pull-request comment: the summary, a warning naming every wipe, a
// table of grouped changes, and a collapsible detail per group.
import { groupChanges, imagesLine, LABEL, plural, summaryLine, SYMBOL } from "./groups.js";
import { driftLine, extraReasons, fieldLine, IMAGE_SYMBOL, imageLine, oneLiner, textDiffLines } from "./describe.js";
import { compressHostnames } from "../../config/hostrange.js";
import { fieldLabel, valueText } from "../format.js";
import type { Plan } from "../types.js";

const cell = (s: string) => s.replace(/\|/g, "\\|").replace(/\n/g, " ");
const code = (s: string) => "`" + s.replace(/`/g, "'") + "`";
const html = (s: string) => s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");

export function renderMarkdown(plan: Plan): string {
  const out: string[] = [];
  out.push(`### metalform plan for ${code(plan.cluster)}`, "");
  out.push(`**${summaryLine(plan)}**`);
  const il = imagesLine(plan);
  if (il) out.push("", il);
  out.push("");

  const wipes = plan.nodeChanges.filter((c) => c.wipesDisks).map((c) => c.node);
  if (wipes.length) {
    out.push("> [!CAUTION]", `> ${plural(wipes.length, "node")} will have ${wipes.length === 1 ? "its" : "their"} disks wiped: ${compressHostnames(wipes).map(code).join(", ")}`, "");
  }
  for (const w of plan.warnings) out.push("> [!WARNING]", `> ${w}`, "");

  if (plan.drift.length) {
    out.push("#### Drift", "");
    for (const d of plan.drift) out.push(`- ${code(d.node)}: ${driftLine(d)}`);
    out.push("");
  }
  if (plan.imageChanges.length) {
    out.push("#### Images", "", "| | Image | Change |", "|---|---|---|");
    for (const c of plan.imageChanges) out.push(`| ${code(IMAGE_SYMBOL[c.kind])} | ${code(c.image)} | ${cell(`${c.kind}: ${imageLine(c)}`)} |`);
    out.push("");
  }
  if (plan.nodeChanges.length) {
    const groups = groupChanges(plan.nodeChanges);
    out.push("#### Nodes", "", "| | Nodes | Change |", "|---|---|---|");
    for (const g of groups) {
      const one = oneLiner(g.sample);
      const what = one ? `${LABEL[g.kind]}: ${one}` : LABEL[g.kind];
      const n = g.nodes.length > 1 ? ` (${g.nodes.length})` : "";
      out.push(`| ${code(SYMBOL[g.kind])} | ${code(g.label)}${n} | ${cell(g.kind === "reimage" ? `**${what}**` : what)} |`);
    }
    out.push("");
    for (const g of groups) {
      const c = g.sample;
      out.push(`<details><summary><code>${html(`${SYMBOL[g.kind]} ${g.label}`)}</code> ${html(LABEL[g.kind])}</summary>`, "");
      if (c.kind === "install" || c.kind === "remove") for (const r of c.reasons) out.push(`- ${r.message}`);
      else {
        for (const f of c.fields) out.push(`- ${code(fieldLine(f))}`);
        for (const r of extraReasons(c)) out.push(`- because: ${r}`);
      }
      for (const f of c.fields) {
        const lines = textDiffLines(f);
        if (lines.length) out.push("", "```diff", ...lines, "```");
      }
      if (c.kind === "install" || c.kind === "remove") {
        const side = c.kind === "install" ? "after" : "before";
        // A group shares everything but per-node addresses; those would mislead here.
        const shared = g.nodes.length > 1 ? c.fields.filter((f) => !/^(network\.|bmc)/.test(f.field)) : c.fields;
        out.push("", "```", ...shared.map((f) => `${fieldLabel(f.field)}: ${valueText(f[side])}`), "```");
        if (shared.length < c.fields.length) out.push("", "Network and BMC settings differ per node: see `--json`.");
      }
      out.push("", "</details>", "");
    }
  }
  const unchanged: string[] = [];
  if (plan.unchanged.nodes) unchanged.push(`${plural(plan.unchanged.nodes, "node")} unchanged`);
  if (plan.unchanged.images) unchanged.push(`${plural(plan.unchanged.images, "image")} unchanged`);
  if (unchanged.length) out.push(`_${unchanged.join(", ")}._`, "");
  return out.join("\n");
}
