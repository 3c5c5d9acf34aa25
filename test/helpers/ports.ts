// A free port on loopback for a server a test starts (rsync daemon, PostgreSQL,
// ipmi_sim, HTTP): the kernel picks one, the probe socket closes, the server binds it.
// Another process could take it in between; on loopback in a test run that is rare
// enough, and servers that can bind port 0 themselves should do that instead.
import dgram from "node:dgram";
import net from "node:net";

export interface FreePortOptions {
  /** "udp" for datagram servers (ipmi_sim); TCP otherwise. */
  protocol?: "tcp" | "udp";
  host?: string;
}

export async function freePort(opts: FreePortOptions = {}): Promise<number> {
  const host = opts.host ?? "127.0.0.1";
  if (opts.protocol === "udp") {
    const s = dgram.createSocket("udp4");
    await new Promise<void>((resolve, reject) => {
      s.once("error", reject);
      s.bind(0, host, resolve);
    });
    const port = s.address().port;
    await new Promise<void>((resolve) => s.close(resolve));
    return port;
  }
  const s = net.createServer();
  await new Promise<void>((resolve, reject) => {
    s.once("error", reject);
    s.listen(0, host, resolve);
  });
  const port = (s.address() as net.AddressInfo).port;
  await new Promise<void>((resolve) => s.close(() => resolve()));
  return port;
}
