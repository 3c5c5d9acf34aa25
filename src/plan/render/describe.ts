// Text pieces shared by the terminal and Markdown renderers.
import { structuredPatch } from "diff";
import { formatBytes } from "../layout.js";
import { changeText, fieldLabel, filesChangeText, shortDigest, valueText } from "../format.js";
import type { Drift, FieldChange, ImageChange, NodeChange } from "../types.js";

/** `disk layout: std bc22d7 → big 5cab01`; compact (one-liners): `image compute a1b2c3 → d4e5f6`. */
export function fieldLine(f: FieldChange, opts: { compact?: boolean } = {}): string {
  const compact = opts.compact ?? false;
  const mark = f.forcesReimage ? "  # forces reimage" : "";
  const label = fieldLabel(f.field) + (compact ? "" : ":");
  if (f.field === "size" && typeof f.after === "number" && typeof f.before === "number") {
    return `${label} ${formatBytes(f.before)} → ${formatBytes(f.after)}${mark}`;
  }
  if (f.field === "files") return `${label} ${filesChangeText(f.before, f.after)}`;
  return `${label} ${changeText(f.before, f.after)}${mark}`;
}

/** Unified-diff lines ("@@", "+", "-", " ") between a field's multi-line texts; empty without both. */
export function textDiffLines(f: FieldChange): string[] {
  if (f.beforeText === undefined || f.afterText === undefined) return [];
  const patch = structuredPatch("before", "after", f.beforeText, f.afterText, "", "", { context: 3 });
  const out: string[] = [];
  for (const h of patch.hunks) {
    out.push(`@@ -${h.oldStart},${h.oldLines} +${h.newStart},${h.newLines} @@`);
    for (const l of h.lines) if (!l.startsWith("\\")) out.push(l);
  }
  return out;
}

/** What an install or a compact change says on its one line. */
export function oneLiner(c: NodeChange): string | undefined {
  if (c.kind === "install") {
    const a = c.after!;
    const why = c.reasons[0]?.code === "never-installed" ? "  (never installed)" : "";
    return `image ${valueText(a.image)}, disk layout ${valueText(a.diskLayout)}${why}`;
  }
  if (c.kind === "remove") return "DHCP reservation and boot files go; disks are not touched";
  if (c.kind === "reimage") return undefined;
  if (c.fields.length === 0) return c.reasons.map((r) => r.message).join("; ");
  if (c.fields.length === 1 && c.fields[0]!.beforeText === undefined && c.reasons.every((r) => !/^(image-not-synced|install-skipped)$/.test(r.code))) {
    const rollback = c.reasons.find((r) => r.code === "image-rollback");
    const delivery = c.reasons.find((r) => r.code === "sync-boot" || r.code === "change-not-delivered");
    return fieldLine(c.fields[0]!, { compact: true }) + (rollback ? `; ${rollback.message}` : "") + (delivery ? `  (${delivery.message})` : "");
  }
  return undefined;
}

/** Reasons worth printing under a block: those the field lines do not already say. */
export function extraReasons(c: NodeChange): string[] {
  return c.reasons
    .filter(
      (r) =>
        c.kind === "reimage" ||
        /^(drift-.*|image-drift|image-rollback|image-not-synced|install-skipped|install-mode-full|layout-mismatch-on-disk|sync-boot|change-not-delivered)$/.test(r.code),
    )
    .map((r) => r.message);
}

export function driftLine(d: Drift): string {
  const what = d.field === "image_digest" ? "image" : "disk layout on disk";
  return `${what}: state expects ${shortDigest(d.expected)}, node reports ${shortDigest(d.reported)} (phase ${d.phase}, ${d.reportedAt})`;
}

export function imageLine(c: ImageChange): string {
  if (c.kind === "create") return `digest ${shortDigest(c.after!.digest)}, size ${formatBytes(c.after!.size)}`;
  if (c.kind === "delete") return c.reasons.map((r) => r.message).join("; ");
  const rollback = c.reasons.find((r) => r.code === "image-rollback");
  return (rollback ? `${rollback.message}: ` : "") + c.fields.map((f) => fieldLine(f, { compact: true })).join(", ");
}

export const IMAGE_SYMBOL = { create: "+", update: "~", delete: "-" } as const;
