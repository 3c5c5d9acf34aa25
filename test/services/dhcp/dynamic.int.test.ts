// Dynamic range: unknown MACs leased from a pool, RELEASE/DECLINE, leases persisted
// across a restart of the server.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { MessageType } from "../../../src/services/dhcp/codec/constants.js";
import { DhcpServer, type DhcpServerOptions } from "../../../src/services/dhcp/server.js";
import { ensureAddon } from "./helpers/addon.js";
import { createLab, removeStaleNamespaces, type Lab } from "./helpers/netns.js";
import { readLeaseFile } from "./helpers/lease-file.js";
import { openPxeClient, type PxeClient } from "./helpers/pxe-client.js";

let lab: Lab;
let dir: string;
let client: PxeClient;
let opts: DhcpServerOptions;
let server: DhcpServer;
const M = (n: number) => `52:54:00:cc:00:0${n}`;

beforeAll(async () => {
  ensureAddon();
  removeStaleNamespaces();
  lab = createLab({ prov: "10.78.0.1/24" });
  dir = mkdtempSync(join(tmpdir(), "mfdh-dyn-"));
  opts = {
    serverAddress: "10.78.0.1",
    netns: lab.serverNs,
    interface: lab.links.get("prov")!.serverIf,
    subnetMask: "255.255.255.0",
    leaseTime: 300,
    reservations: [{ mac: M(9), ip: "10.78.0.101" }],
    dynamicRange: { start: "10.78.0.100", end: "10.78.0.103" },
    leaseFile: join(dir, "leases.json"),
  };
  server = new DhcpServer(opts);
  await server.start();
  client = await openPxeClient(lab.links.get("prov")!.clientNs);
});

afterAll(async () => {
  await client?.close();
  await server?.stop();
  lab?.destroy();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe("dynamic range", () => {
  it("leases unknown MACs from the pool, never a reserved address, until it is exhausted", async () => {
    const seen: string[] = [];
    server.on("seen", (e) => seen.push(e.mac));
    const got: string[] = [];
    for (const n of [1, 2, 3]) {
      const { ack } = await client.exchange("bios", M(n));
      expect(ack?.options.messageType).toBe(MessageType.ACK);
      got.push(ack!.yiaddr);
    }
    expect(got.sort()).toEqual(["10.78.0.100", "10.78.0.102", "10.78.0.103"]);
    // 10.78.0.101 is reserved: the pool is now full.
    expect((await client.exchange("bios", M(4))).offer).toBeUndefined();
    expect(server.leases().filter((l) => l.state === "bound")).toHaveLength(3);
    // Unknown MACs are reported for discovery even though they were leased.
    expect(new Set(seen)).toEqual(new Set([M(1), M(2), M(3), M(4)]));
  });

  it("NAKs a REQUEST for an address another client holds", async () => {
    const held = server.leases().find((l) => l.mac === M(1))!.ip;
    const req = client.request("plain", M(4), MessageType.REQUEST, { options: { requestedAddress: held, serverId: "10.78.0.1" } });
    expect((await client.send(req))?.options.messageType).toBe(MessageType.NAK);
  });

  it("keeps leases across a restart (lease file), then frees them on RELEASE and parks them on DECLINE", async () => {
    const before = new Map(server.leases().map((l) => [l.mac, l.ip]));
    await server.stop();
    const saved = readLeaseFile(opts.leaseFile!);
    expect(new Map([...saved].map(([mac, l]) => [mac, l.ip]))).toEqual(before);
    server = new DhcpServer(opts);
    await server.start();
    // INIT-REBOOT with the remembered address is ACKed by the new process.
    const reboot = client.request("plain", M(2), MessageType.REQUEST, { options: { requestedAddress: before.get(M(2))! } });
    const ack = await client.send(reboot);
    expect(ack?.options.messageType).toBe(MessageType.ACK);
    expect(ack?.yiaddr).toBe(before.get(M(2)));
    // DISCOVER from a known dynamic client: same address again.
    expect((await client.exchange("bios", M(1))).ack?.yiaddr).toBe(before.get(M(1)));

    const release = client.request("plain", M(1), MessageType.RELEASE, {
      ciaddr: before.get(M(1))!,
      flags: 0,
      options: { serverId: "10.78.0.1" },
    });
    await client.send(release, undefined, 300);
    expect(server.leases().some((l) => l.mac === M(1))).toBe(false);

    const decline = client.request("plain", M(3), MessageType.DECLINE, {
      options: { serverId: "10.78.0.1", requestedAddress: before.get(M(3))! },
    });
    await client.send(decline, undefined, 300);
    expect(server.leases().some((l) => l.mac === M(3))).toBe(false);
    // M(4) now gets the released address, not the declined one.
    const { ack: ack4 } = await client.exchange("bios", M(4));
    expect(ack4?.yiaddr).toBe(before.get(M(1)));
    expect((await client.exchange("bios", M(5))).offer).toBeUndefined();
  });
});
