// The native UDP helper (native/udp-bind-device) as the TFTP server uses it: sockets
// created in C (so the request socket can get a large receive buffer) and wrapped by
// node:dgram, which keeps receiving; and sendBatch, which sends a whole window of DATA
// packets in one sendmmsg(2), optionally as UDP GSO datagrams. Everything here is
// optional: without the built addon, or for IPv6, the server uses plain node:dgram.

import dgram from "node:dgram";
import { closeSync, existsSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import type { WindowSender } from "./transfer.js";

/** Where native/udp-bind-device/build.sh puts the addon (same depth from src/ and dist/). */
export const defaultAddonPath = resolve(
  dirname(fileURLToPath(import.meta.url)),
  "../../../native/udp-bind-device/build/Release/udp_bind_device.node",
);

export interface UdpAddon {
  open(address: string, port: number, device: string, netnsPath: string, bufferBytes: number, reuseAddress: boolean): number;
  sendBatch(fd: number, packets: Buffer[], start: number, count: number, ipv4: number, port: number, gso: boolean): number;
  setReuseAddress(fd: number, on: boolean): void;
}

/** How a window of DATA packets leaves: one sendmmsg with GSO runs, one plain sendmmsg, or dgram per packet. */
export type SendPath = "gso" | "sendmmsg" | "dgram";

const loaded = new Map<string, UdpAddon | undefined>();

/** The addon at `path`, or undefined when it is not built or lacks sendBatch/setReuseAddress (an older build). */
export function loadUdpAddon(path: string = defaultAddonPath): UdpAddon | undefined {
  if (loaded.has(path)) return loaded.get(path);
  let addon: UdpAddon | undefined;
  if (existsSync(path)) {
    const mod = createRequire(import.meta.url)(path) as Partial<UdpAddon>;
    if (typeof mod.open === "function" && typeof mod.sendBatch === "function" && typeof mod.setReuseAddress === "function") addon = mod as UdpAddon;
  }
  loaded.set(path, addon);
  return addon;
}

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

/**
 * Wraps an fd made by the addon in a node:dgram socket. dgram owns the fd from then
 * on (socket.close() closes it); the fd is closed here if wrapping fails. libuv turns
 * SO_REUSEADDR on when it adopts the fd; it is turned off again unless options.reuseAddr,
 * so no other socket can bind the same port beside ours.
 */
export async function wrapFd(addon: UdpAddon, fd: number, options: dgram.SocketOptions): Promise<dgram.Socket> {
  const socket = dgram.createSocket(options);
  await new Promise<void>((res, rej) => {
    const onError = (e: Error) => rej(e);
    socket.once("error", onError);
    socket.bind({ fd }, () => {
      socket.off("error", onError);
      try {
        if (!options.reuseAddr) addon.setReuseAddress(fd, false);
        res();
      } catch (e) {
        rej(e);
      }
    });
  }).catch((e: unknown) => {
    // dgram did not adopt the fd (its open failed): it is still ours to close.
    try {
      socket.close();
    } catch {
      /* never bound */
    }
    try {
      closeSync(fd);
    } catch {
      /* already closed */
    }
    throw e;
  });
  return socket;
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
