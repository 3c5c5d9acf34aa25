// The normalized, validated model of a cluster: what `loadCluster` returns once the
// YAML has been parsed, merged, range-expanded, inherited and checked. Everything
// below the config layer (plan, boot rendering, services, apply) works on these
// types only, never on raw YAML. The user-facing contract is
// schemas/cluster.schema.json; these types are its resolved form.
import type { Recipe } from "./recipe.js";

/** Where a value came from, for diagnostics that point at file:line:col. */
export interface SourcePos {
  file: string;
  line: number;
  col: number;
}

/** A reference to a secret. The value itself is never part of the model. */
export type SecretRef =
  | { kind: "env"; name: string }
  | { kind: "file"; path: string }
  /** An inline secret in the YAML (a warning). Kept out of the model: resolved via the loader's secret table. */
  | { kind: "inline"; id: string };

export type DhcpMode = "authoritative" | "proxy";
export type InstallMode = "auto" | "full" | "nosync" | "skip";
export type BootMode = "pxe" | "local";
export type FsType = "ext4" | "xfs" | "vfat" | "swap" | "none";
export type PartitionTable = "gpt" | "msdos";
export type RaidLevel = 0 | 1 | 5 | 10;
export type PowerDriver = "ipmi" | "redfish" | "manual";
export type IpmiInterface = "lanplus" | "lan";
export type RedfishAuth = "session" | "basic";

/** IPMI privilege levels a BMC user can be given on a channel. */
export type BmcPrivilege = "user" | "operator" | "administrator";

/** How a Redfish BMC's certificate is checked; absent: against the system's CA store. */
export type BmcTls =
  /** Absolute path of a PEM file of CA certificates to trust. */
  | { ca: string }
  /** SHA-256 fingerprint of the BMC's certificate: 64 upper-case hex digits, no colons. */
  | { fingerprint: string }
  | { insecure: true };

export interface DhcpSettings {
  mode: DhcpMode;
  /** Lease time in seconds handed to reserved clients. */
  leaseTime: number;
  /** Optional pool for discovering unknown nodes. */
  dynamicRange?: { start: string; end: string };
}

/** Discovery of unknown MACs (`network.discovery`): they boot the installer in inventory mode. */
export interface DiscoverySettings {
  /** The image whose kernel and installer discovered hosts boot (resolved: the first image by default). */
  image?: string;
  /** After the inventory: power off (the BMC powers on for the install) or wait. */
  then: "poweroff" | "wait";
}

export interface Network {
  /** Provisioning interface on the head node, e.g. "eth1". */
  interface: string;
  /** The head node's address on the provisioning network. */
  address: string;
  prefix: number;
  /** Derived: network address, netmask and broadcast of address/prefix. */
  networkAddress: string;
  netmask: string;
  broadcast: string;
  gateway?: string;
  dns: string[];
  domain?: string;
  dhcp: DhcpSettings;
  /** Present when discovery is enabled. */
  discovery?: DiscoverySettings;
  /** Ports of the services; defaults are the standard ones. */
  ports: { dhcp: number; proxyDhcp: number; tftp: number; http: number; rsync: number };
}

/** A static route: destination prefix (or "default") and next hop, one address family. */
export interface Route {
  to: string;
  via: string;
  metric?: number;
}

/** An address with its prefix length (IPv4 dotted quad or IPv6 text). */
export interface AddressPrefix {
  address: string;
  prefix: number;
}

export type BondMode = "balance-rr" | "active-backup" | "balance-xor" | "broadcast" | "802.3ad" | "balance-tlb" | "balance-alb";

/** A physical NIC named in a bond: by MAC (matched wherever it sits) or by its kernel name. */
export type NicRef = { mac: string } | { name: string };

/**
 * One interface of the installed system besides the provisioning NIC (`interfaces:`),
 * resolved for one node: its network's settings folded in, addresses counted per node.
 */
export interface NodeInterface {
  name: string;
  kind: "ethernet" | "bond" | "vlan" | "bridge";
  /** ethernet: matched by this MAC (lower case) and renamed to `name`; absent: the kernel's name is `name`. */
  mac?: string;
  bond?: { mode: BondMode; members: NicRef[]; miimon: number };
  vlan?: { id: number; link: string };
  bridge?: { members: string[]; stp: boolean };
  /** The network it is on (`networks:`), when any. */
  network?: string;
  ipv4?: AddressPrefix;
  ipv6?: AddressPrefix;
  dhcp4: boolean;
  dhcp6: boolean;
  mtu?: number;
  gateway4?: string;
  gateway6?: string;
  dns: string[];
  domains: string[];
  routes: Route[];
}

/** A network declared under `networks:` (data, storage, InfiniBand...). */
export interface NodeNetwork {
  name: string;
  subnet?: AddressPrefix;
  ipv6?: AddressPrefix;
  gateway?: string;
  gateway6?: string;
  mtu?: number;
  dns: string[];
  domain?: string;
  routes: Route[];
  pos: SourcePos;
}

/** Where an image comes from (src/images/sources.ts turns each into a snapshot). */
export type ImageSourceSpec =
  { kind: "directory"; path: string } | { kind: "tarball"; path: string } | { kind: "oci"; path: string; ref?: string } | { kind: "recipe"; recipe: Recipe };

export interface Image {
  name: string;
  /**
   * Absolute path of the root tree (directory) or tarball. For OCI and recipe images
   * the source path (or the recipe cache) until the image is resolved to its snapshot,
   * whose root is always a directory.
   */
  root: string;
  rootType: "directory" | "tarball";
  /**
   * Absolute paths of the kernel and initrd the installed system boots. Empty for an
   * image whose kernel is found inside it (tarball, OCI, recipe) until it is resolved.
   */
  kernel: string;
  initrd?: string;
  /** The source as configured (absent in hand-made Images: a directory or tarball at `root`). */
  source?: ImageSourceSpec;
  /** Kernel and initrd as paths inside the image (tarball, OCI, recipe sources); absent: found in its /boot. */
  bootInImage?: { kernel?: string; initrd?: string };
  /** A stored snapshot to serve instead of the source's content (digest or hex prefix): a rollback. */
  pin?: string;
  /** Snapshots kept in the store (default 3). */
  keep?: number;
  kernelArgs: string[];
  /** rsync patterns excluded when syncing an installed node (its local state survives). */
  excludeSync: string[];
  /** rsync patterns excluded on a full install. */
  excludeFull: string[];
  pos: SourcePos;
}

export type PartitionType = "linux" | "esp" | "swap" | "raid" | "lvm" | "bios";

/** Partition sizes as written: fixed bytes, a percentage of the disk, or the rest. */
export type SizeSpec = { kind: "bytes"; bytes: number } | { kind: "percent"; percent: number } | { kind: "rest" };

export interface Partition {
  /** Name used to refer to the partition from RAID arrays; defaults to `<disk>p<n>`. */
  name: string;
  size: SizeSpec;
  fs: FsType;
  /** GPT/msdos type hint: "linux" (default), "esp", "swap", "raid", "lvm", "bios". */
  type: PartitionType;
  mount?: string;
  mountOptions: string[];
  label?: string;
}

/** How the installer finds a disk (src/boot/disk-select.ts): every rule given must hold. */
export interface DiskMatch {
  /** /dev/NAME, /dev/disk/by-path/ID or /dev/disk/by-id/ID. */
  device?: string;
  /** Size range in bytes. */
  minSize?: number;
  maxSize?: number;
  /** Exact serial number. */
  serial?: string;
  /** World Wide Name as written (normalized for the installer by disk-select.ts). */
  wwn?: string;
  /** Case-insensitive substrings of the model and vendor strings. */
  model?: string;
  vendor?: string;
  /** false: solid-state only; true: spinning only. */
  rotational?: boolean;
}

export interface Disk {
  name: string;
  match: DiskMatch;
  table: PartitionTable;
  partitions: Partition[];
}

export interface RaidArray {
  name: string;
  level: RaidLevel;
  /** Partition names (from this layout's disks). */
  members: string[];
  fs: FsType;
  mount?: string;
  mountOptions: string[];
  label?: string;
}

/** An LVM volume group over partitions or RAID arrays of its layout. */
export interface VolumeGroup {
  name: string;
  /** Partition or RAID array names: its physical volumes. */
  devices: string[];
}

/** An LVM logical volume: a size in its group (fixed, a percentage of the group, or the rest) and a file system. */
export interface LogicalVolume {
  name: string;
  vg: string;
  size: SizeSpec;
  fs: FsType;
  mount?: string;
  mountOptions: string[];
  label?: string;
}

export interface DiskLayout {
  name: string;
  disks: Disk[];
  raid: RaidArray[];
  /** Absent when the layout has no LVM (so older layouts keep their digests). */
  volumeGroups?: VolumeGroup[];
  logicalVolumes?: LogicalVolume[];
  pos: SourcePos;
}

export interface BmcSettings {
  driver: PowerDriver;
  /** BMC address; absent for the manual driver. */
  address?: string;
  netmask?: string;
  gateway?: string;
  /** IPMI, written in-band by the installer: 802.1Q VLAN ID or "off"; absent: left alone. */
  vlan?: number | "off";
  /** IPMI, written in-band: the LAN channel (1 when unset). */
  channel?: number;
  /** IPMI, written in-band: the user slot `user` and `password` go into (2 when unset). */
  userId?: number;
  /** IPMI, written in-band: `user`'s privilege on the LAN channel (administrator when unset). */
  privilege?: BmcPrivilege;
  user?: string;
  password?: SecretRef;
  /** BMC port: 623 (IPMI) or 443 (Redfish) by default. */
  port: number;
  /** IPMI: ipmitool interface (lanplus when unset). */
  interface?: IpmiInterface;
  /** IPMI lanplus: RMCP+ cipher suite (3 when unset). */
  cipherSuite?: number | "auto";
  /** Redfish: session (when unset) or basic authentication. */
  auth?: RedfishAuth;
  /** Redfish: the Id of the member of /redfish/v1/Systems (the only one when unset). */
  system?: string;
  /** Redfish: certificate check. */
  tls?: BmcTls;
}

/** How a node's firmware network-boots (`firmware:`; defaults: BIOS, no Secure Boot, x86_64). */
export interface Firmware {
  mode: "bios" | "uefi";
  /** UEFI Secure Boot: shim, signed GRUB and the signed kernel over TFTP instead of iPXE. */
  secureBoot: boolean;
  /** Only x86_64 boots (validate refuses arm64). */
  arch: "x86_64" | "arm64";
  /** The BMC keeps PXE as boot device for every boot, not just the next. */
  persistentBootDevice: boolean;
}

export interface Node {
  name: string;
  category: string;
  mac: string; // lower-case, colon separated
  ip: string;
  hostname: string; // name, or name.domain when a domain is set
  image: string;
  diskLayout: string;
  installMode: InstallMode;
  boot: BootMode;
  kernelArgs: string[];
  /** OpenSSH public keys for root's authorized_keys on the installed system. */
  sshAuthorizedKeys: string[];
  excludeSync: string[];
  excludeFull: string[];
  bmc?: BmcSettings;
  protect: boolean;
  firmware: Firmware;
  /** Per-node files (`files:` folder), read at load; rendered per node by boot/node-files.ts. */
  files?: FileFolder;
  /** Values for templates and scripts (`vars:`, merged key by key). */
  vars?: NodeVars;
  /** Run in the installer before partitioning. */
  initialize?: NodeScript;
  /** Run chrooted in the installed system before switch root. */
  finalize?: NodeScript;
  /** Interfaces besides the provisioning NIC (`interfaces:`); absent or empty: only the provisioning NIC. */
  interfaces?: NodeInterface[];
  /** Where the node (or its range) is defined. */
  pos: SourcePos;
}

export type NodeVars = Record<string, string | number | boolean>;

/** One file of a `files:` folder as read at load: a template (`.liquid`, rendered per node) or a plain file. */
export interface FileSource {
  /** Where it is installed, e.g. "/etc/motd" (the `.liquid` suffix dropped). */
  path: string;
  /** Octal permission bits of the source file, e.g. "0644". */
  mode: string;
  content: string;
  template: boolean;
  /** The source file, relative to the folder (what a template error names). */
  name: string;
}

/** A `files:` folder: shared by every node that inherits it (read once). */
export interface FileFolder {
  /** Absolute path of the folder. */
  dir: string;
  entries: FileSource[];
}

/** An `initialize` or `finalize` script: its text and where it is written. */
export interface NodeScript {
  content: string;
  /** The script file, or "FILE:LINE" of an inline script. */
  source: string;
}

export interface Category {
  name: string;
  pos: SourcePos;
}

/** Where the state is kept (`backend:`); absent means the local file beside the configuration. */
export type StateBackendConfig =
  | { type: "local"; /** Absolute path of the state file. */ path?: string; pos: SourcePos }
  | {
      type: "postgres";
      /** The connection URL (a secret: it may carry a password). */ url: SecretRef;
      name?: string;
      /** Versions kept (default all). */ keepVersions?: number;
      pos: SourcePos;
    };

export interface DesiredCluster {
  /** Name of the cluster (from `cluster.name`, default the config directory's name). */
  name: string;
  backend?: StateBackendConfig;
  network: Network;
  /** Networks nodes have interfaces on besides the provisioning network (`networks:`). */
  networks?: Map<string, NodeNetwork>;
  images: Map<string, Image>;
  diskLayouts: Map<string, DiskLayout>;
  categories: Map<string, Category>;
  /** Expanded nodes, sorted by name. */
  nodes: Node[];
  /** Files that made up the configuration, in merge order. */
  files: string[];
  /** sha256 over the files' bytes (in merge order): a saved plan records it. */
  digest: string;
}
