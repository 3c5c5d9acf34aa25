// A node's extra interfaces as /etc/network/interfaces stanzas (interfaces(5)),
// appended after the provisioning NIC's: NICs by the names their .link files give them.
// Bonds, bridges and VLANs not named LINK.ID (ifupdown makes those itself) are made by
// iproute2 in `pre-up` lines, not by the ifenslave, bridge-utils and vlan packages'
// hooks: ifupdown depends on iproute2, so every ifupdown image can bring them up, while
// a minimal image has none of those packages. Static routes are `up ip route add`
// lines (ifupdown has no syntax of its own for them); DNS goes to /etc/resolv.conf
// (network-config.ts).
import type { NodeInterface, Route } from "../config/types.js";
import { bondMembers, masterOf, upOrder } from "./interfaces-common.js";

function routeLines(name: string, routes: readonly Route[], family: 4 | 6): string[] {
  return routes
    .filter((r) => (r.via.includes(":") ? 6 : 4) === family)
    .map((r) => `\tup ip ${family === 6 ? "-6 " : ""}route add ${r.to} via ${r.via} dev ${name}${r.metric !== undefined ? ` metric ${r.metric}` : ""}`);
}

/** `pre-up` lines that make the device unless it is there (a second ifup after a failed one). */
function create(name: string, add: string): string[] {
  return [`\tpre-up ip link show ${name} >/dev/null 2>&1 || ip link add ${add}`];
}

/** Ports are set down before they are enslaved (the kernel refuses a bond member that is up), then up (a bridge does not do that). */
function enslave(members: readonly string[], master: string): string[] {
  return members.flatMap((m) => [`\tpre-up ip link set ${m} down`, `\tpre-up ip link set ${m} master ${master}`, `\tpre-up ip link set ${m} up`]);
}

/** The lines that make the device itself (bond, bridge, VLAN) and its MTU, on its first stanza. */
function deviceOptions(i: NodeInterface): string[] {
  const out: string[] = [];
  if (i.bond) {
    out.push(...create(i.name, `${i.name} type bond mode ${i.bond.mode} miimon ${i.bond.miimon}`), ...enslave(bondMembers(i), i.name));
  }
  if (i.vlan && i.name !== `${i.vlan.link}.${i.vlan.id}`) out.push(...create(i.name, `link ${i.vlan.link} name ${i.name} type vlan id ${i.vlan.id}`));
  if (i.bridge) out.push(...create(i.name, `${i.name} type bridge stp_state ${i.bridge.stp ? 1 : 0}`), ...enslave(i.bridge.members, i.name));
  if (i.bond || i.bridge || (i.vlan && i.name !== `${i.vlan.link}.${i.vlan.id}`)) out.push(`\tpost-down ip link del ${i.name}`);
  if (i.mtu !== undefined) out.push(`\tmtu ${i.mtu}`);
  return out;
}

function stanza(i: NodeInterface): string[] {
  const lines = ["", `auto ${i.name}`];
  const v4 = i.ipv4 ? "static" : i.dhcp4 ? "dhcp" : i.ipv6 || i.dhcp6 ? undefined : "manual";
  if (v4) {
    lines.push(`iface ${i.name} inet ${v4}`);
    if (i.ipv4) lines.push(`\taddress ${i.ipv4.address}/${i.ipv4.prefix}`);
    if (i.gateway4) lines.push(`\tgateway ${i.gateway4}`);
    lines.push(...deviceOptions(i), ...routeLines(i.name, i.routes, 4));
  }
  if (i.ipv6 || i.dhcp6) {
    lines.push(`iface ${i.name} inet6 ${i.ipv6 ? "static" : "dhcp"}`);
    if (i.ipv6) lines.push(`\taddress ${i.ipv6.address}/${i.ipv6.prefix}`);
    if (i.gateway6) lines.push(`\tgateway ${i.gateway6}`);
    if (!v4) lines.push(...deviceOptions(i));
    lines.push(...routeLines(i.name, i.routes, 6));
  }
  return lines;
}

/** Stanzas for every extra interface but bond members (the bond's stanza enslaves them). */
export function ifupdownStanzas(ifaces: readonly NodeInterface[]): string {
  const lines: string[] = [];
  for (const i of upOrder(ifaces)) {
    if (masterOf(ifaces, i.name)?.kind === "bond") continue;
    lines.push(...stanza(i));
  }
  return lines.length ? lines.join("\n") + "\n" : "";
}
