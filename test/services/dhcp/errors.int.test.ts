// Clear errors at start-up and for bad configuration; nothing half-started.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DhcpServer, type DhcpServerOptions } from "../../../src/services/dhcp/server.js";
import { ensureAddon } from "./helpers/addon.js";
import { createLab, removeStaleNamespaces, type Lab } from "./helpers/netns.js";
import { openPxeClient } from "./helpers/pxe-client.js";

let lab: Lab;
let base: DhcpServerOptions;

beforeAll(() => {
  ensureAddon();
  removeStaleNamespaces();
  lab = createLab({ prov: "10.82.0.1/24", other: "10.83.0.1/24" });
  base = {
    serverAddress: "10.82.0.1",
    netns: lab.serverNs,
    interface: lab.links.get("prov")!.serverIf,
    subnetMask: "255.255.255.0",
    reservations: [{ mac: "52:54:00:ee:00:01", ip: "10.82.0.10" }],
  };
});

afterAll(() => lab?.destroy());

describe("DhcpServer start-up errors", () => {
  it("names a missing interface", async () => {
    const s = new DhcpServer({ ...base, interface: "nosuch0" });
    await expect(s.start()).rejects.toThrow(/interface nosuch0 does not exist/);
  });

  it("names a port already taken on the same interface, while another interface's server coexists", async () => {
    const a = new DhcpServer(base);
    await a.start();
    const other = new DhcpServer({ ...base, serverAddress: "10.83.0.1", interface: lab.links.get("other")!.serverIf });
    try {
      await expect(new DhcpServer(base).start()).rejects.toThrow(/UDP port 67 on prov0 is already in use/);
      // Bound to different devices, the same port does not conflict (one server per interface).
      await other.start();
      // The first server still answers after the failed start.
      const c = await openPxeClient(lab.links.get("prov")!.clientNs);
      try {
        expect((await c.exchange("bios", "52:54:00:ee:00:01")).ack?.yiaddr).toBe("10.82.0.10");
      } finally {
        await c.close();
      }
    } finally {
      await a.stop();
      await other.stop();
    }
  });

  it("shares the port when both servers ask for SO_REUSEADDR", async () => {
    const a = new DhcpServer({ ...base, reuseAddress: true });
    const b = new DhcpServer({ ...base, reuseAddress: true });
    await a.start();
    try {
      await expect(b.start()).resolves.toBeUndefined();
    } finally {
      await b.stop();
      await a.stop();
    }
  });

  it("does not let a server asking for SO_REUSEADDR share the port of one that did not", async () => {
    // libuv sets SO_REUSEADDR on a socket it adopts by fd; the server turns it off again.
    const a = new DhcpServer(base);
    const b = new DhcpServer({ ...base, reuseAddress: true });
    await a.start();
    try {
      await expect(b.start()).rejects.toThrow(/UDP port 67 on prov0 is already in use/);
    } finally {
      await b.stop().catch(() => undefined);
      await a.stop();
    }
  });

  it("in proxy mode, names a taken proxy port and releases port 67 again", async () => {
    const blocker = new DhcpServer({ ...base, ports: { server: 4011 } });
    await blocker.start();
    try {
      const proxy = new DhcpServer({ ...base, mode: "proxy" });
      await expect(proxy.start()).rejects.toThrow(/UDP port 4011 on prov0 is already in use/);
      // Port 67 was closed again: a normal server can start.
      const again = new DhcpServer(base);
      await again.start();
      await again.stop();
    } finally {
      await blocker.stop();
    }
  });
});

describe("DhcpServer configuration errors", () => {
  it("refuses malformed addresses and conflicting reservations", () => {
    expect(() => new DhcpServer({ ...base, serverAddress: "10.82.0" })).toThrow(/serverAddress/);
    expect(() => new DhcpServer({ ...base, subnetMask: "255.255.255.256" })).toThrow(/subnetMask/);
    expect(
      () =>
        new DhcpServer({
          ...base,
          reservations: [
            { mac: "52:54:00:ee:00:01", ip: "10.82.0.10" },
            { mac: "52-54-00-EE-00-01", ip: "10.82.0.11" },
          ],
        }),
    ).toThrow(/reserved twice/);
    expect(
      () =>
        new DhcpServer({
          ...base,
          reservations: [
            { mac: "52:54:00:ee:00:01", ip: "10.82.0.10" },
            { mac: "52:54:00:ee:00:02", ip: "10.82.0.10" },
          ],
        }),
    ).toThrow(/reserved for both/);
    expect(() => new DhcpServer({ ...base, dynamicRange: { start: "10.82.0.200", end: "10.82.0.100" } })).toThrow(/empty/);
  });

  it("setReservations refuses a malformed list", () => {
    const s = new DhcpServer(base);
    expect(() => s.setReservations([{ mac: "zz:54:00:ee:00:01", ip: "10.82.0.10" }])).toThrow(/malformed MAC/);
    expect(() => s.setReservations([{ mac: "52:54:00:ee:00:01", ip: "10.82.0.999" }])).toThrow(/malformed address/);
  });
});
