// Disk layouts, resolved: sizes parsed, partition names and types defaulted. (Images,
// with their sources, are resolved in image.ts.)
import { errorAt, type Diagnostic } from "./diagnostics.js";
import { keyPosOf, posOf, type Located, type RawDisk, type RawLayout, type RawRaid } from "./merge.js";
import { parseBytes, parseSizeSpec } from "./size.js";
import type { Disk, DiskLayout, RaidArray } from "./types.js";

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
    d.partitions.forEach((p, pi) => {
      const size = parseSizeSpec(p.size);
      if (!size || (size.kind === "bytes" && size.bytes === 0)) bad(`size of partition ${pi + 1}`, p.size, "partitions", pi, "size");
    });
  });
  return ok;
}

/** A layout whose sizes passed checkSizes. */
export function resolveLayout(name: string, l: Located<RawLayout>): DiskLayout {
  return { name, disks: l.value.disks.map(resolveDisk), raid: (l.value.raid ?? []).map(resolveRaid), pos: keyPosOf(l.where) };
}

function resolveDisk(d: RawDisk): Disk {
  return {
    name: d.name,
    match: {
      ...(d.match.device ? { device: d.match.device } : {}),
      ...(d.match.minSize ? { minSize: parseBytes(d.match.minSize)! } : {}),
      ...(d.match.serial ? { serial: d.match.serial } : {}),
      ...(d.match.model ? { model: d.match.model } : {}),
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
