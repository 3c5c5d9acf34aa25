// Merging the files of a configuration directory into one raw configuration,
// remembering where each entity came from. Singletons (cluster, network,
// defaults) may be defined once; named entities (images, layouts, categories)
// must have unique names across files; node lists are concatenated.
import { dirname, isAbsolute, resolve as resolvePath } from "node:path";
import { emptyBroken, type Broken } from "./damage.js";
import type { Diagnostic } from "./diagnostics.js";
import { locate, type PathSeg, type SourceFile } from "./source.js";
import type { SourcePos } from "./types.js";

export interface Where {
  src: SourceFile;
  path: PathSeg[];
}

export interface Located<T> {
  value: T;
  where: Where;
}

export function posOf(w: Where, ...sub: PathSeg[]): SourcePos {
  return locate(w.src, [...w.path, ...sub]);
}

export function keyPosOf(w: Where, ...sub: PathSeg[]): SourcePos {
  return locate(w.src, [...w.path, ...sub], "key");
}

/** A path as written in the file at `w`: relative paths are relative to that file's directory. */
export function absPath(w: Where, p: string): string {
  return isAbsolute(p) ? p : resolvePath(dirname(w.src.path), p);
}

/* Raw shapes: what the schema admits, before defaults and inheritance. */
export type RawSecret = string | { env: string } | { file: string };
export interface RawBmc {
  driver?: "ipmi" | "redfish" | "manual";
  address?: string;
  netmask?: string;
  gateway?: string;
  vlan?: number | "off";
  channel?: number;
  userId?: number;
  privilege?: "user" | "operator" | "administrator";
  port?: number;
  user?: string;
  password?: RawSecret;
  interface?: "lanplus" | "lan";
  cipherSuite?: number | "auto";
  auth?: "session" | "basic";
  system?: string;
  tls?: { ca?: string; fingerprint?: string; insecure?: true };
}
export interface RawFirmware {
  mode?: "bios" | "uefi";
  secureBoot?: boolean;
  arch?: "x86_64" | "arm64";
  persistentBootDevice?: boolean;
}
export interface RawExclude {
  sync?: string[];
  full?: string[];
}
export interface RawRoute {
  to: string;
  via: string;
  metric?: number;
}
export interface RawInterface {
  name: string;
  mac?: string;
  macs?: string[];
  network?: string;
  ip?: string;
  ip6?: string;
  dhcp?: boolean;
  dhcp6?: boolean;
  mtu?: number;
  routes?: RawRoute[];
  bond?: { mode?: "balance-rr" | "active-backup" | "balance-xor" | "broadcast" | "802.3ad" | "balance-tlb" | "balance-alb"; members: string[]; miimon?: number };
  vlan?: { id: number; link: string };
  bridge?: { members: string[]; stp?: boolean };
}
export interface RawNodeNetwork {
  subnet?: string;
  ipv6?: string;
  gateway?: string;
  gateway6?: string;
  mtu?: number;
  dns?: string[];
  domain?: string;
  routes?: RawRoute[];
}
export interface RawSettings {
  image?: string;
  diskLayout?: string;
  installMode?: "auto" | "full" | "nosync" | "skip";
  boot?: "pxe" | "local";
  kernelArgs?: string[];
  sshAuthorizedKeys?: string[];
  exclude?: RawExclude;
  bmc?: RawBmc;
  protect?: boolean;
  firmware?: RawFirmware;
  files?: string;
  vars?: Record<string, string | number | boolean>;
  initialize?: RawScript;
  finalize?: RawScript;
  interfaces?: RawInterface[];
}
export type RawScript = string | { file: string };
export interface RawNode extends RawSettings {
  name: string;
  category?: string;
  mac?: string;
  macs?: string[];
  ip?: string;
}
export interface RawNetwork {
  interface: string;
  address: string;
  gateway?: string;
  dns?: string[];
  domain?: string;
  dhcp?: { mode?: "authoritative" | "proxy"; leaseTime?: number; dynamicRange?: { start: string; end: string } };
  discovery?: { enabled?: boolean; image?: string; then?: "poweroff" | "wait" };
  ports?: Partial<Record<"dhcp" | "proxyDhcp" | "tftp" | "http" | "rsync", number>>;
}
export interface RawRecipe {
  suite: string;
  variant?: string;
  packages?: string[];
  customize?: string[];
  mirror?: string;
  architecture?: string;
}
export interface RawImage {
  root?: string;
  oci?: string;
  ref?: string;
  recipe?: RawRecipe;
  kernel?: string;
  initrd?: string;
  pin?: string;
  keep?: number;
  kernelArgs?: string[];
  exclude?: RawExclude;
}
export interface RawPartition {
  name?: string;
  size: string;
  type?: "linux" | "esp" | "swap" | "raid" | "lvm" | "bios";
  fs?: "ext4" | "xfs" | "vfat" | "swap" | "none";
  mount?: string;
  mountOptions?: string[];
  label?: string;
}
export interface RawDisk {
  name: string;
  match: { device?: string; minSize?: string; maxSize?: string; serial?: string; wwn?: string; model?: string; vendor?: string; rotational?: boolean };
  table?: "gpt" | "msdos";
  partitions: RawPartition[];
}
export interface RawRaid {
  name: string;
  level: 0 | 1 | 5 | 10;
  members: string[];
  fs?: "ext4" | "xfs" | "vfat" | "swap" | "none";
  mount?: string;
  mountOptions?: string[];
  label?: string;
}
export interface RawVolumeGroup {
  name: string;
  devices: string[];
}
export interface RawLogicalVolume {
  name: string;
  vg: string;
  size: string;
  fs?: "ext4" | "xfs" | "vfat" | "swap" | "none";
  mount?: string;
  mountOptions?: string[];
  label?: string;
}
export interface RawLayout {
  disks: RawDisk[];
  raid?: RawRaid[];
  volumeGroups?: RawVolumeGroup[];
  logicalVolumes?: RawLogicalVolume[];
}
export interface RawBackend {
  type: "local" | "postgres";
  path?: string;
  url?: RawSecret;
  name?: string;
  keepVersions?: number;
}
interface RawFile {
  cluster?: { name?: string };
  backend?: RawBackend;
  network?: RawNetwork;
  networks?: Record<string, RawNodeNetwork>;
  defaults?: RawSettings;
  images?: Record<string, RawImage>;
  diskLayouts?: Record<string, RawLayout>;
  categories?: Record<string, RawSettings>;
  nodes?: Array<RawNode | null>;
}

export interface MergedConfig {
  cluster?: Located<{ name?: string }>;
  backend?: Located<RawBackend>;
  network?: Located<RawNetwork>;
  defaults?: Located<RawSettings>;
  networks: Map<string, Located<RawNodeNetwork>>;
  images: Map<string, Located<RawImage>>;
  diskLayouts: Map<string, Located<RawLayout>>;
  categories: Map<string, Located<RawSettings>>;
  nodes: Located<RawNode>[];
  /** Entities set aside after schema errors (see damage.ts). */
  broken: Broken;
}

const SINGLETONS = ["cluster", "backend", "network", "defaults"] as const;
const NAMED = [
  ["networks", "network"],
  ["images", "image"],
  ["diskLayouts", "disk layout"],
  ["categories", "category"],
] as const;

/** Merges schema-valid files. Conflicts become diagnostics naming both places. */
export function mergeSources(sources: SourceFile[], broken: Broken = emptyBroken()): { merged: MergedConfig; diagnostics: Diagnostic[] } {
  const merged: MergedConfig = { networks: new Map(), images: new Map(), diskLayouts: new Map(), categories: new Map(), nodes: [], broken };
  const diagnostics: Diagnostic[] = [];
  for (const src of sources) {
    const data = (src.data ?? {}) as RawFile;
    for (const key of SINGLETONS) {
      const v = data[key];
      if (v === undefined) continue;
      const here: Where = { src, path: [key] };
      const prev = merged[key];
      if (prev) {
        const p = keyPosOf(here);
        const o = keyPosOf(prev.where);
        diagnostics.push({
          severity: "error",
          code: "duplicate-definition",
          message: `"${key}" is defined in more than one file`,
          ...p,
          related: { message: `first defined`, ...o },
        });
        continue;
      }
      (merged as unknown as Record<string, Located<unknown>>)[key] = { value: v, where: here };
    }
    for (const [key, what] of NAMED) {
      const entries = data[key];
      if (!entries) continue;
      const target = merged[key] as Map<string, Located<unknown>>;
      for (const [name, value] of Object.entries(entries)) {
        const here: Where = { src, path: [key, name] };
        const prev = target.get(name);
        if (prev) {
          diagnostics.push({
            severity: "error",
            code: "duplicate-definition",
            message: `${what} "${name}" is defined twice`,
            ...keyPosOf(here),
            related: { message: "first defined", ...keyPosOf(prev.where) },
          });
          continue;
        }
        target.set(name, { value, where: here });
      }
    }
    (data.nodes ?? []).forEach((n, i) => {
      if (n) merged.nodes.push({ value: n, where: { src, path: ["nodes", i] } });
    });
  }
  return { merged, diagnostics };
}
