// The installed system's address, in the language of whichever network stack the image
// uses. The installer finds out which one after the sync (installer-init.sh
// `network_stack`, in this order) and writes only that stack's files:
//   netplan         /etc/netplan/90-metalform.yaml (matched by MAC, renamed to prov0)
//   networkmanager  a keyfile bound to the MAC (NetworkManager is enabled)
//   networkd        a .network matched by MAC (networkd is enabled, or nothing else is
//                   there and systemd is: then networkd is enabled too)
//   ifupdown        Debian's ifupdown with udev: ifupdown matches interfaces by name
//                   only, so a systemd .link file gives the NIC with the node's MAC the
//                   stable name `prov0` and /etc/network/interfaces configures prov0 —
//                   systemd.link(5) is what Debian documents for naming interfaces
//                   (udev's 70-persistent-net.rules generator is gone since stretch),
//                   and the name no longer depends on the PCI slot (ens3, enp1s0f0)
//   unknown         no udev renaming (busybox images): interfaces with the kernel's name
//                   of the boot NIC (`@IFACE@`, filled in by the installer), plus the
//                   networkd unit in case networkd is started by other means
import { createHash } from "node:crypto";
import type { Network, Node } from "../config/types.js";
import { interfaceFiles } from "./interfaces-files.js";
import { ifupdownStanzas } from "./interfaces-ifupdown.js";
import type { NetworkStack, PlanFile, PlanSymlink } from "./plan-types.js";

export const IFACE_PLACEHOLDER = "@IFACE@";
/** The name the boot NIC gets on stacks that name it (ifupdown via .link, netplan set-name). */
export const STABLE_IFNAME = "prov0";

const HEADER = "# Written by metalform's installer; rewritten on every install and sync.";

export function renderInterfaces(node: Node, net: Network, ifname: string = IFACE_PLACEHOLDER): string {
  const lines = [HEADER, "auto lo", "iface lo inet loopback", "", `auto ${ifname}`, `iface ${ifname} inet static`, `\taddress ${node.ip}`, `\tnetmask ${net.netmask}`];
  // DNS goes to /etc/resolv.conf (network-config.ts): dns-* lines need resolvconf.
  if (net.gateway) lines.push(`\tgateway ${net.gateway}`);
  return lines.join("\n") + "\n";
}

/** systemd.link(5): the NIC with the node's MAC is called STABLE_IFNAME, whatever its slot. */
export function renderLinkFile(node: Node): string {
  return (
    [
      HEADER,
      "# ifupdown names interfaces; this gives the provisioning NIC a name that does not depend on its slot.",
      "[Match]",
      `MACAddress=${node.mac}`,
      "",
      "[Link]",
      `Name=${STABLE_IFNAME}`,
    ].join("\n") + "\n"
  );
}

/** systemd.network(5): matched by MAC address. */
export function renderNetworkdUnit(node: Node, net: Network): string {
  const lines = [HEADER, "[Match]", `MACAddress=${node.mac}`, "", "[Network]", `Address=${node.ip}/${net.prefix}`];
  if (net.gateway) lines.push(`Gateway=${net.gateway}`);
  for (const d of net.dns) lines.push(`DNS=${d}`);
  if (net.domain) lines.push(`Domains=${net.domain}`);
  return lines.join("\n") + "\n";
}

/** A stable UUID for the node's connection (NetworkManager wants one; random would churn on every sync). */
function connectionUuid(node: Node): string {
  const h = createHash("sha256").update(`metalform:${node.name}:${node.mac}`).digest("hex");
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-5${h.slice(13, 16)}-${((parseInt(h[16]!, 16) & 3) | 8).toString(16)}${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

/** NetworkManager keyfile (nm-settings-keyfile(5)), bound to the MAC. */
export function renderNmKeyfile(node: Node, net: Network): string {
  const lines = [
    HEADER,
    "[connection]",
    "id=metalform-provisioning",
    `uuid=${connectionUuid(node)}`,
    "type=ethernet",
    "autoconnect=true",
    "autoconnect-priority=100",
    "",
    "[ethernet]",
    `mac-address=${node.mac.toUpperCase()}`,
    "",
    "[ipv4]",
    "method=manual",
    `address1=${node.ip}/${net.prefix}${net.gateway ? `,${net.gateway}` : ""}`,
  ];
  if (net.dns.length) lines.push(`dns=${net.dns.join(";")};`);
  if (net.domain) lines.push(`dns-search=${net.domain};`);
  lines.push("", "[ipv6]", "method=ignore");
  return lines.join("\n") + "\n";
}

/** netplan(5) version 2, matched by MAC; set-name gives the same stable name as ifupdown's .link. */
export function renderNetplan(node: Node, net: Network): string {
  const lines = [
    HEADER,
    "network:",
    "  version: 2",
    "  ethernets:",
    `    ${STABLE_IFNAME}:`,
    "      match:",
    `        macaddress: "${node.mac}"`,
    `      set-name: ${STABLE_IFNAME}`,
    "      dhcp4: false",
    `      addresses: ["${node.ip}/${net.prefix}"]`,
  ];
  if (net.gateway) lines.push("      routes:", "        - to: default", `          via: ${net.gateway}`);
  if (net.dns.length || net.domain) {
    lines.push("      nameservers:");
    if (net.dns.length) lines.push(`        addresses: [${net.dns.join(", ")}]`);
    if (net.domain) lines.push(`        search: [${net.domain}]`);
  }
  return lines.join("\n") + "\n";
}

const NETWORKD_UNITS = "/usr/lib/systemd/system";

/** Every stack's files; the installer writes those of the stack it finds. */
export function networkStackFiles(node: Node, net: Network): { files: PlanFile[]; symlinks: PlanSymlink[] } {
  const only = (...stacks: NetworkStack[]) => ({ stacks });
  const files: PlanFile[] = [
    // The node's other interfaces (`interfaces:`) follow the provisioning NIC's stanza.
    { path: "/etc/network/interfaces", mode: "0644", content: renderInterfaces(node, net, STABLE_IFNAME) + ifupdownStanzas(node.interfaces ?? []), ...only("ifupdown") },
    { path: "/etc/systemd/network/10-metalform.link", mode: "0644", content: renderLinkFile(node), ...only("ifupdown") },
    { path: "/etc/network/interfaces", mode: "0644", content: renderInterfaces(node, net), placeholders: [IFACE_PLACEHOLDER], ...only("unknown") },
    { path: "/etc/systemd/network/10-metalform.network", mode: "0644", content: renderNetworkdUnit(node, net), ...only("networkd", "unknown") },
    { path: "/etc/NetworkManager/system-connections/metalform.nmconnection", mode: "0600", content: renderNmKeyfile(node, net), ...only("networkmanager") },
    { path: "/etc/netplan/90-metalform.yaml", mode: "0600", content: renderNetplan(node, net), ...only("netplan") },
    ...interfaceFiles(node),
  ];
  // networkd chosen because nothing else is there: enable it (what `systemctl enable` links).
  const enable = (wants: string, unit: string): PlanSymlink => ({ path: `/etc/systemd/system/${wants}/${unit}`, target: `${NETWORKD_UNITS}/${unit}`, stacks: ["networkd"] });
  const symlinks = [
    enable("multi-user.target.wants", "systemd-networkd.service"),
    enable("sockets.target.wants", "systemd-networkd.socket"),
    enable("network-online.target.wants", "systemd-networkd-wait-online.service"),
  ];
  return { files, symlinks };
}
