// A node's extra interfaces as /etc/network/interfaces stanzas (interfaces(5)),
// appended after the provisioning NIC's: NICs by the names their .link files give them,
// bonds with ifenslave's `bond-*` options, VLANs (ifupdown makes LINK.ID itself; other
// names need the vlan package's `vlan-raw-device`), bridges with bridge-utils'
// `bridge_*` options. Static routes are `up ip route add` lines: ifupdown has no syntax
// of its own for them. DNS goes to /etc/resolv.conf (network-config.ts).
import type { NodeInterface, Route } from "../config/types.js";
import { bondMembers, masterOf, upOrder } from "./interfaces-common.js";

function routeLines(name: string, routes: readonly Route[], family: 4 | 6): string[] {
  return routes
    .filter((r) => (r.via.includes(":") ? 6 : 4) === family)
    .map((r) => `\tup ip ${family === 6 ? "-6 " : ""}route add ${r.to} via ${r.via} dev ${name}${r.metric !== undefined ? ` metric ${r.metric}` : ""}`);
}

/** The options of the device itself (bond, VLAN, bridge, MTU), on its first stanza. */
function deviceOptions(i: NodeInterface): string[] {
  const out: string[] = [];
  if (i.bond) out.push(`\tbond-slaves ${bondMembers(i).join(" ")}`, `\tbond-mode ${i.bond.mode}`, `\tbond-miimon ${i.bond.miimon}`);
  if (i.vlan) out.push(`\tvlan-raw-device ${i.vlan.link}`);
  if (i.bridge) out.push(`\tbridge_ports ${i.bridge.members.join(" ")}`, `\tbridge_stp ${i.bridge.stp ? "on" : "off"}`);
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

/** Stanzas for every extra interface but bond members (ifenslave enslaves them from the bond's stanza). */
export function ifupdownStanzas(ifaces: readonly NodeInterface[]): string {
  const lines: string[] = [];
  for (const i of upOrder(ifaces)) {
    if (masterOf(ifaces, i.name)?.kind === "bond") continue;
    lines.push(...stanza(i));
  }
  return lines.length ? lines.join("\n") + "\n" : "";
}
