// A node's extra interfaces for systemd-networkd: a .netdev for each bond, VLAN and
// bridge (systemd.netdev(5)) and a .network for each interface and bond member
// (systemd.network(5)), matched by name — NICs given by MAC are named by .link files
// (interfaces-common.ts). networkd needs no other package for any of them.
import type { NodeInterface, Route } from "../config/types.js";
import { bondMembers, HEADER, masterOf, upOrder, vlansOn } from "./interfaces-common.js";

export interface StackFile {
  path: string;
  content: string;
}

const DIR = "/etc/systemd/network";

function netdev(i: NodeInterface): string | undefined {
  if (i.kind === "ethernet") return undefined;
  const kind = i.kind === "bond" ? "bond" : i.kind === "vlan" ? "vlan" : "bridge";
  const lines = [HEADER, "[NetDev]", `Name=${i.name}`, `Kind=${kind}`, ""];
  if (i.bond) lines.push("[Bond]", `Mode=${i.bond.mode}`, `MIIMonitorSec=${i.bond.miimon}ms`);
  if (i.vlan) lines.push("[VLAN]", `Id=${i.vlan.id}`);
  if (i.bridge) lines.push("[Bridge]", `STP=${i.bridge.stp ? "yes" : "no"}`);
  return lines.join("\n") + "\n";
}

function dhcpValue(i: NodeInterface): string | undefined {
  if (i.dhcp4 && i.dhcp6) return "yes";
  if (i.dhcp4) return "ipv4";
  if (i.dhcp6) return "ipv6";
  return undefined;
}

function routeSections(routes: readonly Route[]): string[] {
  return routes.flatMap((r) => [
    "",
    "[Route]",
    ...(r.to === "default" ? [] : [`Destination=${r.to}`]),
    `Gateway=${r.via}`,
    ...(r.metric !== undefined ? [`Metric=${r.metric}`] : []),
  ]);
}

function network(ifaces: readonly NodeInterface[], i: NodeInterface): string {
  const lines = [HEADER, "[Match]", `Name=${i.name}`, ""];
  if (i.mtu !== undefined) lines.push("[Link]", `MTUBytes=${i.mtu}`, "");
  lines.push("[Network]");
  const dhcp = dhcpValue(i);
  if (dhcp) lines.push(`DHCP=${dhcp}`);
  if (i.ipv4) lines.push(`Address=${i.ipv4.address}/${i.ipv4.prefix}`);
  if (i.ipv6) lines.push(`Address=${i.ipv6.address}/${i.ipv6.prefix}`);
  if (i.gateway4) lines.push(`Gateway=${i.gateway4}`);
  if (i.gateway6) lines.push(`Gateway=${i.gateway6}`);
  for (const d of i.dns) lines.push(`DNS=${d}`);
  if (i.domains.length) lines.push(`Domains=${i.domains.join(" ")}`);
  for (const v of vlansOn(ifaces, i.name)) lines.push(`VLAN=${v}`);
  const master = masterOf(ifaces, i.name);
  if (master) lines.push(`${master.kind === "bond" ? "Bond" : "Bridge"}=${master.name}`);
  // Nothing to configure (a VLAN's link, a bridge port): up, without an address of its own.
  if (!dhcp && !i.ipv4 && !i.ipv6) lines.push("LinkLocalAddressing=no");
  lines.push(...routeSections(i.routes));
  return lines.join("\n") + "\n";
}

/** A bond member: enslaved, nothing else. */
function memberNetwork(name: string, bond: string): string {
  return [HEADER, "[Match]", `Name=${name}`, "", "[Network]", `Bond=${bond}`].join("\n") + "\n";
}

export function networkdFiles(ifaces: readonly NodeInterface[]): StackFile[] {
  const out: StackFile[] = [];
  for (const i of upOrder(ifaces)) {
    const nd = netdev(i);
    if (nd) out.push({ path: `${DIR}/30-metalform-${i.name}.netdev`, content: nd });
    out.push({ path: `${DIR}/30-metalform-${i.name}.network`, content: network(ifaces, i) });
    if (i.kind === "bond") for (const m of bondMembers(i)) out.push({ path: `${DIR}/30-metalform-${m}.network`, content: memberNetwork(m, i.name) });
  }
  return out;
}
