// A node's extra interfaces (`interfaces:`) as the files of every network stack, each
// tagged with the stacks that read it (the installer writes those of the stack it
// finds, as for the provisioning NIC in network-stacks.ts): .link files naming the
// NICs given by MAC (for the stacks that rely on udev's naming), networkd units,
// NetworkManager keyfiles and a netplan file. ifupdown's stanzas join the provisioning
// NIC's /etc/network/interfaces (network-stacks.ts).
import type { Node } from "../config/types.js";
import { namedNics, renderNicLink } from "./interfaces-common.js";
import { renderNetplanInterfaces } from "./interfaces-netplan.js";
import { networkdFiles } from "./interfaces-networkd.js";
import { nmFiles } from "./interfaces-nm.js";
import type { NetworkStack, PlanFile } from "./plan-types.js";

export function interfaceFiles(node: Node): PlanFile[] {
  const ifaces = node.interfaces ?? [];
  if (!ifaces.length) return [];
  const file = (path: string, content: string, mode: string, stacks: NetworkStack[]): PlanFile => ({ path, mode, content, stacks });
  return [
    ...namedNics(ifaces).map((n) => file(`/etc/systemd/network/20-metalform-${n.name}.link`, renderNicLink(n), "0644", ["ifupdown", "networkd", "networkmanager", "unknown"])),
    ...networkdFiles(ifaces).map((f) => file(f.path, f.content, "0644", ["networkd", "unknown"])),
    ...nmFiles(node.name, ifaces).map((f) => file(f.path, f.content, "0600", ["networkmanager"])),
    file("/etc/netplan/91-metalform-interfaces.yaml", renderNetplanInterfaces(ifaces), "0600", ["netplan"]),
  ];
}
