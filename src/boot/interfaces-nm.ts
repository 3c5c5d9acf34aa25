// A node's extra interfaces as NetworkManager keyfiles (nm-settings-keyfile(5)), one
// connection per interface and per bond member: Ethernet bound to its name (and MAC
// when given), bonds, VLANs (`parent`) and bridges; ports carry `master` and no IP
// settings. UUIDs are derived from node and interface names, so a sync rewrites the
// same connection instead of adding one.
import { createHash } from "node:crypto";
import type { NodeInterface, Route } from "../config/types.js";
import { bondMembers, HEADER, masterOf, memberName, upOrder } from "./interfaces-common.js";
import type { StackFile } from "./interfaces-networkd.js";

const DIR = "/etc/NetworkManager/system-connections";

function uuidFor(node: string, iface: string): string {
  const h = createHash("sha256").update(`metalform:${node}:interface:${iface}`).digest("hex");
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-5${h.slice(13, 16)}-${((parseInt(h[16]!, 16) & 3) | 8).toString(16)}${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

function connection(node: string, name: string, type: string, master?: { name: string; kind: string }): string[] {
  const lines = ["[connection]", `id=metalform-${name}`, `uuid=${uuidFor(node, name)}`, `type=${type}`, `interface-name=${name}`, "autoconnect=true"];
  if (master) lines.push(`master=${master.name}`, `slave-type=${master.kind}`);
  return lines;
}

function routes(rs: readonly Route[], family: 4 | 6): string[] {
  return rs
    .filter((r) => (r.via.includes(":") ? 6 : 4) === family)
    .map((r, n) => `route${n + 1}=${r.to === "default" ? (family === 4 ? "0.0.0.0/0" : "::/0") : r.to},${r.via}${r.metric !== undefined ? `,${r.metric}` : ""}`);
}

function ipSections(i: NodeInterface): string[] {
  const v4 = ["", "[ipv4]", `method=${i.ipv4 ? "manual" : i.dhcp4 ? "auto" : "disabled"}`];
  if (i.ipv4) v4.push(`address1=${i.ipv4.address}/${i.ipv4.prefix}${i.gateway4 ? `,${i.gateway4}` : ""}`);
  const dns4 = i.dns.filter((d) => !d.includes(":"));
  if (dns4.length) v4.push(`dns=${dns4.join(";")};`);
  if (i.domains.length) v4.push(`dns-search=${i.domains.join(";")};`);
  v4.push(...routes(i.routes, 4));
  const v6 = ["", "[ipv6]", `method=${i.ipv6 ? "manual" : i.dhcp6 ? "auto" : "ignore"}`];
  if (i.ipv6) v6.push(`address1=${i.ipv6.address}/${i.ipv6.prefix}${i.gateway6 ? `,${i.gateway6}` : ""}`);
  const dns6 = i.dns.filter((d) => d.includes(":"));
  if (dns6.length) v6.push(`dns=${dns6.join(";")};`);
  v6.push(...routes(i.routes, 6));
  return [...v4, ...v6];
}

function keyfile(node: string, ifaces: readonly NodeInterface[], i: NodeInterface): string {
  const master = masterOf(ifaces, i.name);
  const lines = [HEADER, ...connection(node, i.name, i.kind, master)];
  if (i.bond) lines.push("", "[bond]", `mode=${i.bond.mode}`, `miimon=${i.bond.miimon}`);
  if (i.vlan) lines.push("", "[vlan]", `id=${i.vlan.id}`, `parent=${i.vlan.link}`);
  if (i.bridge) lines.push("", "[bridge]", `stp=${i.bridge.stp}`);
  if (i.mac || i.mtu !== undefined) {
    lines.push("", "[ethernet]");
    if (i.mac) lines.push(`mac-address=${i.mac.toUpperCase()}`);
    if (i.mtu !== undefined) lines.push(`mtu=${i.mtu}`);
  }
  if (!master) lines.push(...ipSections(i));
  return lines.join("\n") + "\n";
}

function memberKeyfile(node: string, bond: NodeInterface, j: number): string {
  const m = bond.bond!.members[j]!;
  const name = "mac" in m ? memberName(bond.name, j) : m.name;
  const lines = [HEADER, ...connection(node, name, "ethernet", { name: bond.name, kind: "bond" })];
  if ("mac" in m) lines.push("", "[ethernet]", `mac-address=${m.mac.toUpperCase()}`);
  return lines.join("\n") + "\n";
}

export function nmFiles(node: string, ifaces: readonly NodeInterface[]): StackFile[] {
  const out: StackFile[] = [];
  for (const i of upOrder(ifaces)) {
    out.push({ path: `${DIR}/metalform-${i.name}.nmconnection`, content: keyfile(node, ifaces, i) });
    if (i.kind === "bond") bondMembers(i).forEach((m, j) => out.push({ path: `${DIR}/metalform-${m}.nmconnection`, content: memberKeyfile(node, i, j) }));
  }
  return out;
}
