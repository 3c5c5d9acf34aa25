// A corpus of malformed and hostile datagrams sent at the live server changes
// nothing (no lease, no reply, no error) and crashes nothing.
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { MAGIC_COOKIE, MessageType } from "../../../src/services/dhcp/codec/constants.js";
import { serializePacket } from "../../../src/services/dhcp/codec/packet.js";
import { DhcpServer } from "../../../src/services/dhcp/server.js";
import { memorySink, createLogger, type LogRecord } from "../../../src/util/log.js";
import { ensureAddon } from "./helpers/addon.js";
import { createLab, removeStaleNamespaces, type Lab } from "./helpers/netns.js";
import { openPxeClient, type PxeClient } from "./helpers/pxe-client.js";

const NODE = "52:54:00:dd:00:01";
let lab: Lab;
let server: DhcpServer;
let client: PxeClient;
const logs: LogRecord[] = [];

beforeAll(async () => {
  ensureAddon();
  removeStaleNamespaces();
  lab = createLab({ prov: "10.81.0.1/24" });
  server = new DhcpServer({
    serverAddress: "10.81.0.1",
    netns: lab.serverNs,
    interface: lab.links.get("prov")!.serverIf,
    subnetMask: "255.255.255.0",
    reservations: [{ mac: NODE, ip: "10.81.0.10" }],
    dynamicRange: { start: "10.81.0.100", end: "10.81.0.200" },
    pxe: { scriptUrl: "http://10.81.0.1/${mac}" },
    logger: createLogger({ component: "test", level: "debug", sink: memorySink(logs) }),
  });
  await server.start();
  client = await openPxeClient(lab.links.get("prov")!.clientNs);
});

afterAll(async () => {
  await client?.close();
  await server?.stop();
  lab?.destroy();
});

/** A DHCP header with the cookie, followed by `opts`. */
function withOptions(opts: number[], patch?: (b: Buffer) => void): Buffer {
  const b = Buffer.alloc(240);
  b[0] = 1;
  b[1] = 1;
  b[2] = 6;
  Buffer.from([0x52, 0x54, 0, 0xdd, 0, 2]).copy(b, 28);
  b.writeUInt32BE(MAGIC_COOKIE, 236);
  patch?.(b);
  return Buffer.concat([b, Buffer.from(opts)]);
}

function corpus(): { name: string; buf: Buffer; malformed: boolean }[] {
  const valid = serializePacket(client.request("bios", NODE, MessageType.DISCOVER));
  const list: { name: string; buf: Buffer; malformed: boolean }[] = [
    { name: "one byte", buf: Buffer.from([1]), malformed: true },
    { name: "header without cookie", buf: valid.subarray(0, 236), malformed: true },
    // Cut right after the next option's code byte: that option has no length.
    { name: "truncated valid packet", buf: valid.subarray(0, 244), malformed: true },
    { name: "bad cookie", buf: withOptions([53, 1, 1, 255], (b) => b.writeUInt32BE(0xdeadbeef, 236)), malformed: true },
    { name: "option length past the end", buf: withOptions([53, 1, 1, 55, 250, 1, 2, 3]), malformed: true },
    { name: "length byte missing", buf: withOptions([53, 1, 1, 61]), malformed: true },
    { name: "overload value 9", buf: withOptions([53, 1, 1, 52, 1, 9, 255]), malformed: true },
    { name: "overload into a broken file field", buf: withOptions([53, 1, 1, 52, 1, 3, 255], (b) => b.fill(0x41, 108, 236)), malformed: true },
    { name: "hlen 255", buf: withOptions([53, 1, 1, 255], (b) => (b[2] = 255)), malformed: true },
    // Well-formed but not for a server to act on:
    { name: "BOOTREPLY", buf: withOptions([53, 1, 2, 255], (b) => (b[0] = 2)), malformed: false },
    { name: "no message type (plain BOOTP)", buf: withOptions([255]), malformed: false },
    { name: "message type 0", buf: withOptions([53, 1, 0, 255]), malformed: false },
    { name: "message type 200", buf: withOptions([53, 1, 200, 255]), malformed: false },
    { name: "a server's OFFER sent to the server", buf: withOptions([53, 1, 2, 54, 4, 10, 81, 0, 1, 255]), malformed: false },
    { name: "token ring hardware", buf: withOptions([53, 1, 1, 255], (b) => (b[1] = 6)), malformed: false },
    { name: "option 93 of odd length", buf: withOptions([53, 1, 5, 93, 3, 0, 0, 7, 255]), malformed: false },
    { name: "64 KiB of 0xff", buf: Buffer.alloc(65000, 0xff), malformed: true },
    { name: "all PAD", buf: withOptions(Array(1000).fill(0)), malformed: false },
    { name: "parameter list of 255 options", buf: withOptions([53, 1, 8, 55, 255, ...Array.from({ length: 255 }, (_, i) => i), 255]), malformed: false },
  ];
  // Random tails after a valid header (fixed seed: reproducible).
  const tails = fc.sample(fc.uint8Array({ maxLength: 300 }), { numRuns: 150, seed: 4242 });
  tails.forEach((t, i) => list.push({ name: `fuzz ${i}`, buf: withOptions([...t]), malformed: false }));
  return list;
}

describe("malformed datagrams at a live server", () => {
  it("change nothing, crash nothing, and the server still answers correctly afterwards", async () => {
    const before = { ...server.stats };
    const leasesBefore = server.leases();
    const replies: unknown[] = [];
    server.on("offer", (e) => replies.push(e));
    server.on("ack", (e) => replies.push(e));
    const items = corpus();
    const send = async (list: typeof items) => {
      for (const [i, item] of list.entries()) {
        await client.sendRaw(item.buf, { address: "255.255.255.255", port: 67 });
        if (i % 10 === 9) await new Promise((r) => setTimeout(r, 5));
      }
      // Let the server drain its socket.
      await new Promise((r) => setTimeout(r, 300));
    };
    // The hand-written corpus first: none of it may get a reply.
    await send(items.filter((i) => !i.name.startsWith("fuzz")));
    expect(replies).toEqual([]);
    await send(items.filter((i) => i.name.startsWith("fuzz")));
    expect(server.stats.received - before.received).toBe(items.length);
    const mustBeMalformed = items.filter((i) => i.malformed).length;
    expect(server.stats.malformed - before.malformed).toBeGreaterThanOrEqual(mustBeMalformed);
    // The fuzz tails all carry hardware address 52:54:00:dd:00:02 (unknown) with random options;
    // any that happen to form a DISCOVER could get a pool offer, which is correct behaviour, but
    // no malformed item may produce a reply or a lease.
    expect(server.leases().filter((l) => l.state === "bound")).toEqual(leasesBefore.filter((l) => l.state === "bound"));
    expect(logs.filter((l) => l.level === "error")).toEqual([]);
    const { ack } = await client.exchange("bios", NODE);
    expect(ack?.yiaddr).toBe("10.81.0.10");
    expect(ack?.file).toBe("undionly.kpxe");
    expect(replies.length).toBeGreaterThanOrEqual(2);
  });
});
