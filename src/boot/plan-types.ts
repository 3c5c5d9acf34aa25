// The install plan: everything the installer does on one node, rendered by metalform
// (pure) and served to that node only. The JSON form is what people review and what
// golden tests pin; the installer reads the same plan as shell variables
// (plan-shell.ts), since busybox sh has no JSON parser.
import type { DiskMatch, FsType, InstallMode, PartitionTable, RaidLevel } from "../config/types.js";
import type { PlanBootLoader } from "./bootloader.js";
import type { DiskSelector } from "./disk-select.js";

export const INSTALL_PLAN_VERSION = 1;

/**
 * A block device the plan refers to before the node has resolved its disks:
 * `part:<disk index>:<partition number>`, `md:<array index>` or `lv:<logical volume index>`.
 */
export type DeviceRef = string;

export interface PlanPartition {
  name: string;
  number: number;
  device: DeviceRef;
}

export interface PlanDisk {
  name: string;
  match: DiskMatch;
  /** The match rules as the installer compares them (disk-select.ts). */
  select: DiskSelector;
  table: PartitionTable;
  /** Input for `sfdisk`; may hold `@PCT:<n>@` placeholders (see sfdisk.ts). */
  sfdisk: string;
  partitions: PlanPartition[];
}

export interface PlanRaid {
  name: string;
  /** Device node the installer creates, `/dev/md<index>`. */
  device: string;
  device_ref: DeviceRef;
  level: RaidLevel;
  members: DeviceRef[];
  /** mdadm --create argv without the member devices (appended by the installer). */
  create: string[];
}

/** An LVM volume group: `lvm pvcreate` on each device, then `lvm vgcreate NAME DEVICES`. */
export interface PlanVolumeGroup {
  name: string;
  devices: DeviceRef[];
}

/** An LVM logical volume, made in plan order (a `rest` one last in its group). */
export interface PlanLogicalVolume {
  name: string;
  vg: string;
  /** `/dev/<vg>/<name>`. */
  device: string;
  device_ref: DeviceRef;
  /** `lvm` argv (lvcreate …). */
  create: string[];
}

export interface PlanFilesystem {
  device: DeviceRef;
  fs: Exclude<FsType, "none">;
  label: string;
  /** mkfs argv without the device (appended by the installer). */
  mkfs: string[];
  /** fsck argv run before a sync, without the device; empty: none. */
  fsck: string[];
  mount?: string;
  options: string[];
}

/**
 * The network stack the installer finds in the installed system (network-stacks.ts):
 * files and links tagged with stacks are written only for those.
 */
export type NetworkStack = "netplan" | "networkmanager" | "networkd" | "ifupdown" | "unknown";

export interface PlanFile {
  path: string;
  /** Octal permission bits, e.g. "0644". */
  mode: string;
  content: string;
  /** Placeholders the installer fills in (e.g. `@IFACE@`, the boot interface's name). */
  placeholders?: string[];
  /** Written only when the installed system's network stack is one of these. */
  stacks?: NetworkStack[];
  /** Octal mode of the file's directory (made when missing), e.g. "0700" for ~/.ssh. */
  dirMode?: string;
}

export interface PlanSymlink {
  path: string;
  target: string;
  /** Made only when the installed system's network stack is one of these. */
  stacks?: NetworkStack[];
}

export interface PlanBmc {
  channel: number;
  /** ipmitool argument lists, run in order. */
  commands: string[][];
  /** When set, the installer fetches the password from the API and sets it for this user id. */
  passwordUserId?: number;
}

export interface InstallPlan {
  version: typeof INSTALL_PLAN_VERSION;
  node: string;
  hostname: string;
  mac: string;
  mode: InstallMode;
  /** True when the installer must refuse anything that wipes disks (protect and no --allow-wipe). */
  protect: boolean;
  /** sha256 of the normalized layout (fingerprint.ts), stored at `fingerprintFile` in the root fs. */
  fingerprint: string;
  fingerprintFile: string;
  image: { name: string; digest: string; rsync: string };
  disks: PlanDisk[];
  raid: PlanRaid[];
  volumeGroups: PlanVolumeGroup[];
  logicalVolumes: PlanLogicalVolume[];
  /** In mount order: parents first; file systems without a mount point (swap) last. */
  filesystems: PlanFilesystem[];
  /** rsync exclude patterns: `sync` when the file systems were kept, `full` after mkfs. */
  exclude: { sync: string[]; full: string[] };
  /**
   * Mount points below / : rsync must never delete them (`P` filter rules), even
   * when the image has no such directory, or --delete would try to remove a mount point.
   */
  mountPoints: string[];
  files: PlanFile[];
  symlinks: PlanSymlink[];
  /**
   * What the installer makes on the node itself, once, and keeps across syncs (rsync
   * neither copies these paths from the image nor deletes them): a machine-id, and SSH
   * host keys when the image has ssh-keygen.
   */
  identity: { machineId: string; sshHostKeys: string };
  /** GRUB onto the node's disk (bootloader.ts); absent when it cannot get one, and `bootLoaderWarning` says why. */
  bootLoader?: PlanBootLoader;
  bootLoaderWarning?: string;
  bmc?: PlanBmc;
  /** The category's `initialize` and `finalize` scripts and the environment they run with (absent: none). */
  scripts?: PlanScripts;
}

export interface PlanScripts {
  /** Runs in the installer before partitioning. */
  initialize?: string;
  /** Runs chrooted in the installed system before switch root. */
  finalize?: string;
  /** The node's values (node-files.ts scriptEnv); the scripts get nothing else from the installer. */
  env: Array<{ name: string; value: string }>;
}
