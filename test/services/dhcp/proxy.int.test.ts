// proxyDHCP mode: next to another DHCP server, answer PXE clients with boot
// information only (no address) on port 67 and on the PXE port 4011.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { MessageType, PXE_DISCOVERY_CONTROL } from "../../../src/services/dhcp/codec/constants.js";
import { DhcpServer, type DhcpServerEvents } from "../../../src/services/dhcp/server.js";
import { ensureAddon } from "./helpers/addon.js";
import { createLab, inNs, removeStaleNamespaces, type Lab } from "./helpers/netns.js";
import { openPxeClient, type PxeClient } from "./helpers/pxe-client.js";

const NODE = "52:54:00:bb:00:01";
const UNKNOWN = "52:54:00:bb:ff:ff";
const PROXY_PORT = 4011;

let lab: Lab;
let server: DhcpServer;
let client: PxeClient;
const seen: DhcpServerEvents["seen"][0][] = [];

beforeAll(async () => {
  ensureAddon();
  removeStaleNamespaces();
  lab = createLab({ prov: "10.79.0.1/24" });
  server = new DhcpServer({
    mode: "proxy",
    serverAddress: "10.79.0.1",
    netns: lab.serverNs,
    interface: lab.links.get("prov")!.serverIf,
    ports: { proxy: PROXY_PORT },
    subnetMask: "255.255.255.0",
    reservations: [{ mac: NODE, ip: "10.79.0.50", hostname: "node050" }],
    pxe: { loaders: { efiX64: "ipxe.efi" }, scriptUrl: (mac) => `http://10.79.0.1/s/${mac.replaceAll(":", "-")}` },
  });
  server.on("seen", (e) => seen.push(e));
  await server.start();
  client = await openPxeClient(lab.links.get("prov")!.clientNs);
});

afterAll(async () => {
  await client?.close();
  await server?.stop();
  lab?.destroy();
});

describe("proxyDHCP", () => {
  it("offers boot information without an address to a PXE DISCOVER on port 67", async () => {
    const offer = await client.send(client.request("uefi-x64", NODE, MessageType.DISCOVER));
    expect(offer?.options.messageType).toBe(MessageType.OFFER);
    expect(offer?.yiaddr).toBe("0.0.0.0");
    expect(offer?.siaddr).toBe("10.79.0.1");
    expect(offer?.file).toBe("ipxe.efi");
    expect(offer?.options.vendorClassId).toBe("PXEClient");
    expect(offer?.options.serverId).toBe("10.79.0.1");
    expect(offer?.options.vendorSpecific?.get(PXE_DISCOVERY_CONTROL)).toEqual(Buffer.from([8]));
    expect(offer?.options.leaseTime).toBeUndefined();
    expect(offer?.options.subnetMask).toBeUndefined();
    expect(offer?.options.clientUuid?.type).toBe(0);
  });

  it("ACKs a REQUEST on port 4011 from a client that has its address, unicast, with boot information only", async () => {
    const ns = lab.links.get("prov")!.clientNs;
    inNs(ns, "ip", ["addr", "add", "10.79.0.50/24", "dev", "eth0"]);
    try {
      const req = client.request("bios", NODE, MessageType.REQUEST, { ciaddr: "10.79.0.50", flags: 0 });
      const ack = await client.send(req, { address: "10.79.0.1", port: PROXY_PORT });
      expect(ack?.options.messageType).toBe(MessageType.ACK);
      expect(ack?.yiaddr).toBe("0.0.0.0");
      expect(ack?.file).toBe("undionly.kpxe");
      expect(ack?.options.vendorClassId).toBe("PXEClient");
      expect(ack?.ciaddr).toBe("10.79.0.50");
      const ipxe = client.request("ipxe", NODE, MessageType.REQUEST, { ciaddr: "10.79.0.50", flags: 0 });
      const ipxeAck = await client.send(ipxe, { address: "10.79.0.1", port: PROXY_PORT });
      expect(ipxeAck?.file).toBe("http://10.79.0.1/s/52-54-00-bb-00-01");
      // A proxy must not tell iPXE "no-pxedhcp" (176): that would skip the proxy itself.
      expect(ipxeAck?.options.ipxe).toBeUndefined();
    } finally {
      inNs(ns, "ip", ["addr", "flush", "dev", "eth0"]);
    }
  });

  it("ignores clients that are not PXE firmware, and reports unknown PXE clients as seen", async () => {
    expect(await client.send(client.request("plain", NODE, MessageType.DISCOVER), undefined, 700)).toBeUndefined();
    expect(await client.send(client.request("bios", UNKNOWN, MessageType.DISCOVER), undefined, 700)).toBeUndefined();
    expect(seen.some((s) => s.mac === UNKNOWN && s.arch === 0)).toBe(true);
  });

  it("leaves alone REQUESTs on port 67: they are lease requests for the DHCP server", async () => {
    const other = client.request("bios", NODE, MessageType.REQUEST, {
      options: { serverId: "10.79.0.254", requestedAddress: "10.79.0.50" },
    });
    expect(await client.send(other, undefined, 700)).toBeUndefined();
    // Even naming our address (a DHCP server sharing the proxy's host).
    const same = client.request("bios", NODE, MessageType.REQUEST, {
      options: { serverId: "10.79.0.1", requestedAddress: "10.79.0.50" },
    });
    expect(await client.send(same, undefined, 700)).toBeUndefined();
  });
});
