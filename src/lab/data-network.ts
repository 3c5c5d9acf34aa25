// A lab's second network (a data network beside the provisioning one): a bridge in the
// lab's namespace with the head's addresses on it (IPv4, optionally IPv6), and extra
// NICs on every VM, each on its own tap on that bridge, without a boot ROM (nodes
// network-boot from their provisioning NIC only). No VLANs: this machine's kernel has
// neither 8021q nor bridge VLAN filtering, so the head could not take part in one.
import { mustRun } from "./run.js";

export interface DataNetworkOptions {
  /** The head's address on the data network, with prefix. Default 10.79.0.1/24. */
  address?: string;
  /** The head's IPv6 address on the data network, with prefix (e.g. fd00:79::1/64). Default none. */
  address6?: string;
  /** Data NICs per VM. Default 1. */
  nics?: number;
  /** The data bridge's name. Default "mfdata0". */
  bridge?: string;
}

export interface ResolvedDataNetwork {
  bridge: string;
  headAddress: string;
  prefixLength: number;
  nics: number;
  address6?: string;
}

/** One data NIC of a VM. */
export interface DataNic {
  tap: string;
  mac: string;
}

export function resolveDataNetwork(o: DataNetworkOptions, cidr: (what: string, s: string) => { address: string; prefix: number }): ResolvedDataNetwork {
  const head = cidr("the data network's head address", o.address ?? "10.79.0.1/24");
  const nics = o.nics ?? 1;
  if (!Number.isInteger(nics) || nics < 1 || nics > 4) throw new Error(`data NICs per lab node must be between 1 and 4 (got ${nics})`);
  if (o.address6 !== undefined && !/^[0-9A-Fa-f:]+\/\d{1,3}$/.test(o.address6)) {
    throw new Error(`the data network's IPv6 head address must be like fd00:79::1/64 (got ${JSON.stringify(o.address6)})`);
  }
  const bridge = o.bridge ?? "mfdata0";
  if (!/^[A-Za-z0-9_-]{1,15}$/.test(bridge)) throw new Error(`the data bridge's name must be 1-15 letters, digits, - or _ (got ${JSON.stringify(bridge)})`);
  return { bridge, headAddress: head.address, prefixLength: head.prefix, nics, ...(o.address6 !== undefined ? { address6: o.address6 } : {}) };
}

/** Node n's (1-based) data NICs: taps mfdNnM, MACs with 0x5M in the fifth octet (the provisioning NIC's prefix has 0x46 there). */
export function dataNics(macPrefix: string, n: number, count: number): DataNic[] {
  const four = macPrefix.split(":").slice(0, 4).join(":");
  return Array.from({ length: count }, (_, m) => ({ tap: `mfd${n}n${m}`, mac: `${four}:${(0x50 + m).toString(16)}:${n.toString(16).padStart(2, "0")}` }));
}

export async function createDataNetwork(namespace: string, d: ResolvedDataNetwork, taps: string[]): Promise<void> {
  const cmds = [
    `link add ${d.bridge} type bridge stp_state 0 forward_delay 0`,
    `link set ${d.bridge} up`,
    `addr add ${d.headAddress}/${d.prefixLength} dev ${d.bridge}`,
    ...(d.address6 ? [`addr add ${d.address6} dev ${d.bridge} nodad`] : []),
    ...taps.flatMap((t) => [`tuntap add dev ${t} mode tap`, `link set ${t} master ${d.bridge}`, `link set ${t} up`]),
  ];
  await mustRun(["ip", "-n", namespace, "-batch", "-"], { input: cmds.join("\n") + "\n" });
}

/** QEMU arguments for a VM's data NICs: virtio, no option ROM (no network boot from them). */
export function dataNicArgs(nics: readonly DataNic[]): string[] {
  return nics.flatMap((nic, m) => ["-netdev", `tap,id=d${m},ifname=${nic.tap},script=no,downscript=no`, "-device", `virtio-net-pci,netdev=d${m},mac=${nic.mac},romfile=`]);
}
