// A node's extra interfaces in netplan's vocabulary (netplan(5), version 2), in a file
// of their own beside the provisioning NIC's (netplan merges every file of
// /etc/netplan): ethernets matched by MAC and renamed with set-name (bond members given
// by MAC too), bonds, VLANs and bridges, each with its addresses, routes and DNS.
import type { NodeInterface } from "../config/types.js";
import { bareMembers, bondMembers, HEADER, memberName } from "./interfaces-common.js";

const q = (s: string) => `"${s}"`;

/** The settings every netplan device type shares, indented under the device. */
function common(i: NodeInterface): string[] {
  const out: string[] = [];
  if (i.mtu !== undefined) out.push(`      mtu: ${i.mtu}`);
  out.push(`      dhcp4: ${i.dhcp4}`);
  if (i.dhcp6) out.push("      dhcp6: true");
  const addrs = [i.ipv4, i.ipv6].filter((a) => a !== undefined).map((a) => q(`${a.address}/${a.prefix}`));
  if (addrs.length) out.push(`      addresses: [${addrs.join(", ")}]`);
  const routes = [...(i.gateway4 ? [{ to: "default", via: i.gateway4 }] : []), ...(i.gateway6 ? [{ to: "default", via: i.gateway6 }] : []), ...i.routes];
  if (routes.length) {
    out.push("      routes:");
    for (const r of routes)
      out.push(
        `        - to: ${r.to === "default" ? "default" : q(r.to)}`,
        `          via: ${q(r.via)}`,
        ...("metric" in r && r.metric !== undefined ? [`          metric: ${r.metric}`] : []),
      );
  }
  if (i.dns.length || i.domains.length) {
    out.push("      nameservers:");
    if (i.dns.length) out.push(`        addresses: [${i.dns.map(q).join(", ")}]`);
    if (i.domains.length) out.push(`        search: [${i.domains.join(", ")}]`);
  }
  return out;
}

function matched(name: string, mac: string): string[] {
  return [`    ${name}:`, "      match:", `        macaddress: ${q(mac)}`, `      set-name: ${name}`];
}

function ethernets(ifaces: readonly NodeInterface[]): string[] {
  const out: string[] = [];
  for (const i of ifaces.filter((x) => x.kind === "ethernet")) out.push(...(i.mac ? matched(i.name, i.mac) : [`    ${i.name}:`]), ...common(i));
  for (const b of ifaces.filter((x) => x.kind === "bond")) {
    b.bond!.members.forEach((m, j) => {
      if ("mac" in m) out.push(...matched(memberName(b.name, j), m.mac), "      dhcp4: false");
    });
  }
  // netplan only bonds devices it knows: a member by kernel name is declared, unconfigured.
  for (const m of bareMembers(ifaces)) out.push(`    ${m}:`, "      dhcp4: false");
  return out;
}

function section(title: string, items: readonly NodeInterface[], specific: (i: NodeInterface) => string[]): string[] {
  if (!items.length) return [];
  return [`  ${title}:`, ...items.flatMap((i) => [`    ${i.name}:`, ...specific(i), ...common(i)])];
}

export function renderNetplanInterfaces(ifaces: readonly NodeInterface[]): string {
  const eth = ethernets(ifaces);
  const lines = [HEADER, "network:", "  version: 2", ...(eth.length ? ["  ethernets:", ...eth] : [])];
  const bonds = ifaces.filter((i) => i.kind === "bond");
  lines.push(
    ...section("bonds", bonds, (b) => [
      `      interfaces: [${bondMembers(b).join(", ")}]`,
      "      parameters:",
      `        mode: ${b.bond!.mode}`,
      `        mii-monitor-interval: ${b.bond!.miimon}`,
    ]),
  );
  lines.push(
    ...section(
      "vlans",
      ifaces.filter((i) => i.kind === "vlan"),
      (v) => [`      id: ${v.vlan!.id}`, `      link: ${v.vlan!.link}`],
    ),
  );
  lines.push(
    ...section(
      "bridges",
      ifaces.filter((i) => i.kind === "bridge"),
      (b) => [`      interfaces: [${b.bridge!.members.join(", ")}]`, "      parameters:", `        stp: ${b.bridge!.stp}`],
    ),
  );
  return lines.join("\n") + "\n";
}
