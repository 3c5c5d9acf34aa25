// The native UDP helper (native/udp-bind-device, an N-API addon built by
// scripts/build.sh): sockets created in C — bound to a device (SO_BINDTODEVICE),
// inside a network namespace, with buffers past rmem_max — then wrapped by node:dgram;
// and sendBatch, a run of datagrams in one sendmmsg(2). One loader for the DHCP and
// TFTP servers.
import dgram from "node:dgram";
import { closeSync, existsSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";

/** Where native/udp-bind-device/build.sh puts the addon (same depth from src/ and dist/). */
export const nativeAddonPath = resolve(dirname(fileURLToPath(import.meta.url)), "../../native/udp-bind-device/build/Release/udp_bind_device.node");

/** The C function's arguments are positional (N-API); callers use openNativeSocket. */
export interface UdpAddon {
  open(address: string, port: number, device: string, netnsPath: string, bufferBytes: number, reuseAddress: boolean): number;
  sendBatch(fd: number, packets: Buffer[], start: number, count: number, ipv4: number, port: number, gso: boolean): number;
  setReuseAddress(fd: number, on: boolean): void;
}

export interface NativeSocketOptions {
  address: string;
  port: number;
  /** Interface to bind to (SO_BINDTODEVICE); none by default. */
  device?: string | undefined;
  /** Path of a network namespace to make the socket in; the caller's by default. */
  netnsPath?: string | undefined;
  /** Receive/send buffer forced past rmem_max; 0 (default) keeps the kernel's. */
  bufferBytes?: number | undefined;
  reuseAddress?: boolean | undefined;
}

/** A bound UDP socket's fd, made by the addon (throws with errno's message). */
export function openNativeSocket(addon: UdpAddon, o: NativeSocketOptions): number {
  return addon.open(o.address, o.port, o.device ?? "", o.netnsPath ?? "", o.bufferBytes ?? 0, o.reuseAddress ?? false);
}

const loaded = new Map<string, UdpAddon | undefined>();

/** The addon at `path`, or undefined when it is not built or lacks sendBatch/setReuseAddress (an older build). */
export function loadUdpAddon(path: string = nativeAddonPath): UdpAddon | undefined {
  if (loaded.has(path)) return loaded.get(path);
  let addon: UdpAddon | undefined;
  if (existsSync(path)) {
    const mod = createRequire(import.meta.url)(path) as Partial<UdpAddon>;
    if (typeof mod.open === "function" && typeof mod.sendBatch === "function" && typeof mod.setReuseAddress === "function") addon = mod as UdpAddon;
  }
  loaded.set(path, addon);
  return addon;
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
        rej(e instanceof Error ? e : new Error(String(e)));
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
