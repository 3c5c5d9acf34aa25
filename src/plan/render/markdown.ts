// The plan as a pull-request comment: the summary, a warning naming every wipe, a
// table of grouped changes, and a collapsible detail per group.
import { groupChanges, imagesLine, LABEL, plural, summaryLine, SYMBOL, type ChangeGroup } from "./groups.js";
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
  out.push(...callouts(plan), ...driftSection(plan), ...imagesSection(plan));
  if (plan.nodeChanges.length) {
    const groups = groupChanges(plan.nodeChanges);
    out.push(...nodesTable(groups));
    for (const g of groups) out.push(...groupDetails(g));
  }
  const unchanged: string[] = [];
  if (plan.unchanged.nodes) unchanged.push(`${plural(plan.unchanged.nodes, "node")} unchanged`);
  if (plan.unchanged.images) unchanged.push(`${plural(plan.unchanged.images, "image")} unchanged`);
  if (unchanged.length) out.push(`_${unchanged.join(", ")}._`, "");
  return out.join("\n");
}

/** A caution naming every node whose disks are wiped, then the plan's warnings. */
function callouts(plan: Plan): string[] {
  const out: string[] = [];
  const wipes = plan.nodeChanges.filter((c) => c.wipesDisks).map((c) => c.node);
  if (wipes.length) {
    out.push(
      "> [!CAUTION]",
      `> ${plural(wipes.length, "node")} will have ${wipes.length === 1 ? "its" : "their"} disks wiped: ${compressHostnames(wipes).map(code).join(", ")}`,
      "",
    );
  }
  for (const w of plan.warnings) out.push("> [!WARNING]", `> ${w}`, "");
  return out;
}

function driftSection(plan: Plan): string[] {
  if (!plan.drift.length) return [];
  return ["#### Drift", "", ...plan.drift.map((d) => `- ${code(d.node)}: ${driftLine(d)}`), ""];
}

function imagesSection(plan: Plan): string[] {
  if (!plan.imageChanges.length) return [];
  const rows = plan.imageChanges.map((c) => `| ${code(IMAGE_SYMBOL[c.kind])} | ${code(c.image)} | ${cell(`${c.kind}: ${imageLine(c)}`)} |`);
  return ["#### Images", "", "| | Image | Change |", "|---|---|---|", ...rows, ""];
}

/** One row per group of like changes. */
function nodesTable(groups: ChangeGroup[]): string[] {
  const rows = groups.map((g) => {
    const one = oneLiner(g.sample);
    const what = one ? `${LABEL[g.kind]}: ${one}` : LABEL[g.kind];
    const n = g.nodes.length > 1 ? ` (${g.nodes.length})` : "";
    return `| ${code(SYMBOL[g.kind])} | ${code(g.label)}${n} | ${cell(g.kind === "reimage" ? `**${what}**` : what)} |`;
  });
  return ["#### Nodes", "", "| | Nodes | Change |", "|---|---|---|", ...rows, ""];
}

/** A collapsible block: the group's reasons or changed fields, text diffs, and for installs and removals the settings. */
function groupDetails(g: ChangeGroup): string[] {
  const c = g.sample;
  const out: string[] = [`<details><summary><code>${html(`${SYMBOL[g.kind]} ${g.label}`)}</code> ${html(LABEL[g.kind])}</summary>`, ""];
  const whole = c.kind === "install" || c.kind === "remove";
  if (whole) for (const r of c.reasons) out.push(`- ${r.message}`);
  else {
    for (const f of c.fields) out.push(`- ${code(fieldLine(f))}`);
    for (const r of extraReasons(c)) out.push(`- because: ${r}`);
  }
  for (const f of c.fields) {
    const lines = textDiffLines(f);
    if (lines.length) out.push("", "```diff", ...lines, "```");
  }
  if (whole) {
    const side = c.kind === "install" ? "after" : "before";
    // A group shares everything but per-node addresses; those would mislead here.
    const shared = g.nodes.length > 1 ? c.fields.filter((f) => !/^(network\.|bmc)/.test(f.field)) : c.fields;
    out.push("", "```", ...shared.map((f) => `${fieldLabel(f.field)}: ${valueText(f[side])}`), "```");
    if (shared.length < c.fields.length) out.push("", "Network and BMC settings differ per node: see `--json`.");
  }
  out.push("", "</details>", "");
  return out;
}
