// Which disk of a node each disk of its layout is: the match rules normalized for the
// installer (`diskSelector`, carried in the plan so the shell only compares strings),
// and the decision itself as a pure function (`selectDisks`) over the facts the
// installer reads from sysfs. installer-init.sh's match_disks implements the same
// rules; test/boot/disk-select.test.ts pins the semantics and the QEMU test the shell.
//
// Rules: every rule given must hold. Disks whose rules name one disk (device, serial,
// wwn) are chosen first, then the others in layout order among the disks left. Disks
// of the layout with identical rules share their candidates (two RAID halves matched
// by size take the two disks in kernel order); more candidates than such disks is
// ambiguous, none is missing: both refuse, listing the candidates, before anything is written.
import type { DiskMatch } from "../config/types.js";

/** The plan's normalized form of a disk's match rules. */
export interface DiskSelector {
  /** Kernel name from `/dev/NAME` (e.g. `sda`, `nvme0n1`). */
  kernelName?: string;
  /** udev by-path name from `/dev/disk/by-path/ID` (the installer derives these from sysfs). */
  byPath?: string;
  /** udev by-id name (other than wwn-) from `/dev/disk/by-id/ID`: matches a disk whose serial ends it. */
  byId?: string;
  serial?: string;
  /** Lower case; NAA names as `0x…` (udev's form). */
  wwn?: string;
  /** Lower-case substrings. */
  model?: string;
  vendor?: string;
  minSize?: number;
  maxSize?: number;
  rotational?: boolean;
}

/** What the installer reads about one candidate disk. */
export interface DiskFacts {
  /** Kernel name, e.g. `sda`. */
  name: string;
  bytes: number;
  serial?: string;
  wwn?: string;
  model?: string;
  vendor?: string;
  rotational?: boolean;
  /** by-path names of the disk (derived from its sysfs path). */
  paths: string[];
}

/** udev's WWN spelling: lower case, NAA identifiers as 0x… ; sysfs `naa.` and a bare hex number become that. */
export function normalizeWwn(w: string): string {
  const v = w.trim().toLowerCase();
  if (v.startsWith("naa.")) return "0x" + v.slice(4);
  if (/^[0-9a-f]{16}([0-9a-f]{16})?$/.test(v)) return "0x" + v;
  return v;
}

export function diskSelector(m: DiskMatch): DiskSelector {
  const s: DiskSelector = {};
  const dev = m.device;
  if (dev?.startsWith("/dev/disk/by-path/")) s.byPath = dev.slice("/dev/disk/by-path/".length);
  else if (dev?.startsWith("/dev/disk/by-id/")) {
    const id = dev.slice("/dev/disk/by-id/".length);
    if (id.startsWith("wwn-")) s.wwn = normalizeWwn(id.slice(4));
    else if (id.startsWith("nvme-eui.")) s.wwn = normalizeWwn(id.slice(5));
    else s.byId = id;
  } else if (dev !== undefined) s.kernelName = dev.slice("/dev/".length);
  if (m.serial !== undefined) s.serial = m.serial.trim();
  if (m.wwn !== undefined) s.wwn = normalizeWwn(m.wwn);
  if (m.model !== undefined) s.model = m.model.toLowerCase();
  if (m.vendor !== undefined) s.vendor = m.vendor.toLowerCase();
  if (m.minSize !== undefined) s.minSize = m.minSize;
  if (m.maxSize !== undefined) s.maxSize = m.maxSize;
  if (m.rotational !== undefined) s.rotational = m.rotational;
  return s;
}

/** Rules that name one disk: such disks are chosen before the others. */
export function namesOneDisk(s: DiskSelector): boolean {
  return s.kernelName !== undefined || s.byPath !== undefined || s.byId !== undefined || s.serial !== undefined || s.wwn !== undefined;
}

/** by-id names are `<bus>-<serial>` or `<bus>-<model>_<serial>` with blanks as `_`. */
function byIdMatches(id: string, serial: string | undefined): boolean {
  if (!serial) return false;
  const rest = id.slice(id.indexOf("-") + 1);
  const s = serial.replace(/ /g, "_");
  return rest === s || rest.endsWith("_" + s);
}

export function diskMatches(s: DiskSelector, f: DiskFacts): boolean {
  const has = (v: string | undefined, sub: string) => (v ?? "").toLowerCase().includes(sub);
  if (s.kernelName !== undefined && f.name !== s.kernelName) return false;
  if (s.byPath !== undefined && !f.paths.includes(s.byPath)) return false;
  if (s.byId !== undefined && !byIdMatches(s.byId, f.serial)) return false;
  if (s.serial !== undefined && (f.serial ?? "").trim() !== s.serial) return false;
  if (s.wwn !== undefined && (f.wwn === undefined || normalizeWwn(f.wwn) !== s.wwn)) return false;
  if (s.model !== undefined && !has(f.model, s.model)) return false;
  if (s.vendor !== undefined && !has(f.vendor, s.vendor)) return false;
  if (s.minSize !== undefined && f.bytes < s.minSize) return false;
  if (s.maxSize !== undefined && f.bytes > s.maxSize) return false;
  if (s.rotational !== undefined && f.rotational !== s.rotational) return false;
  return true;
}

/** Rules as one comparable text (the shell builds the same key from its variables). */
function ruleKey(s: DiskSelector): string {
  return JSON.stringify([s.kernelName, s.byPath, s.byId, s.serial, s.wwn, s.model, s.vendor, s.minSize, s.maxSize, s.rotational]);
}

/** The chosen kernel names in layout order, or the disk that refused: ambiguous (its matching candidates) or missing (the disks left). */
export type Selection = { ok: true; devices: string[] } | { ok: false; disk: string; reason: "missing" | "ambiguous"; candidates: string[] };

/** Chooses a candidate for every disk of the layout (kernel names, in layout order) or refuses. `facts` are in kernel order. */
export function selectDisks(disks: ReadonlyArray<{ name: string; selector: DiskSelector }>, facts: readonly DiskFacts[]): Selection {
  const order = [...disks.keys()].sort((a, b) => Number(namesOneDisk(disks[b]!.selector)) - Number(namesOneDisk(disks[a]!.selector)) || a - b);
  const chosen = new Array<string>(disks.length);
  const used = new Set<string>();
  for (const [pos, i] of order.entries()) {
    const d = disks[i]!;
    const candidates = facts.filter((f) => !used.has(f.name) && diskMatches(d.selector, f)).map((f) => f.name);
    // Disks still to choose with these very rules: they share the candidates.
    const peers = order.slice(pos).filter((j) => ruleKey(disks[j]!.selector) === ruleKey(d.selector)).length;
    if (candidates.length > peers) return { ok: false, disk: d.name, reason: "ambiguous", candidates };
    if (candidates.length === 0) return { ok: false, disk: d.name, reason: "missing", candidates: facts.filter((f) => !used.has(f.name)).map((f) => f.name) };
    chosen[i] = candidates[0]!;
    used.add(candidates[0]!);
  }
  return { ok: true, devices: chosen };
}
