// Disk layouts, resolved: sizes parsed, partition names and types defaulted. (Images,
// with their sources, are resolved in image.ts.)
import { errorAt, type Diagnostic } from "./diagnostics.js";
import { keyPosOf, posOf, type Located, type RawDisk, type RawLayout, type RawLogicalVolume, type RawRaid } from "./merge.js";
import { parseBytes, parseSizeSpec } from "./size.js";
import type { Disk, DiskLayout, LogicalVolume, RaidArray } from "./types.js";

/**
 * Sizes the schema's pattern admits but that mean nothing: zero, 0%, more than
 * 100%, or more bytes than a number holds exactly. The layout is set aside.
 */
export function checkSizes(name: string, l: Located<RawLayout>, diags: Diagnostic[]): boolean {
  let ok = true;
  l.value.disks.forEach((d, di) => {
    const bad = (what: string, value: string, ...sub: (string | number)[]) => {
      diags.push(
        errorAt(
          "invalid-size",
          `disk layout "${name}": ${what} "${value}" of disk "${d.name}" must be more than zero and at most 8 PiB (or a percentage up to 100%)`,
          posOf(l.where, "disks", di, ...sub),
        ),
      );
      ok = false;
    };
    if (d.match.minSize !== undefined && parseBytes(d.match.minSize) === undefined) bad("minimum size", d.match.minSize, "match", "minSize");
    if (d.match.maxSize !== undefined && !parseBytes(d.match.maxSize)) bad("maximum size", d.match.maxSize, "match", "maxSize");
    d.partitions.forEach((p, pi) => {
      const size = parseSizeSpec(p.size);
      if (!size || (size.kind === "bytes" && size.bytes === 0)) bad(`size of partition ${pi + 1}`, p.size, "partitions", pi, "size");
    });
  });
  (l.value.logicalVolumes ?? []).forEach((lv, i) => {
    const size = parseSizeSpec(lv.size);
    if (size && !(size.kind === "bytes" && size.bytes === 0)) return;
    const msg = `disk layout "${name}": size "${lv.size}" of logical volume "${lv.name}" must be more than zero and at most 8 PiB (or a percentage of its volume group up to 100%)`;
    diags.push(errorAt("invalid-size", msg, posOf(l.where, "logicalVolumes", i, "size")));
    ok = false;
  });
  return ok;
}

/** A layout whose sizes passed checkSizes. LVM lists are set only when given, so a layout without LVM keeps its digest. */
export function resolveLayout(name: string, l: Located<RawLayout>): DiskLayout {
  const { volumeGroups: vgs, logicalVolumes: lvs } = l.value;
  return {
    name,
    disks: l.value.disks.map(resolveDisk),
    raid: (l.value.raid ?? []).map(resolveRaid),
    ...(vgs?.length ? { volumeGroups: vgs.map((g) => ({ name: g.name, devices: g.devices })) } : {}),
    ...(lvs?.length ? { logicalVolumes: lvs.map(resolveLogicalVolume) } : {}),
    pos: keyPosOf(l.where),
  };
}

function resolveDisk(d: RawDisk): Disk {
  return {
    name: d.name,
    match: {
      ...(d.match.device ? { device: d.match.device } : {}),
      ...(d.match.minSize ? { minSize: parseBytes(d.match.minSize)! } : {}),
      ...(d.match.maxSize ? { maxSize: parseBytes(d.match.maxSize)! } : {}),
      ...(d.match.serial ? { serial: d.match.serial } : {}),
      ...(d.match.wwn ? { wwn: d.match.wwn } : {}),
      ...(d.match.model ? { model: d.match.model } : {}),
      ...(d.match.vendor ? { vendor: d.match.vendor } : {}),
      ...(d.match.rotational !== undefined ? { rotational: d.match.rotational } : {}),
    },
    table: d.table ?? "gpt",
    partitions: d.partitions.map((p, i) => {
      const fs = p.fs ?? "none";
      return {
        name: p.name ?? `${d.name}-p${i + 1}`,
        size: parseSizeSpec(p.size)!,
        fs,
        type: p.type ?? (fs === "swap" ? "swap" : fs === "vfat" && p.mount === "/boot/efi" ? "esp" : "linux"),
        ...(p.mount ? { mount: p.mount } : {}),
        mountOptions: p.mountOptions ?? [],
        ...(p.label ? { label: p.label } : {}),
      };
    }),
  };
}

function resolveRaid(r: RawRaid): RaidArray {
  return {
    name: r.name,
    level: r.level,
    members: r.members,
    fs: r.fs ?? "none",
    ...(r.mount ? { mount: r.mount } : {}),
    mountOptions: r.mountOptions ?? [],
    ...(r.label ? { label: r.label } : {}),
  };
}

function resolveLogicalVolume(lv: RawLogicalVolume): LogicalVolume {
  return {
    name: lv.name,
    vg: lv.vg,
    size: parseSizeSpec(lv.size)!,
    fs: lv.fs ?? "none",
    ...(lv.mount ? { mount: lv.mount } : {}),
    mountOptions: lv.mountOptions ?? [],
    ...(lv.label ? { label: lv.label } : {}),
  };
}
