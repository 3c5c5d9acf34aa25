// The server in a namespace, bound to its provisioning interface, talked to by a
// scripted client that sends what BIOS, UEFI and iPXE firmware send.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ARCH, IPXE_NO_PXEDHCP, MessageType } from "../../../src/services/dhcp/codec/constants.js";
import { DhcpServer, type DhcpServerEvents } from "../../../src/services/dhcp/server.js";
import { ensureAddon } from "./helpers/addon.js";
import { createLab, inNs, removeStaleNamespaces, type Lab } from "./helpers/netns.js";
import { openPxeClient, type PxeClient } from "./helpers/pxe-client.js";

const NODE1 = "52:54:00:aa:00:01";
const NODE2 = "52:54:00:aa:00:02";
const UNKNOWN = "52:54:00:ff:ff:01";

let lab: Lab;
let server: DhcpServer;
let client: PxeClient;
const seen: DhcpServerEvents["seen"][0][] = [];

beforeAll(async () => {
  ensureAddon();
  removeStaleNamespaces();
  lab = createLab({ prov: "10.77.0.1/24" });
  server = new DhcpServer({
    serverAddress: "10.77.0.1",
    netns: lab.serverNs,
    interface: lab.links.get("prov")!.serverIf,
    subnetMask: "255.255.255.0",
    routers: ["10.77.0.254"],
    dnsServers: ["10.77.0.53"],
    domain: "cluster.test",
    broadcastAddress: "10.77.0.255",
    leaseTime: 600,
    reservations: [
      { mac: NODE1, ip: "10.77.0.11", hostname: "node001" },
      { mac: NODE2.toUpperCase(), ip: "10.77.0.12", hostname: "node002" },
    ],
    pxe: {
      loaders: { efiArm64: "snponly-arm64.efi" },
      scriptUrl: "http://10.77.0.1:8080/boot/${mac}.ipxe",
    },
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

describe("PXE firmware against the server", () => {
  it("BIOS PXE gets its reserved address, undionly.kpxe from next-server, and its option 60/97 echoed", async () => {
    const { offer, ack } = await client.exchange("bios", NODE1);
    expect(offer?.options.messageType).toBe(MessageType.OFFER);
    expect(offer?.yiaddr).toBe("10.77.0.11");
    expect(offer?.siaddr).toBe("10.77.0.1");
    expect(offer?.file).toBe("undionly.kpxe");
    expect(offer?.options.bootfileName).toBe("undionly.kpxe");
    expect(offer?.options.tftpServerName).toBe("10.77.0.1");
    expect(offer?.options.vendorClassId).toBe("PXEClient");
    expect(offer?.options.clientUuid?.guid.toString("hex")).toBe("00112233445566778899aabbccddeeff");
    expect(offer?.options.ipxe).toBeUndefined();
    expect(ack?.options.messageType).toBe(MessageType.ACK);
    expect(ack?.yiaddr).toBe("10.77.0.11");
    expect(ack?.options).toMatchObject({
      subnetMask: "255.255.255.0",
      routers: ["10.77.0.254"],
      dnsServers: ["10.77.0.53"],
      hostname: "node001",
      domainName: "cluster.test",
      broadcastAddress: "10.77.0.255",
      leaseTime: 600,
      serverId: "10.77.0.1",
    });
  });

  it("x86-64 UEFI gets snponly.efi; ARM64 UEFI its configured loader", async () => {
    const uefi = await client.exchange("uefi-x64", NODE2);
    expect(uefi.ack?.yiaddr).toBe("10.77.0.12");
    expect(uefi.ack?.file).toBe("snponly.efi");
    const arm = await client.exchange("uefi-arm64", NODE2);
    expect(arm.ack?.file).toBe("snponly-arm64.efi");
    const x64 = await client.exchange("bios", NODE2, { clientArch: [ARCH.EFI_X86_64] });
    expect(x64.ack?.file).toBe("snponly.efi");
  });

  it("iPXE (user class iPXE) gets the node's script URL and option 175/176 = 1", async () => {
    const { offer, ack } = await client.exchange("ipxe", NODE1);
    expect(offer?.file).toBe("http://10.77.0.1:8080/boot/52:54:00:aa:00:01.ipxe");
    expect(ack?.file).toBe("http://10.77.0.1:8080/boot/52:54:00:aa:00:01.ipxe");
    expect(ack?.options.bootfileName).toBe("http://10.77.0.1:8080/boot/52:54:00:aa:00:01.ipxe");
    expect(ack?.options.ipxe?.get(IPXE_NO_PXEDHCP)).toEqual(Buffer.from([1]));
  });

  it("an unknown MAC gets nothing and is reported as seen, with its architecture", async () => {
    const before = seen.length;
    const { offer } = await client.exchange("uefi-x64", UNKNOWN);
    expect(offer).toBeUndefined();
    const ev = seen.slice(before).find((s) => s.mac === UNKNOWN);
    expect(ev?.arch).toBe(7);
    expect(ev?.messageType).toBe(MessageType.DISCOVER);
    expect(ev?.vendorClass).toMatch(/^PXEClient/);
  });

  it("NAKs a known client asking for the wrong address (INIT-REBOOT) and ACKs the right one", async () => {
    const wrong = client.request("plain", NODE1, MessageType.REQUEST, { options: { requestedAddress: "10.77.0.99" } });
    const nak = await client.send(wrong);
    expect(nak?.options.messageType).toBe(MessageType.NAK);
    expect(nak?.yiaddr).toBe("0.0.0.0");
    const right = client.request("plain", NODE1, MessageType.REQUEST, { options: { requestedAddress: "10.77.0.11" } });
    expect((await client.send(right))?.options.messageType).toBe(MessageType.ACK);
  });

  it("leaves alone a REQUEST naming another server", async () => {
    const req = client.request("plain", NODE1, MessageType.REQUEST, {
      options: { requestedAddress: "10.77.0.11", serverId: "10.77.0.250" },
    });
    expect(await client.send(req, undefined, 800)).toBeUndefined();
  });

  it("ignores an INFORM without ciaddr", async () => {
    const before = server.stats.ignored;
    const inform = client.request("plain", NODE1, MessageType.INFORM);
    expect(await client.send(inform, undefined, 800)).toBeUndefined();
    expect(server.stats.ignored).toBe(before + 1);
  });

  it("with an address: RENEWING is unicast and ACKed, INFORM gets configuration without address or lease", async () => {
    const ns = lab.links.get("prov")!.clientNs;
    inNs(ns, "ip", ["addr", "add", "10.77.0.11/24", "dev", "eth0"]);
    try {
      const renew = client.request("plain", NODE1, MessageType.REQUEST, { ciaddr: "10.77.0.11", flags: 0 });
      const ack = await client.send(renew, { address: "10.77.0.1", port: 67 });
      expect(ack?.options.messageType).toBe(MessageType.ACK);
      expect(ack?.yiaddr).toBe("10.77.0.11");
      expect(ack?.ciaddr).toBe("10.77.0.11");
      const wrong = client.request("plain", NODE1, MessageType.REQUEST, { ciaddr: "10.77.0.12", flags: 0 });
      expect((await client.send(wrong, { address: "10.77.0.1", port: 67 }))?.options.messageType).toBe(MessageType.NAK);
      const inform = client.request("plain", NODE1, MessageType.INFORM, { ciaddr: "10.77.0.11", flags: 0 });
      const reply = await client.send(inform, { address: "10.77.0.1", port: 67 });
      expect(reply?.options.messageType).toBe(MessageType.ACK);
      expect(reply?.yiaddr).toBe("0.0.0.0");
      expect(reply?.options.leaseTime).toBeUndefined();
      expect(reply?.options.subnetMask).toBe("255.255.255.0");
      expect(reply?.options.routers).toEqual(["10.77.0.254"]);
    } finally {
      inNs(ns, "ip", ["addr", "flush", "dev", "eth0"]);
    }
  });

  it("setReservations replaces the table at runtime", async () => {
    server.setReservations([{ mac: UNKNOWN, ip: "10.77.0.13", hostname: "node003" }]);
    try {
      const now = await client.exchange("bios", UNKNOWN);
      expect(now.ack?.yiaddr).toBe("10.77.0.13");
      expect(now.ack?.options.hostname).toBe("node003");
      const gone = await client.exchange("bios", NODE1);
      expect(gone.offer).toBeUndefined();
    } finally {
      server.setReservations([
        { mac: NODE1, ip: "10.77.0.11", hostname: "node001" },
        { mac: NODE2, ip: "10.77.0.12", hostname: "node002" },
      ]);
    }
  });
});
