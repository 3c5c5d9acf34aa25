// A disk layout's identity: a digest of its normalized form (name and source position
// left out, so moving or renaming a layout does not wipe disks) and a stable text
// rendering that plans diff line by line.
import { createHash } from "node:crypto";
import type { DiskLayout, DiskMatch, SizeSpec } from "../config/types.js";

/** JSON with object keys sorted, so equal values always give equal text. */
export function canonicalJson(v: unknown): string {
  if (v === null || typeof v !== "object") return JSON.stringify(v) ?? "null";
  if (Array.isArray(v)) return `[${v.map(canonicalJson).join(",")}]`;
  const o = v as Record<string, unknown>;
  const keys = Object.keys(o)
    .filter((k) => o[k] !== undefined)
    .sort();
  return `{${keys.map((k) => `${JSON.stringify(k)}:${canonicalJson(o[k])}`).join(",")}}`;
}

export function sha256(text: string): string {
  return "sha256:" + createHash("sha256").update(text).digest("hex");
}

/** LVM lists are absent (left out) for layouts without LVM, so their digests are what they were before LVM existed. */
export function layoutDigest(layout: DiskLayout): string {
  return sha256(canonicalJson({ disks: layout.disks, raid: layout.raid, volumeGroups: layout.volumeGroups, logicalVolumes: layout.logicalVolumes }));
}

const UNITS = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];

export function formatBytes(n: number): string {
  let v = n;
  let u = 0;
  while (v >= 1024 && u < UNITS.length - 1 && Number.isInteger(v / 1024)) {
    v /= 1024;
    u++;
  }
  if (u === 0 && n >= 1024) {
    // Not a whole number of KiB: show a rounded figure.
    while (v >= 1024 && u < UNITS.length - 1) {
      v /= 1024;
      u++;
    }
    return `${v.toFixed(1)} ${UNITS[u]}`;
  }
  return `${v} ${UNITS[u]}`;
}

function size(s: SizeSpec): string {
  switch (s.kind) {
    case "bytes":
      return formatBytes(s.bytes);
    case "percent":
      return `${s.percent}%`;
    case "rest":
      return "rest";
  }
}

function opt(label: string, v: string | number | undefined): string {
  return v === undefined ? "" : ` ${label}=${v}`;
}

/** One line per disk, partition, array, volume group and logical volume; what a reviewer reads in a plan. */
export function layoutText(layout: DiskLayout): string {
  const lines: string[] = [];
  for (const d of layout.disks) {
    const m = d.match;
    const match = matchText(m);
    lines.push(`disk ${d.name} table=${d.table}${match ? " match:" + match : ""}`);
    for (const p of d.partitions) {
      const mount = p.mount ? ` mount=${p.mount}` : "";
      const mo = p.mountOptions.length ? ` options=${p.mountOptions.join(",")}` : "";
      lines.push(`  part ${p.name} size=${size(p.size)} type=${p.type} fs=${p.fs}${mount}${mo}${opt("label", p.label)}`);
    }
  }
  for (const r of layout.raid) {
    const mount = r.mount ? ` mount=${r.mount}` : "";
    const mo = r.mountOptions.length ? ` options=${r.mountOptions.join(",")}` : "";
    lines.push(`raid ${r.name} level=${r.level} members=${r.members.join(",")} fs=${r.fs}${mount}${mo}${opt("label", r.label)}`);
  }
  for (const g of layout.volumeGroups ?? []) lines.push(`vg ${g.name} devices=${g.devices.join(",")}`);
  for (const lv of layout.logicalVolumes ?? []) {
    const mount = lv.mount ? ` mount=${lv.mount}` : "";
    const mo = lv.mountOptions.length ? ` options=${lv.mountOptions.join(",")}` : "";
    lines.push(`  lv ${lv.vg}/${lv.name} size=${size(lv.size)} fs=${lv.fs}${mount}${mo}${opt("label", lv.label)}`);
  }
  return lines.join("\n") + "\n";
}

function matchText(m: DiskMatch): string {
  const bytes = (n: number | undefined) => (n === undefined ? undefined : formatBytes(n));
  const rot = m.rotational === undefined ? undefined : String(m.rotational);
  return `${opt("device", m.device)}${opt("min_size", bytes(m.minSize))}${opt("max_size", bytes(m.maxSize))}${opt("serial", m.serial)}${opt("wwn", m.wwn)}${opt("model", m.model)}${opt("vendor", m.vendor)}${opt("rotational", rot)}`;
}

const identities = new WeakMap<DiskLayout, { digest: string; text: string }>();

/** Digest and text of a layout, computed once per layout object. */
export function layoutIdentity(layout: DiskLayout): { digest: string; text: string } {
  let v = identities.get(layout);
  if (!v) identities.set(layout, (v = { digest: layoutDigest(layout), text: layoutText(layout) }));
  return v;
}
