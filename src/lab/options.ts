// What a lab is made of, with the defaults `metalform lab` uses. Every name, subnet
// and port is an option so tests (and two labs side by side) never collide: the
// namespace name is the lab's identity, and interface names are per namespace.
import { homedir } from "node:os";
import { join } from "node:path";
import { nullLogger, type Logger } from "../util/log.js";
import { resolveDataNetwork, type DataNetworkOptions, type ResolvedDataNetwork } from "./data-network.js";
import { firmwareOf, LAB_FIRMWARES, type LabFirmware } from "./firmware.js";
import { LAB_IMAGE_KINDS, type LabImageKind } from "./lab-image.js";

export interface LabOptions {
  /** Network namespace, and the lab's name. Default "mflab". */
  namespace?: string;
  /** Where the lab keeps its state, configs, disks and logs. Default ~/.local/state/metalform/lab/<namespace>. */
  dir?: string;
  /** Where downloaded kernels are kept between labs. Default ~/.cache/metalform/lab. */
  cacheDir?: string;
  /** Number of VMs. Default 3. */
  nodes?: number;
  /** The cluster's image: "busybox" (default, small and fast) or "debian" (Debian 12 from a recipe). */
  image?: LabImageKind;
  /** Node names are <prefix>1..N. Default "lab". */
  nodePrefix?: string;
  /** RAM per VM in MiB. Default 512. */
  memoryMiB?: number;
  /** Size of each VM's (sparse, raw) disk in bytes. Default 2 GiB. */
  diskBytes?: number;
  /** Provisioning bridge inside the namespace. Default "mfbr0". */
  bridge?: string;
  /** The head node's address on the provisioning bridge, with prefix. Default 10.77.0.1/24. */
  headAddress?: string;
  /** Last octet of the first node's address (provisioning and BMC). Default 11. */
  firstHost?: number;
  /** Interface (a port-less bridge) holding the BMC addresses. Default "mfbmc0". */
  bmcInterface?: string;
  /** The head's address on the BMC network, with prefix. Default 10.78.0.1/24. */
  bmcHeadAddress?: string;
  /** What kind of BMC each VM gets: "ipmi" (an ipmi_sim per node, default) or "redfish" (the lab's Redfish emulator, one HTTPS server per node address). */
  bmc?: LabBmcKind;
  /** Port every BMC listens on (each BMC has its own address). Default 623 (IPMI, UDP) or 443 (Redfish, TCP). */
  bmcPort?: number;
  /** First TCP port (on the namespace's loopback) between a BMC and its VM. Default 9100. */
  bmcSerialPortBase?: number;
  /** First four octets of the VMs' MACs; the fifth... is the node number. Default 52:54:00:4d:46. */
  macPrefix?: string;
  /** Start the VMs when the lab comes up (else they stay off until `ipmitool power on`). Default true. */
  powerOn?: boolean;
  /** Ports written into the lab's cluster configuration. */
  ports?: Partial<{ dhcp: number; proxyDhcp: number; tftp: number; http: number; rsync: number }>;
  /** Send IPv6 router advertisements on the bridge (iPXE waits ~13 s for one otherwise). Default true. */
  routerAdvertisements?: boolean;
  /** The VMs' firmware: one for all, or one per node (the last repeats). Default "bios". */
  firmware?: LabFirmware | readonly LabFirmware[];
  /** A second network: a data bridge with the head's address on it and data NICs on every VM. Default none. */
  dataNetwork?: DataNetworkOptions;
  logger?: Logger;
}

export interface ResolvedLabOptions {
  namespace: string;
  dir: string;
  cacheDir: string;
  nodes: number;
  image: LabImageKind;
  nodePrefix: string;
  memoryMiB: number;
  diskBytes: number;
  bridge: string;
  headAddress: string;
  prefixLength: number;
  firstHost: number;
  bmcInterface: string;
  bmcHeadAddress: string;
  bmcPrefixLength: number;
  bmc: LabBmcKind;
  bmcPort: number;
  bmcSerialPortBase: number;
  macPrefix: string;
  powerOn: boolean;
  ports: Partial<{ dhcp: number; proxyDhcp: number; tftp: number; http: number; rsync: number }>;
  routerAdvertisements: boolean;
  /** One per node. */
  firmware: LabFirmware[];
  dataNetwork?: ResolvedDataNetwork;
  logger: Logger;
}

export const DEFAULT_NAMESPACE = "mflab";

export type LabBmcKind = "ipmi" | "redfish";

export function defaultCacheDir(): string {
  return join(process.env.XDG_CACHE_HOME || join(homedir(), ".cache"), "metalform", "lab");
}

export function defaultLabDir(namespace: string): string {
  return join(process.env.XDG_STATE_HOME || join(homedir(), ".local", "state"), "metalform", "lab", namespace);
}

const IFNAME = /^[A-Za-z0-9_.-]{1,15}$/;

function splitCidr(what: string, cidr: string): { address: string; prefix: number } {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})\/(\d{1,2})$/.exec(cidr);
  if (!m || m.slice(1, 5).some((o) => Number(o) > 255) || Number(m[5]) < 8 || Number(m[5]) > 30) {
    throw new Error(`${what} must be an IPv4 address with a prefix length between 8 and 30, like 10.77.0.1/24 (got ${JSON.stringify(cidr)})`);
  }
  return { address: `${m[1]}.${m[2]}.${m[3]}.${m[4]}`, prefix: Number(m[5]) };
}

export function resolveLabOptions(o: LabOptions = {}): ResolvedLabOptions {
  const namespace = o.namespace ?? DEFAULT_NAMESPACE;
  if (!/^[A-Za-z0-9_-]{1,32}$/.test(namespace)) throw new Error(`lab namespace must be 1-32 letters, digits, - or _ (got ${JSON.stringify(namespace)})`);
  const nodes = o.nodes ?? 3;
  if (!Number.isInteger(nodes) || nodes < 1 || nodes > 99) throw new Error(`the number of lab nodes must be between 1 and 99 (got ${nodes})`);
  const image = o.image ?? "busybox";
  if (!LAB_IMAGE_KINDS.includes(image)) throw new Error(`the lab image must be one of ${LAB_IMAGE_KINDS.join(", ")} (got ${JSON.stringify(o.image)})`);
  const head = splitCidr("the head address", o.headAddress ?? "10.77.0.1/24");
  const bmc = splitCidr("the BMC head address", o.bmcHeadAddress ?? "10.78.0.1/24");
  const firstHost = o.firstHost ?? 11;
  for (const net of [head, bmc]) {
    const size = 2 ** (32 - net.prefix);
    if (firstHost < 2 || firstHost + nodes > size - 1) throw new Error(`node host numbers ${firstHost}..${firstHost + nodes - 1} do not fit ${net.address}/${net.prefix}`);
  }
  const bridge = o.bridge ?? "mfbr0";
  const bmcInterface = o.bmcInterface ?? "mfbmc0";
  for (const [what, n] of [
    ["bridge", bridge],
    ["BMC interface", bmcInterface],
  ] as const) {
    if (!IFNAME.test(n)) throw new Error(`the lab's ${what} name must be a valid interface name of at most 15 characters (got ${JSON.stringify(n)})`);
  }
  const bmcKind = o.bmc ?? "ipmi";
  if (bmcKind !== "ipmi" && bmcKind !== "redfish") throw new Error(`the lab's BMCs are "ipmi" or "redfish" (got ${JSON.stringify(o.bmc)})`);
  const macPrefix = (o.macPrefix ?? "52:54:00:4d:46").toLowerCase();
  if (!/^([0-9a-f]{2}:){4}[0-9a-f]{2}$/.test(macPrefix)) throw new Error(`macPrefix must be five octets like 52:54:00:4d:46 (got ${JSON.stringify(o.macPrefix)})`);
  return {
    namespace,
    dir: o.dir ?? defaultLabDir(namespace),
    cacheDir: o.cacheDir ?? defaultCacheDir(),
    nodes,
    image,
    nodePrefix: o.nodePrefix ?? "lab",
    // Debian with systemd wants more room than the busybox image (FACTS.md: 1 GiB installs and boots).
    memoryMiB: o.memoryMiB ?? (image === "debian" ? 1024 : 512),
    diskBytes: o.diskBytes ?? (image === "debian" ? 4 : 2) * 1024 ** 3,
    bridge,
    headAddress: head.address,
    prefixLength: head.prefix,
    firstHost,
    bmcInterface,
    bmcHeadAddress: bmc.address,
    bmcPrefixLength: bmc.prefix,
    bmc: bmcKind,
    bmcPort: o.bmcPort ?? (bmcKind === "redfish" ? 443 : 623),
    bmcSerialPortBase: o.bmcSerialPortBase ?? 9100,
    macPrefix,
    powerOn: o.powerOn ?? true,
    ports: o.ports ?? {},
    routerAdvertisements: o.routerAdvertisements ?? true,
    firmware: resolveFirmware(o.firmware, nodes),
    ...(o.dataNetwork ? { dataNetwork: resolveDataNetwork(o.dataNetwork, splitCidr) } : {}),
    logger: o.logger ?? nullLogger,
  };
}

function resolveFirmware(fw: LabOptions["firmware"], nodes: number): LabFirmware[] {
  const list: readonly LabFirmware[] = fw === undefined ? ["bios"] : typeof fw === "string" ? [fw] : fw;
  if (list.length === 0) throw new Error(`the lab's firmware list is empty: name ${LAB_FIRMWARES.join(", ")}`);
  for (const f of list) if (!LAB_FIRMWARES.includes(f)) throw new Error(`unknown lab firmware ${JSON.stringify(f)}: use ${LAB_FIRMWARES.join(", ")}`);
  return Array.from({ length: nodes }, (_, i) => firmwareOf(list, i));
}

function ipToInt(ip: string): number {
  return ip.split(".").reduce((n, o) => n * 256 + Number(o), 0);
}

function intToIp(n: number): string {
  return [24, 16, 8, 0].map((s) => Math.floor(n / 2 ** s) % 256).join(".");
}

/** Host number `host` of the network that `address`/`prefix` is in. */
export function hostAddress(address: string, prefix: number, host: number): string {
  const size = 2 ** (32 - prefix);
  return intToIp(Math.floor(ipToInt(address) / size) * size + host);
}

/** Deterministic MAC of node number n (1-based): <prefix>:NN in hex. */
export function nodeMac(prefix: string, n: number): string {
  return `${prefix}:${n.toString(16).padStart(2, "0")}`;
}
