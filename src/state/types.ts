// What metalform remembers about a cluster between runs: per node the attributes
// last applied and what the node last reported; per image its digest and size.
// Secrets never appear here: a BMC password is recorded only as its reference.
import type { BmcPrivilege, BootMode, InstallMode, NodeInterface, PowerDriver, SecretRef } from "../config/types.js";
import type { StoppedOutcome } from "../progress/outcome.js";
import type { InventoryRecord } from "./inventory.js";

/** Bumped when the file format changes incompatibly; newer files are refused. */
export const STATE_FORMAT_VERSION = 1;

export interface AppliedRef {
  name: string;
  /** "sha256:<hex>" */
  digest: string;
}

export interface AppliedNetwork {
  ip: string;
  mac: string;
  hostname: string;
  /** The node's other interfaces (`interfaces:`); absent when it has none (states written before them read the same). */
  interfaces?: NodeInterface[];
}

export interface AppliedBmc {
  driver: PowerDriver;
  address?: string;
  netmask?: string;
  gateway?: string;
  /** What the installer writes in-band (IPMI): VLAN, LAN channel, user slot, privilege. */
  vlan?: number | "off";
  channel?: number;
  userId?: number;
  privilege?: BmcPrivilege;
  user?: string;
  port: number;
  /** Where the password comes from (env name, file path, inline id), never the value. */
  password?: SecretRef;
}

/** How the node's firmware boots; absent in an AppliedNode means BIOS without Secure Boot. */
export interface AppliedFirmware {
  mode: "bios" | "uefi";
  secureBoot: boolean;
}

/** The attributes of a node that the diff compares against the configuration. */
export interface AppliedNode {
  image: AppliedRef;
  diskLayout: AppliedRef;
  network: AppliedNetwork;
  boot: BootMode;
  installMode: InstallMode;
  kernelArgs: string[];
  excludeSync: string[];
  excludeFull: string[];
  bmc?: AppliedBmc;
  /** Only when not BIOS (so states written before firmware existed read as BIOS). */
  firmware?: AppliedFirmware;
  /** The node's own files (`files:`) by path, with a digest of mode and content; absent: none. */
  files?: AppliedFile[];
  /** Digests of the node's initialize and finalize scripts; absent: none. */
  scripts?: AppliedScripts;
}

export interface AppliedFile {
  path: string;
  /** "sha256:<hex>" over mode and content. */
  digest: string;
}

export interface AppliedScripts {
  initialize?: string;
  finalize?: string;
}

/** What the node itself last said (installer progress or the installed system's reporter). */
export interface NodeReport {
  /** Digest of the image the node runs. */
  imageDigest?: string;
  /** Digest of the disk layout found on its disks (written by the installer). */
  layoutFingerprint?: string;
  /** The phase the node reached: an apply phase ("up", "sync", …) or what another reporter says ("discovered"). */
  phase: string;
  /** Set when an apply's work on the node stopped in `phase` without reaching UP. */
  outcome?: StoppedOutcome;
  /** ISO 8601 time of the report. */
  time: string;
}

export interface NodeState {
  applied?: AppliedNode;
  appliedAt?: string;
  reported?: NodeReport;
}

export interface ImageState {
  digest: string;
  size: number;
  updatedAt?: string;
}

/** A disk layout's normalized text, kept so a later plan can diff it line by line. */
export interface LayoutState {
  name: string;
  text: string;
}

export interface ClusterState {
  formatVersion: number;
  /** Written by this metalform version (informational). */
  metalformVersion?: string;
  /** UUID fixed when the state is created; a saved plan is bound to it. */
  lineage: string;
  /** Incremented by every write. */
  serial: number;
  cluster?: string;
  images: Record<string, ImageState>;
  /** Keyed by layout digest. */
  layouts: Record<string, LayoutState>;
  nodes: Record<string, NodeState>;
  /** Hardware inventories by boot MAC (state/inventory.ts); absent in states written before discovery. */
  inventory?: Record<string, InventoryRecord>;
}
