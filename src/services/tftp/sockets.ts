// The TFTP server's sockets: the request socket (made by the native helper for its
// forced receive buffer when built) and each transfer's own socket (its TID), with the
// helper's batch sender on its fd.
import dgram from "node:dgram";
import type { Logger } from "../../util/log.js";
import { openNativeSocket, wrapFd, type UdpAddon } from "../udp-addon.js";
import { BatchSender, ipv4ToUint32, type SendPath } from "./native.js";
import type { TransferRemote } from "./transfer.js";

/**
 * Transfer sockets only ever send to IP literals: answering dgram's lookup
 * synchronously saves a dns.lookup round through process.nextTick on every packet.
 */
const literalLookup = (family: 4 | 6) => (address: string, _options: unknown, cb: (err: null, address: string, family: number) => void) => cb(null, address, family);

export interface RequestSocketOptions {
  addon: UdpAddon | undefined;
  address: string;
  port: number;
  type: "udp4" | "udp6";
  /** Forced receive buffer (native helper only). */
  bufferBytes: number;
}

/** The bound request socket; errors name the address and what is wrong with it. */
export async function openRequestSocket(o: RequestSocketOptions): Promise<dgram.Socket> {
  if (o.addon) {
    let fd: number;
    try {
      fd = openNativeSocket(o.addon, { address: o.address, port: o.port, bufferBytes: o.bufferBytes });
    } catch (e) {
      throw bindError(e as NodeJS.ErrnoException, o);
    }
    return wrapFd(o.addon, fd, { type: "udp4", reuseAddr: false });
  }
  const socket = dgram.createSocket({ type: o.type, reuseAddr: false });
  await new Promise<void>((resolve, reject) => {
    socket.once("error", (err) => reject(bindError(err, o)));
    socket.bind(o.port, o.address, () => {
      socket.removeAllListeners("error");
      resolve();
    });
  });
  return socket;
}

function bindError(err: NodeJS.ErrnoException, o: { address: string; port: number }): Error {
  if (err.code === "EADDRINUSE") return new Error(`tftp: ${o.address}:${o.port} is already in use`);
  if (err.code === "EADDRNOTAVAIL" || /cannot assign requested address/i.test(err.message)) {
    return new Error(`tftp: address ${o.address} is not on any interface`);
  }
  return new Error(`tftp: cannot bind ${o.address}:${o.port}: ${err.message}`);
}

export interface TransferSocketOptions {
  addon: UdpAddon | undefined;
  address: string;
  type: "udp4" | "udp6";
  sendPath: SendPath;
  remote: TransferRemote;
  log: Logger;
}

/** A transfer's own socket (its TID) and, with the native helper, the batch sender on its fd. */
export async function openTransferSocket(o: TransferSocketOptions): Promise<{ socket: dgram.Socket; batch: BatchSender | undefined }> {
  const { addon, remote } = o;
  const lookup = literalLookup(o.type === "udp6" ? 6 : 4) as never;
  const ipv4 = ipv4ToUint32(remote.address);
  if (addon && ipv4 !== undefined && o.sendPath !== "dgram") {
    const fd = openNativeSocket(addon, { address: o.address, port: 0 });
    const socket = await wrapFd(addon, fd, { type: "udp4", lookup });
    const batch = new BatchSender(addon, fd, ipv4, remote.port, o.sendPath, (errno) => o.log.debug("batch-send-failed", { remote: `${remote.address}:${remote.port}`, errno }));
    return { socket, batch };
  }
  const socket = dgram.createSocket({ type: o.type, lookup });
  try {
    await new Promise<void>((resolve, reject) => {
      socket.once("error", reject);
      socket.bind(0, o.address, () => {
        socket.off("error", reject);
        resolve();
      });
    });
  } catch (e) {
    socket.close();
    throw e;
  }
  return { socket, batch: undefined };
}
