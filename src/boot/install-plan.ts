// Renders one node's install plan from the normalized config (pure and deterministic:
// the same inputs give byte-identical JSON, pinned by golden tests).
import type { DiskLayout, FsType, Image, Network, Node } from "../config/types.js";
import { renderBmc } from "./bmc.js";
import { renderBootLoader } from "./bootloader.js";
import { InstallPlanError } from "./errors.js";
import { diskSelector } from "./disk-select.js";
import { layoutFingerprint, type FingerprintInput } from "./fingerprint.js";
import { mountDepth, renderFstab } from "./fstab.js";
import { identityFiles, NODE_IDENTITY } from "./identity.js";
import { LabelAllocator } from "./labels.js";
import { networkFiles } from "./network-config.js";
import { nodeValues, renderNodeFiles, scriptEnv } from "./node-files.js";
import { lvcreateArgv, lvmCreationOrder } from "./lvm.js";
import {
  INSTALL_PLAN_VERSION,
  type DeviceRef,
  type InstallPlan,
  type PlanDisk,
  type PlanFile,
  type PlanFilesystem,
  type PlanLogicalVolume,
  type PlanRaid,
  type PlanVolumeGroup,
} from "./plan-types.js";
import { isSafeWord } from "./shell-quote.js";
import { renderSfdisk, sizeText } from "./sfdisk.js";
import { NODE_CREDENTIAL_FILE, upReporterFiles } from "./up-reporter.js";
import { AGENT_BUSYBOX, nodeAgentFiles } from "./node-agent.js";

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
  /** The node credential (installer-api/node-credentials.ts), for the UP reporter in the installed system. */
  nodeCredential: string;
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
  const { node, layout, image } = input;
  const fail = (msg: string): never => {
    throw new InstallPlanError(msg, node.name);
  };
  if (!input.rsyncUrl.startsWith("rsync://") || !input.rsyncUrl.endsWith("/")) fail(`rsync URL must be rsync://.../ (got ${input.rsyncUrl})`);
  if (!/^https?:\/\/[^\s'"]+$/.test(input.apiUrl)) fail(`API URL must be http(s) without spaces (got ${input.apiUrl})`);
  const storage = new StoragePlan(node.name, fail);
  layout.disks.forEach((disk, di) => storage.addDisk(disk, di));
  const raid = layout.raid.map((r, ri) => storage.addRaid(r, ri));
  const lvm = storage.addLvm(layout);
  const filesystems = storage.mountOrder(layout.name);
  const fingerprint = layoutFingerprint(storage.fingerprint);
  const boot = renderBootLoader(node, image, layout);
  const { files, symlinks } = installedFiles(input, { filesystems, fingerprint, extra: "files" in boot ? boot.files : [] });
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
    disks: storage.disks,
    raid,
    ...lvm,
    filesystems,
    exclude: syncExcludes(input, { filesystems, files, symlinks, fail }),
    mountPoints: filesystems.filter((f) => f.mount && f.mount !== "/").map((f) => f.mount!),
    files,
    symlinks,
    identity: { ...NODE_IDENTITY },
    ...("bootLoader" in boot ? { bootLoader: boot.bootLoader } : { bootLoaderWarning: boot.warning }),
  };
  const bmc = renderBmc(node.bmc);
  if (bmc) plan.bmc = bmc;
  if (node.initialize || node.finalize) {
    plan.scripts = {
      ...(node.initialize ? { initialize: node.initialize.content } : {}),
      ...(node.finalize ? { finalize: node.finalize.content } : {}),
      env: scriptEnv(nodeValues(node, input.network)),
    };
  }
  return plan;
}

/** What a partition or RAID array carries: a file system, where it is mounted and how. */
interface FsSpec {
  fs: FsType;
  label?: string;
  mount?: string;
  mountOptions: string[];
}

/** A layout's disks, RAID arrays and file systems as the installer sees them, gathering the fingerprint's input on the way. */
class StoragePlan {
  readonly disks: PlanDisk[] = [];
  readonly fingerprint: FingerprintInput = { disks: [], raid: [] };
  private readonly filesystems: PlanFilesystem[] = [];
  private readonly labels = new LabelAllocator();
  private readonly partRef = new Map<string, DeviceRef>(); // partition name -> ref
  private readonly raidRef = new Map<string, DeviceRef>(); // array name -> ref

  constructor(
    private readonly nodeName: string,
    private readonly fail: (msg: string) => never,
  ) {}

  addDisk(disk: DiskLayout["disks"][number], di: number): void {
    const pd: PlanDisk = {
      name: disk.name,
      match: { ...disk.match },
      select: diskSelector(disk.match),
      table: disk.table,
      sfdisk: renderSfdisk(disk, this.nodeName),
      partitions: [],
    };
    const fpd = { table: disk.table, partitions: [] as FingerprintDisk["partitions"] };
    disk.partitions.forEach((p, pi) => {
      const ref = `part:${di}:${pi + 1}`;
      if (this.partRef.has(p.name)) this.fail(`partition name ${p.name} is used twice`);
      this.partRef.set(p.name, ref);
      pd.partitions.push({ name: p.name, number: pi + 1, device: ref });
      const label = this.addFilesystem(ref, p, { what: `partition ${p.name}`, name: p.name });
      fpd.partitions.push({ size: sizeText(p.size), type: p.type, fs: p.fs, label: label ?? "" });
    });
    this.disks.push(pd);
    this.fingerprint.disks.push(fpd);
  }

  addRaid(r: DiskLayout["raid"][number], ri: number): PlanRaid {
    const members = r.members.map((m) => this.partRef.get(m) ?? this.fail(`RAID ${r.name}: member ${m} is not a partition of this layout`));
    const min = r.level === 5 ? 3 : r.level === 10 ? 4 : 2;
    if (members.length < min) this.fail(`RAID ${r.name}: level ${r.level} needs at least ${min} members`);
    if (!/^[A-Za-z0-9_-]{1,32}$/.test(r.name)) this.fail(`RAID name ${JSON.stringify(r.name)} has unusual characters`);
    const device = `/dev/md${ri}`;
    const ref = `md:${ri}`;
    this.raidRef.set(r.name, ref);
    const label = this.addFilesystem(ref, r, { what: `RAID ${r.name}`, name: r.name });
    this.fingerprint.raid.push({ level: r.level, members: [...r.members], fs: r.fs, label: label ?? "" });
    return {
      name: r.name,
      device,
      device_ref: ref,
      level: r.level,
      members,
      create: ["mdadm", "--create", device, "--run", "--metadata=1.2", `--level=${r.level}`, `--raid-devices=${members.length}`, `--name=${r.name}`, "--homehost=any"],
    };
  }

  /** Volume groups over partitions or arrays, then logical volumes in creation order, each with its file system. */
  addLvm(layout: DiskLayout): { volumeGroups: PlanVolumeGroup[]; logicalVolumes: PlanLogicalVolume[] } {
    const groups = layout.volumeGroups ?? [];
    const volumeGroups = groups.map((g) => {
      if (!isSafeWord(g.name)) this.fail(`volume group name ${JSON.stringify(g.name)} has unusual characters`);
      const devices = g.devices.map(
        (d) => this.partRef.get(d) ?? this.raidRef.get(d) ?? this.fail(`volume group ${g.name}: device ${d} is no partition or RAID array of this layout`),
      );
      return { name: g.name, devices };
    });
    const logicalVolumes = lvmCreationOrder(layout.logicalVolumes ?? []).map((lv, i): PlanLogicalVolume => {
      if (!groups.some((g) => g.name === lv.vg)) this.fail(`logical volume ${lv.name}: volume group ${lv.vg} is not in this layout`);
      const ref = `lv:${i}`;
      const label = this.addFilesystem(ref, lv, { what: `logical volume ${lv.vg}/${lv.name}`, name: lv.name });
      this.lvmFingerprint(layout).logicalVolumes.push({ vg: lv.vg, name: lv.name, size: sizeText(lv.size), fs: lv.fs, label: label ?? "" });
      return { name: lv.name, vg: lv.vg, device: `/dev/${lv.vg}/${lv.name}`, device_ref: ref, create: lvcreateArgv(lv) };
    });
    if (groups.length) this.lvmFingerprint(layout);
    return { volumeGroups, logicalVolumes };
  }

  /** The fingerprint's LVM part, made on first use (absent for layouts without LVM). */
  private lvmFingerprint(layout: DiskLayout): NonNullable<FingerprintInput["lvm"]> {
    this.fingerprint.lvm ??= { volumeGroups: (layout.volumeGroups ?? []).map((g) => ({ name: g.name, devices: [...g.devices] })), logicalVolumes: [] };
    return this.fingerprint.lvm;
  }

  /** The file systems in mount order: stable by depth (then path), parents before their children; one at /, none twice. */
  mountOrder(layoutName: string): PlanFilesystem[] {
    const filesystems = this.filesystems.sort((a, b) => mountDepth(a.mount) - mountDepth(b.mount) || (a.mount ?? "").localeCompare(b.mount ?? ""));
    if (!filesystems.some((f) => f.mount === "/")) this.fail(`disk layout ${layoutName} has no file system mounted at /`);
    const mounts = filesystems.filter((f) => f.mount).map((f) => f.mount);
    if (new Set(mounts).size !== mounts.length) this.fail(`disk layout ${layoutName} mounts two file systems at the same path`);
    return filesystems;
  }

  /** The label given to the device's file system (undefined for fs: none). */
  private addFilesystem(device: DeviceRef, spec: FsSpec, of: { what: string; name: string }): string | undefined {
    const { fs, mount, mountOptions: options } = spec;
    const what = of.what;
    if (fs === "none") return undefined;
    if (mount !== undefined && (!mount.startsWith("/") || !isSafeWord(mount)))
      this.fail(`${what}: mount point ${JSON.stringify(mount)} is not an absolute path of plain characters`);
    if (fs === "swap" && mount !== undefined) this.fail(`${what}: swap has no mount point`);
    for (const o of options) if (!isSafeWord(o)) this.fail(`${what}: mount option ${JSON.stringify(o)} has unusual characters`);
    const l = this.labels.label(fs, spec.label, mount, of.name);
    const entry: PlanFilesystem = { device, fs, label: l, mkfs: mkfsArgv(fs, l), fsck: fsckArgv(fs), options };
    if (mount !== undefined) entry.mount = mount;
    this.filesystems.push(entry);
    return l;
  }
}

/**
 * The files the installer writes into the installed system: network (each stack's),
 * fstab, the layout's fingerprint, the UP reporter, root's authorized keys, GRUB's settings,
 * and last the node's own files (`files:`), so that one of those may replace the others.
 */
function installedFiles(
  input: InstallPlanInput,
  storage: { filesystems: PlanFilesystem[]; fingerprint: string; extra: PlanFile[] },
): { files: PlanFile[]; symlinks: InstallPlan["symlinks"] } {
  const up = upReporterFiles(input.apiUrl, input.nodeCredential, input.imageDigest);
  const net = networkFiles(input.node, input.network);
  const files: PlanFile[] = [
    ...net.files,
    { path: "/etc/fstab", mode: "0644", content: renderFstab(storage.filesystems) },
    { path: FINGERPRINT_FILE, mode: "0644", content: storage.fingerprint + "\n" },
    ...up.files,
    ...identityFiles(input.node),
    ...storage.extra,
    ...renderNodeFiles(input.node, input.network).map(({ path, mode, content }) => ({ path, mode, content })),
  ];
  // The agent reports the digests of what was written for every node alike (not the
  // credential, not a network stack's file the installer may skip).
  const managed = files.filter((f) => !f.stacks && f.path !== NODE_CREDENTIAL_FILE).map((f) => f.path);
  const agent = nodeAgentFiles(input.apiUrl, managed);
  return { files: [...files, ...agent.files], symlinks: [...up.symlinks, ...agent.symlinks, ...net.symlinks] };
}

/**
 * rsync must neither copy over nor delete what the installer writes itself (nor the
 * node's own identity: machine-id, SSH host keys), nor the lost+found directories
 * mkfs.ext4 makes at the root of each ext4 file system.
 */
function syncExcludes(
  input: InstallPlanInput,
  written: { filesystems: PlanFilesystem[]; files: PlanFile[]; symlinks: InstallPlan["symlinks"]; fail: (msg: string) => never },
): InstallPlan["exclude"] {
  const { image, node } = input;
  const owned = [...new Set(written.files.map((f) => f.path)), ...written.symlinks.map((s) => s.path), AGENT_BUSYBOX, NODE_IDENTITY.machineId, NODE_IDENTITY.sshHostKeys];
  const lostFound = written.filesystems.filter((f) => f.fs === "ext4" && f.mount).map((f) => (f.mount === "/" ? "" : f.mount) + "/lost+found");
  const extra = [...lostFound, ...owned];
  for (const pat of [...image.excludeSync, ...node.excludeSync, ...image.excludeFull, ...node.excludeFull]) {
    if (/[\n\r]/.test(pat)) written.fail(`exclude pattern ${JSON.stringify(pat)} spans lines`);
  }
  return {
    sync: excludes([...image.excludeSync, ...node.excludeSync], extra),
    full: excludes([...image.excludeFull, ...node.excludeFull], extra),
  };
}

type FingerprintDisk = FingerprintInput["disks"][number];
