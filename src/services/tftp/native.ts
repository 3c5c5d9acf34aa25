// Sending a whole TFTP window of DATA packets in one sendmmsg(2) through the native
// helper (../udp-addon.ts), optionally as UDP GSO datagrams. Optional: without the
// built addon, or for IPv6, the server sends with plain node:dgram.

import type { UdpAddon } from "../udp-addon.js";
import type { WindowSender } from "./transfer.js";

/** How a window of DATA packets leaves: one sendmmsg with GSO runs, one plain sendmmsg, or dgram per packet. */
export type SendPath = "gso" | "sendmmsg" | "dgram";

/** Dotted IPv4 to the host-order uint32 sendBatch takes; undefined for anything else. */
export function ipv4ToUint32(address: string): number | undefined {
  const parts = address.split(".");
  if (parts.length !== 4) return undefined;
  let n = 0;
  for (const p of parts) {
    if (!/^\d{1,3}$/.test(p)) return undefined;
    const v = Number(p);
    if (v > 255) return undefined;
    n = n * 256 + v;
  }
  return n;
}

/** ENOBUFS-like failures that mean "this GSO datagram was refused, plain packets will do". */
const GSO_REFUSED = new Set([5 /* EIO */, 22 /* EINVAL */, 90 /* EMSGSIZE */, 95 /* EOPNOTSUPP */, 92 /* ENOPROTOOPT */]);

/**
 * Sends runs of packets to one peer through sendBatch on the fd of a dgram socket.
 * Reports how many went out; the caller sends the rest with socket.send (which queues
 * them in libuv until the socket is writable again).
 */
export class BatchSender implements WindowSender {
  private gso: boolean;

  constructor(
    private readonly addon: UdpAddon,
    private readonly fd: number,
    private readonly ipv4: number,
    private readonly port: number,
    path: "gso" | "sendmmsg",
    private readonly onError: (errno: number) => void,
  ) {
    this.gso = path === "gso";
  }

  get path(): SendPath {
    return this.gso ? "gso" : "sendmmsg";
  }

  /** Packets [start, start+count) of `packets`; returns how many were sent (0..count). */
  send(packets: Buffer[], start: number, count: number): number {
    let sent = 0;
    while (sent < count) {
      const n = this.addon.sendBatch(this.fd, packets, start + sent, count - sent, this.ipv4, this.port, this.gso);
      if (n < 0) {
        if (this.gso && GSO_REFUSED.has(-n)) {
          // A device or path without UDP GSO: stay with plain sendmmsg from now on.
          this.gso = false;
          continue;
        }
        this.onError(-n);
        return sent;
      }
      if (n === 0) return sent; // send buffer full
      sent += n;
    }
    return sent;
  }
}
