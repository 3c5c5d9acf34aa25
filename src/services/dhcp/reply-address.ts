// Where a reply goes (RFC 2131 §4.1). node:dgram cannot unicast to a client that has
// no address yet (that needs an ARP entry the kernel does not have), so such replies
// are broadcast, which §4.1 allows for clients without an address.
import { FLAG_BROADCAST, MessageType } from "./codec/constants.js";
import { ZERO_IP } from "./codec/ip4.js";
import type { DhcpPacket } from "./codec/packet.js";

export interface ReplyTarget {
  address: string;
  port: number;
}

export function replyTarget(req: DhcpPacket, replyType: MessageType, ports: { server: number; client: number }): ReplyTarget {
  // Through a relay agent: back to the relay, on the server port.
  if (req.giaddr !== ZERO_IP) return { address: req.giaddr, port: ports.server };
  // A NAK goes to everyone: the client's address is the thing in doubt.
  if (replyType === MessageType.NAK) return { address: "255.255.255.255", port: ports.client };
  // A client with an address (renewing, rebinding, INFORM) is unicast.
  if (req.ciaddr !== ZERO_IP) return { address: req.ciaddr, port: ports.client };
  if ((req.flags & FLAG_BROADCAST) !== 0) return { address: "255.255.255.255", port: ports.client };
  return { address: "255.255.255.255", port: ports.client };
}
