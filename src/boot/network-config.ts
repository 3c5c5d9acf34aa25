// The installed system's name and network configuration: /etc/hostname, /etc/hosts,
// /etc/resolv.conf (when DNS or a domain is set), and the node's static address in
// the files of every network stack an image may use (network-stacks.ts); the installer
// writes the ones of the stack it finds in the installed system.
import type { Network, Node, NodeInterface } from "../config/types.js";
import { networkStackFiles } from "./network-stacks.js";
import type { PlanFile, PlanSymlink } from "./plan-types.js";

export { IFACE_PLACEHOLDER, renderInterfaces, renderNetworkdUnit } from "./network-stacks.js";

/** resolv.conf from the provisioning network's DNS, then that of the node's other interfaces' networks (each once). */
export function renderResolvConf(net: Network, ifaces: readonly NodeInterface[] = []): string | undefined {
  const domains = [...new Set([...(net.domain ? [net.domain] : []), ...ifaces.flatMap((i) => i.domains)])];
  const servers = [...new Set([...net.dns, ...ifaces.flatMap((i) => i.dns)])];
  if (servers.length === 0 && domains.length === 0) return undefined;
  const lines: string[] = [];
  if (domains.length) lines.push(`search ${domains.join(" ")}`);
  for (const d of servers) lines.push(`nameserver ${d}`);
  return lines.join("\n") + "\n";
}

export function renderHosts(node: Node): string {
  const short = node.hostname.split(".")[0] ?? node.name;
  const names = short === node.hostname ? node.hostname : `${node.hostname} ${short}`;
  return `127.0.0.1\tlocalhost\n${node.ip}\t${names}\n`;
}

export function networkFiles(node: Node, net: Network): { files: PlanFile[]; symlinks: PlanSymlink[] } {
  const stacks = networkStackFiles(node, net);
  const files: PlanFile[] = [
    { path: "/etc/hostname", mode: "0644", content: node.hostname + "\n" },
    { path: "/etc/hosts", mode: "0644", content: renderHosts(node) },
    ...stacks.files,
  ];
  const resolv = renderResolvConf(net, node.interfaces);
  if (resolv) files.push({ path: "/etc/resolv.conf", mode: "0644", content: resolv });
  return { files, symlinks: stacks.symlinks };
}
