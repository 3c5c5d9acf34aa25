// The DHCP server's options from the cluster model, for `metalform serve` and apply.
import type { Network, Node } from "../../config/types.js";
import type { PxeOptions } from "./pxe.js";
import type { DhcpServerOptions } from "./server.js";

export interface DhcpWiring {
  /** URL template of a node's iPXE script (`${mac}`, `${ip}`) or a function of the MAC. */
  scriptUrl: PxeOptions["scriptUrl"];
  /** Where dynamic leases persist, e.g. `<state dir>/dhcp-leases.jsonl`. */
  leaseFile?: string;
  loaders?: PxeOptions["loaders"];
  /** Overrides for tests and the lab (namespace, interface binding off, ...). */
  overrides?: Partial<DhcpServerOptions>;
}

export function dhcpOptionsFromNetwork(network: Network, nodes: readonly Node[], wiring: DhcpWiring): DhcpServerOptions {
  return {
    mode: network.dhcp.mode,
    serverAddress: network.address,
    interface: network.interface,
    ports: { server: network.ports.dhcp, proxy: network.ports.proxyDhcp },
    subnetMask: network.netmask,
    broadcastAddress: network.broadcast,
    routers: network.gateway ? [network.gateway] : [],
    dnsServers: network.dns,
    ...(network.domain ? { domain: network.domain } : {}),
    leaseTime: network.dhcp.leaseTime,
    ...(network.dhcp.dynamicRange ? { dynamicRange: network.dhcp.dynamicRange } : {}),
    ...(wiring.leaseFile ? { leaseFile: wiring.leaseFile } : {}),
    ...(network.discovery ? { discovery: true } : {}),
    // Option 12 carries the short name; the domain goes in option 15.
    reservations: nodes.map((n) => ({ mac: n.mac, ip: n.ip, hostname: n.name })),
    pxe: { scriptUrl: wiring.scriptUrl, ...(wiring.loaders ? { loaders: wiring.loaders } : {}) },
    ...wiring.overrides,
  };
}
