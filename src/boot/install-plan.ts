// Renders one node's install plan from the normalized config (pure and deterministic:
// the same inputs give byte-identical JSON, pinned by golden tests).
import type { DiskLayout, FsType, Image, Network, Node } from "../config/types.js";
import { renderBmc } from "./bmc.js";
import { InstallPlanError } from "./errors.js";
import { layoutFingerprint, type FingerprintInput } from "./fingerprint.js";
import { mountDepth, renderFstab } from "./fstab.js";
import { LabelAllocator } from "./labels.js";
import { identityFiles, NODE_IDENTITY } from "./identity.js";
import { networkFiles } from "./network-config.js";
import { INSTALL_PLAN_VERSION, type DeviceRef, type InstallPlan, type PlanDisk, type PlanFile, type PlanFilesystem, type PlanRaid } from "./plan-types.js";
import { isSafeWord } from "./shell-quote.js";
import { renderSfdisk, sizeText } from "./sfdisk.js";
import { upReporterFiles } from "./up-reporter.js";

export const FINGERPRINT_FILE = "/etc/metalform/layout";

export interface InstallPlanInput {
  node: Node;
  layout: DiskLayout;
  image: Image;
  network: Network;
  /** Digest of the image tree the node will sync (written to /etc/metalform/image). */
  imageDigest: string;
  /** rsync URL of the image tree, ending in "/", e.g. rsync://10.0.0.1:873/img-compute/. */
  rsyncUrl: string;
  /** Base URL of this node in the installer API (api.ts routes), no trailing slash. */
  apiUrl: string;
  /** The node's `up` token (tokens.ts), for the UP reporter in the installed system. */
  upToken: string;
  /** The operator named this node with --allow-wipe: a protected node may be wiped. */
  allowWipe?: boolean;
}

function mkfsArgv(fs: Exclude<FsType, "none">, label: string): string[] {
  switch (fs) {
    case "ext4":
      return ["mkfs.ext4", "-F", "-q", "-L", label];
    case "xfs":
      return ["mkfs.xfs", "-f", "-q", "-L", label];
    case "vfat":
      return ["mkfs.vfat", "-n", label];
    case "swap":
      return ["mkswap", "-L", label];
  }
}

function fsckArgv(fs: Exclude<FsType, "none">): string[] {
  switch (fs) {
    case "ext4":
      return ["e2fsck", "-p"];
    case "vfat":
      return ["fsck.vfat", "-a"];
    case "xfs": // xfs checks its log at mount time; xfs_repair is not a boot-time fsck
    case "swap":
      return [];
  }
}

/** Excludes: config's (image first, then node) plus what the installer itself owns. */
function excludes(base: string[], extra: string[]): string[] {
  const out: string[] = [];
  for (const p of [...base, ...extra]) if (!out.includes(p)) out.push(p);
  return out;
}

export function renderInstallPlan(input: InstallPlanInput): InstallPlan {
  const { node, layout, image, network } = input;
  const fail = (msg: string): never => {
    throw new InstallPlanError(msg, node.name);
  };
  if (!input.rsyncUrl.startsWith("rsync://") || !input.rsyncUrl.endsWith("/")) fail(`rsync URL must be rsync://.../ (got ${input.rsyncUrl})`);
  if (!/^https?:\/\/[^\s'"]+$/.test(input.apiUrl)) fail(`API URL must be http(s) without spaces (got ${input.apiUrl})`);

  const labels = new LabelAllocator();
  const partRef = new Map<string, DeviceRef>(); // partition name -> ref
  const disks: PlanDisk[] = [];
  const filesystems: PlanFilesystem[] = [];
  const fp: FingerprintInput = { disks: [], raid: [] };

  const addFs = (device: DeviceRef, fs: FsType, label: string | undefined, mount: string | undefined, options: string[], what: string, name: string) => {
    if (fs === "none") return undefined;
    if (mount !== undefined && (!mount.startsWith("/") || !isSafeWord(mount))) fail(`${what}: mount point ${JSON.stringify(mount)} is not an absolute path of plain characters`);
    if (fs === "swap" && mount !== undefined) fail(`${what}: swap has no mount point`);
    for (const o of options) if (!isSafeWord(o)) fail(`${what}: mount option ${JSON.stringify(o)} has unusual characters`);
    const l = labels.label(fs, label, mount, name);
    const entry: PlanFilesystem = { device, fs, label: l, mkfs: mkfsArgv(fs, l), fsck: fsckArgv(fs), options };
    if (mount !== undefined) entry.mount = mount;
    filesystems.push(entry);
    return l;
  };

  layout.disks.forEach((disk, di) => {
    const sfdisk = renderSfdisk(disk, node.name);
    const pd: PlanDisk = { name: disk.name, match: { ...disk.match }, table: disk.table, sfdisk, partitions: [] };
    const fpd = { table: disk.table, partitions: [] as FingerprintDisk["partitions"] };
    disk.partitions.forEach((p, pi) => {
      const ref = `part:${di}:${pi + 1}`;
      if (partRef.has(p.name)) fail(`partition name ${p.name} is used twice`);
      partRef.set(p.name, ref);
      pd.partitions.push({ name: p.name, number: pi + 1, device: ref });
      const label = addFs(ref, p.fs, p.label, p.mount, p.mountOptions, `partition ${p.name}`, p.name);
      fpd.partitions.push({ size: sizeText(p.size), type: p.type, fs: p.fs, label: label ?? "" });
    });
    disks.push(pd);
    fp.disks.push(fpd);
  });

  const raid: PlanRaid[] = layout.raid.map((r, ri) => {
    const members = r.members.map((m) => partRef.get(m) ?? fail(`RAID ${r.name}: member ${m} is not a partition of this layout`));
    const min = r.level === 5 ? 3 : r.level === 10 ? 4 : 2;
    if (members.length < min) fail(`RAID ${r.name}: level ${r.level} needs at least ${min} members`);
    if (!/^[A-Za-z0-9_-]{1,32}$/.test(r.name)) fail(`RAID name ${JSON.stringify(r.name)} has unusual characters`);
    const device = `/dev/md${ri}`;
    const ref = `md:${ri}`;
    const label = addFs(ref, r.fs, r.label, r.mount, r.mountOptions, `RAID ${r.name}`, r.name);
    fp.raid.push({ level: r.level, members: [...r.members], fs: r.fs, label: label ?? "" });
    return {
      name: r.name,
      device,
      device_ref: ref,
      level: r.level,
      members,
      create: ["mdadm", "--create", device, "--run", "--metadata=1.2", `--level=${r.level}`, `--raid-devices=${members.length}`, `--name=${r.name}`, "--homehost=any"],
    };
  });

  // Stable sort by depth (then path): parents are mounted before their children.
  filesystems.sort((a, b) => mountDepth(a.mount) - mountDepth(b.mount) || (a.mount ?? "").localeCompare(b.mount ?? ""));
  if (!filesystems.some((f) => f.mount === "/")) fail(`disk layout ${layout.name} has no file system mounted at /`);
  const mounts = filesystems.filter((f) => f.mount).map((f) => f.mount);
  if (new Set(mounts).size !== mounts.length) fail(`disk layout ${layout.name} mounts two file systems at the same path`);

  const fingerprint = layoutFingerprint(fp);
  const up = upReporterFiles(input.apiUrl, input.upToken, input.imageDigest);
  const net = networkFiles(node, network);
  const files: PlanFile[] = [
    ...net.files,
    { path: "/etc/fstab", mode: "0644", content: renderFstab(filesystems) },
    { path: FINGERPRINT_FILE, mode: "0644", content: fingerprint + "\n" },
    ...up.files,
    ...identityFiles(node),
  ];
  const symlinks = [...up.symlinks, ...net.symlinks];

  // rsync must neither copy over nor delete what the installer writes itself (nor the
  // node's own identity), nor the lost+found directories mkfs.ext4 makes at the root
  // of each ext4 file system.
  const owned = [...new Set(files.map((f) => f.path)), ...symlinks.map((s) => s.path), NODE_IDENTITY.machineId, NODE_IDENTITY.sshHostKeys];
  const lostFound = filesystems.filter((f) => f.fs === "ext4" && f.mount).map((f) => (f.mount === "/" ? "" : f.mount) + "/lost+found");
  const extra = [...lostFound, ...owned];
  for (const pat of [...image.excludeSync, ...node.excludeSync, ...image.excludeFull, ...node.excludeFull]) {
    if (/[\n\r]/.test(pat)) fail(`exclude pattern ${JSON.stringify(pat)} spans lines`);
  }

  const plan: InstallPlan = {
    version: INSTALL_PLAN_VERSION,
    node: node.name,
    hostname: node.hostname,
    mac: node.mac,
    mode: node.installMode,
    protect: node.protect && !input.allowWipe,
    fingerprint,
    fingerprintFile: FINGERPRINT_FILE,
    image: { name: image.name, digest: input.imageDigest, rsync: input.rsyncUrl },
    disks,
    raid,
    filesystems,
    exclude: {
      sync: excludes([...image.excludeSync, ...node.excludeSync], extra),
      full: excludes([...image.excludeFull, ...node.excludeFull], extra),
    },
    mountPoints: filesystems.filter((f) => f.mount && f.mount !== "/").map((f) => f.mount!),
    files,
    symlinks,
    identity: { ...NODE_IDENTITY },
  };
  const bmc = renderBmc(node.bmc);
  if (bmc) plan.bmc = bmc;
  return plan;
}

type FingerprintDisk = FingerprintInput["disks"][number];
