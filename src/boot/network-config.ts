// The installed system's network configuration: a static address on the NIC whose
// MAC is the node's, written twice so that either kind of image brings it up —
// for busybox/Debian ifupdown (/etc/network/interfaces, the interface's kernel name
// filled in by the installer: `@IFACE@`), and for systemd-networkd (matched by MAC,
// so predictable interface names need no placeholder; ignored by images without it).
// NetworkManager keyfiles and netplan could follow from the same input.
import type { Network, Node } from "../config/types.js";
import type { PlanFile } from "./plan-types.js";

export const IFACE_PLACEHOLDER = "@IFACE@";

export function renderInterfaces(node: Node, net: Network): string {
  const lines = [
    "# Written by metalform's installer; rewritten on every install and sync.",
    "auto lo",
    "iface lo inet loopback",
    "",
    `auto ${IFACE_PLACEHOLDER}`,
    `iface ${IFACE_PLACEHOLDER} inet static`,
    `\taddress ${node.ip}`,
    `\tnetmask ${net.netmask}`,
  ];
  if (net.gateway) lines.push(`\tgateway ${net.gateway}`);
  return lines.join("\n") + "\n";
}

/** systemd.network(5): matched by MAC address. */
export function renderNetworkdUnit(node: Node, net: Network): string {
  const lines = [
    "# Written by metalform's installer; rewritten on every install and sync.",
    "[Match]",
    `MACAddress=${node.mac}`,
    "",
    "[Network]",
    `Address=${node.ip}/${net.prefix}`,
  ];
  if (net.gateway) lines.push(`Gateway=${net.gateway}`);
  for (const d of net.dns) lines.push(`DNS=${d}`);
  if (net.domain) lines.push(`Domains=${net.domain}`);
  return lines.join("\n") + "\n";
}

export function renderResolvConf(net: Network): string | undefined {
  if (net.dns.length === 0 && !net.domain) return undefined;
  const lines: string[] = [];
  if (net.domain) lines.push(`search ${net.domain}`);
  for (const d of net.dns) lines.push(`nameserver ${d}`);
  return lines.join("\n") + "\n";
}

export function renderHosts(node: Node): string {
  const short = node.hostname.split(".")[0] ?? node.name;
  const names = short === node.hostname ? node.hostname : `${node.hostname} ${short}`;
  return `127.0.0.1\tlocalhost\n${node.ip}\t${names}\n`;
}

export function networkFiles(node: Node, net: Network): PlanFile[] {
  const files: PlanFile[] = [
    { path: "/etc/hostname", mode: "0644", content: node.hostname + "\n" },
    { path: "/etc/hosts", mode: "0644", content: renderHosts(node) },
    { path: "/etc/network/interfaces", mode: "0644", content: renderInterfaces(node, net), placeholders: [IFACE_PLACEHOLDER] },
    { path: "/etc/systemd/network/10-metalform.network", mode: "0644", content: renderNetworkdUnit(node, net) },
  ];
  const resolv = renderResolvConf(net);
  if (resolv) files.push({ path: "/etc/resolv.conf", mode: "0644", content: resolv });
  return files;
}
