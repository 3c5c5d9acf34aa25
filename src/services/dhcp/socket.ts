// UDP sockets for the DHCP server. With an interface name the socket is created by
// the native helper (../udp-addon.ts) with SO_BINDTODEVICE, so it only hears that
// interface and its replies (broadcasts included) only leave through it; node:dgram
// then wraps the descriptor. The helper can also create the socket inside a named
// network namespace (the virtual lab, tests). Otherwise a plain node:dgram socket.
import dgram from "node:dgram";
import { loadUdpAddon, nativeAddonPath, openNativeSocket, wrapFd, type UdpAddon } from "../udp-addon.js";

export { nativeAddonPath };

function requireAddon(): UdpAddon {
  const addon = loadUdpAddon();
  if (!addon) {
    throw new Error(
      `binding to an interface needs the native helper ${nativeAddonPath}; build it with native/udp-bind-device/build.sh (needs Debian packages build-essential and python3)`,
    );
  }
  return addon;
}

export interface UdpBindOptions {
  address: string;
  port: number;
  /** Interface to bind to (SO_BINDTODEVICE); undefined = every interface. */
  device?: string;
  /** Network namespace (name under /run/netns, or a path) to create the socket in. */
  netns?: string;
  /** Bigger receive/send buffers for boot storms (bytes). */
  recvBufferSize?: number;
  /** SO_REUSEADDR: share the port with another server that sets it too (default: a taken port is an error). */
  reuseAddress?: boolean;
}

export function netnsPath(netns: string): string {
  return netns.includes("/") ? netns : `/run/netns/${netns}`;
}

export async function openUdpSocket(opts: UdpBindOptions): Promise<dgram.Socket> {
  const sock = opts.device !== undefined || opts.netns !== undefined ? await openOnDevice(opts) : await openPlain(opts);
  sock.setBroadcast(true);
  return sock;
}

/** Created by the helper: bound to the device, in the namespace, buffers set there. */
async function openOnDevice(opts: UdpBindOptions): Promise<dgram.Socket> {
  const addon = requireAddon();
  let fd: number;
  try {
    fd = openNativeSocket(addon, {
      address: opts.address,
      port: opts.port,
      device: opts.device,
      netnsPath: opts.netns !== undefined ? netnsPath(opts.netns) : undefined,
      bufferBytes: opts.recvBufferSize,
      reuseAddress: opts.reuseAddress,
    });
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    if (err.code === "ENODEV") throw new Error(`interface ${opts.device} does not exist`, { cause: e });
    if (err.code === "EADDRINUSE") throw new Error(`UDP port ${opts.port} on ${opts.device ?? "every interface"} is already in use`, { cause: e });
    throw err;
  }
  return wrapFd(addon, fd, { type: "udp4", reuseAddr: opts.reuseAddress ?? false });
}

async function openPlain(opts: UdpBindOptions): Promise<dgram.Socket> {
  const sock = dgram.createSocket({ type: "udp4", reuseAddr: opts.reuseAddress ?? false });
  await new Promise<void>((res, rej) => {
    const onError = (e: Error) => {
      sock.removeListener("listening", onListening);
      const code = (e as NodeJS.ErrnoException).code;
      rej(code === "EADDRINUSE" ? new Error(`UDP port ${opts.address}:${opts.port} is already in use`) : e);
    };
    const onListening = () => {
      sock.removeListener("error", onError);
      res();
    };
    sock.once("error", onError);
    sock.once("listening", onListening);
    sock.bind({ address: opts.address, port: opts.port, exclusive: true });
  });
  if (opts.recvBufferSize) {
    try {
      sock.setRecvBufferSize(opts.recvBufferSize);
      sock.setSendBufferSize(opts.recvBufferSize);
    } catch {
      // The kernel caps it at net.core.rmem_max; a smaller buffer is not fatal.
    }
  }
  return sock;
}
