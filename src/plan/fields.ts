// Field-by-field comparison of applied attributes (state) with desired ones.
import type { AppliedBmc, AppliedFirmware, AppliedNode } from "../state/types.js";
import { interfaceChanges } from "./interfaces.js";
import type { FieldChange } from "./types.js";

/** Equality of attribute values; the common cases (strings, string lists) without serializing. */
function same(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== "object" || typeof b !== "object" || a === null || b === null) return false;
  if (Array.isArray(a) || Array.isArray(b)) {
    return Array.isArray(a) && Array.isArray(b) && a.length === b.length && a.every((x, i) => same(x, b[i]));
  }
  const ao = a as Record<string, unknown>;
  const bo = b as Record<string, unknown>;
  const keys = new Set([...Object.keys(ao), ...Object.keys(bo)]);
  for (const k of keys) if (!same(ao[k], bo[k])) return false;
  return true;
}

export interface LayoutTexts {
  /** Normalized text of the layout with this digest, when known. */
  text(digest: string): string | undefined;
}

const BMC_KEYS: Array<keyof AppliedBmc> = ["driver", "address", "netmask", "gateway", "vlan", "channel", "userId", "privilege", "user", "port", "password"];

function plain(field: string, before: unknown, after: unknown, out: FieldChange[]): void {
  if (!same(before, after)) out.push({ field, before: before ?? null, after: after ?? null, forcesReimage: false });
}

const BIOS: AppliedFirmware = { mode: "bios", secureBoot: false };

export function diffApplied(before: AppliedNode, after: AppliedNode, texts: LayoutTexts): FieldChange[] {
  const out: FieldChange[] = [];
  if (before.image.name !== after.image.name || before.image.digest !== after.image.digest) {
    out.push({ field: "image", before: { ...before.image }, after: { ...after.image }, forcesReimage: false });
  }
  const bl = before.diskLayout;
  const al = after.diskLayout;
  if (bl.digest !== al.digest) {
    const fc: FieldChange = { field: "disk_layout", before: { ...bl }, after: { ...al }, forcesReimage: true };
    const bt = texts.text(bl.digest);
    const at = texts.text(al.digest);
    if (bt !== undefined) fc.beforeText = bt;
    if (at !== undefined) fc.afterText = at;
    out.push(fc);
  } else if (bl.name !== al.name) {
    out.push({ field: "disk_layout", before: { ...bl }, after: { ...al }, forcesReimage: false });
  }
  plain("network.ip", before.network.ip, after.network.ip, out);
  plain("network.mac", before.network.mac, after.network.mac, out);
  plain("network.hostname", before.network.hostname, after.network.hostname, out);
  out.push(...interfaceChanges(before.network.interfaces ?? [], after.network.interfaces ?? []));
  plain("boot", before.boot, after.boot, out);
  plain("install_mode", before.installMode, after.installMode, out);
  plain("kernel_args", before.kernelArgs, after.kernelArgs, out);
  plain("exclude_sync", before.excludeSync, after.excludeSync, out);
  plain("exclude_full", before.excludeFull, after.excludeFull, out);
  plain("firmware", before.firmware ?? BIOS, after.firmware ?? BIOS, out);
  plain("files", before.files ?? [], after.files ?? [], out);
  plain("scripts", before.scripts ?? {}, after.scripts ?? {}, out);
  if (!before.bmc || !after.bmc) {
    plain("bmc", before.bmc, after.bmc, out);
  } else {
    for (const k of BMC_KEYS) plain(`bmc.${k}`, before.bmc[k], after.bmc[k], out);
  }
  return out;
}
