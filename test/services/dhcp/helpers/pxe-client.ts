// A scripted DHCP/PXE client for tests: sends what BIOS PXE ROMs, UEFI firmware and
// iPXE send (options 60/93/94/97/77/175) from a socket inside a client namespace and
// collects the replies.
import type dgram from "node:dgram";
import { randomBytes } from "node:crypto";
import { MessageType } from "../../../../src/services/dhcp/codec/constants.js";
import { parseMac } from "../../../../src/services/dhcp/codec/ip4.js";
import type { DhcpOptions } from "../../../../src/services/dhcp/codec/options.js";
import { parsePacket, serializePacket, type DhcpPacket } from "../../../../src/services/dhcp/codec/packet.js";
import { openUdpSocket } from "../../../../src/services/dhcp/socket.js";

export type Firmware = "bios" | "uefi-x64" | "uefi-arm64" | "ipxe" | "plain";

const uuid = Buffer.from("00112233445566778899aabbccddeeff", "hex");

export function firmwareOptions(fw: Firmware): DhcpOptions {
  switch (fw) {
    case "bios":
      return {
        vendorClassId: "PXEClient:Arch:00000:UNDI:002001",
        clientArch: [0],
        clientNdi: { type: 1, major: 2, minor: 1 },
        clientUuid: { type: 0, guid: uuid },
        parameterRequestList: [1, 2, 3, 5, 6, 11, 12, 13, 15, 16, 17, 18, 43, 54, 60, 66, 67, 128, 129, 130, 131, 132, 133, 134, 135],
        maxMessageSize: 1260,
      };
    case "uefi-x64":
      return {
        vendorClassId: "PXEClient:Arch:00007:UNDI:003016",
        clientArch: [7],
        clientNdi: { type: 1, major: 3, minor: 16 },
        clientUuid: { type: 0, guid: uuid },
        parameterRequestList: [1, 2, 3, 4, 5, 6, 12, 13, 15, 17, 18, 22, 23, 28, 40, 41, 42, 43, 50, 51, 54, 58, 59, 60, 66, 67, 97, 128, 129, 130, 131, 132, 133, 134, 135],
        maxMessageSize: 1472,
      };
    case "uefi-arm64":
      return { vendorClassId: "PXEClient:Arch:00011:UNDI:003000", clientArch: [11], clientUuid: { type: 0, guid: uuid } };
    case "ipxe":
      return {
        vendorClassId: "PXEClient:Arch:00000:UNDI:002001",
        userClass: Buffer.from("iPXE"),
        clientArch: [0],
        clientNdi: { type: 1, major: 2, minor: 1 },
        parameterRequestList: [1, 3, 6, 7, 12, 15, 17, 26, 43, 60, 66, 67, 119, 128, 129, 130, 131, 132, 133, 134, 135, 175, 203],
        ipxe: new Map([
          [16, Buffer.from([1])],
          [19, Buffer.from([1])],
          [23, Buffer.from([1])],
        ]),
        maxMessageSize: 1472,
      };
    case "plain":
      return { parameterRequestList: [1, 3, 6, 12, 15, 28, 51] };
  }
}

export interface PxeClient {
  /** DISCOVER → OFFER → REQUEST → ACK. Offer/ack undefined when no answer came. */
  exchange(fw: Firmware, mac: string, extra?: DhcpOptions): Promise<{ offer?: DhcpPacket; ack?: DhcpPacket }>;
  /** Sends one request and waits for the reply with its xid. */
  send(p: DhcpPacket, to?: { address: string; port: number }, waitMs?: number): Promise<DhcpPacket | undefined>;
  sendRaw(buf: Buffer, to: { address: string; port: number }): Promise<void>;
  request(fw: Firmware, mac: string, type: MessageType, opts?: Partial<DhcpPacket> & { options?: DhcpOptions }): DhcpPacket;
  close(): Promise<void>;
}

export async function openPxeClient(netns: string, device = "eth0", ports = { client: 68, server: 67 }): Promise<PxeClient> {
  const sock: dgram.Socket = await openUdpSocket({ address: "0.0.0.0", port: ports.client, device, netns });
  const waiting = new Map<number, (p: DhcpPacket) => void>();
  sock.on("message", (msg) => {
    const r = parsePacket(msg);
    if (!r.ok || r.packet.op !== 2) return;
    const w = waiting.get(r.packet.xid);
    if (w) {
      waiting.delete(r.packet.xid);
      w(r.packet);
    }
  });

  const request: PxeClient["request"] = (fw, mac, type, opts = {}) => {
    const hw = parseMac(mac);
    if (!hw) throw new Error(`bad MAC ${mac}`);
    const { options, ...fields } = opts;
    return {
      op: 1,
      htype: 1,
      hlen: 6,
      hops: 0,
      xid: randomBytes(4).readUInt32BE(0),
      secs: 4,
      flags: 0x8000,
      ciaddr: "0.0.0.0",
      yiaddr: "0.0.0.0",
      siaddr: "0.0.0.0",
      giaddr: "0.0.0.0",
      chaddr: Buffer.concat([hw, Buffer.alloc(10)]),
      sname: "",
      file: "",
      ...fields,
      options: { ...firmwareOptions(fw), ...options, messageType: type },
    };
  };

  const send: PxeClient["send"] = (p, to = { address: "255.255.255.255", port: ports.server }, waitMs = 1500) =>
    new Promise((resolve) => {
      const timer = setTimeout(() => {
        waiting.delete(p.xid);
        resolve(undefined);
      }, waitMs);
      waiting.set(p.xid, (reply) => {
        clearTimeout(timer);
        resolve(reply);
      });
      sock.send(serializePacket(p), to.port, to.address);
    });

  return {
    request,
    send,
    sendRaw: (buf, to) => new Promise((res, rej) => sock.send(buf, to.port, to.address, (e) => (e ? rej(e) : res()))),
    async exchange(fw, mac, extra = {}) {
      const discover = request(fw, mac, MessageType.DISCOVER, { options: extra });
      const offer = await send(discover);
      if (!offer) return {};
      const req = request(fw, mac, MessageType.REQUEST, {
        xid: discover.xid,
        options: { ...extra, requestedAddress: offer.yiaddr, ...(offer.options.serverId ? { serverId: offer.options.serverId } : {}) },
      });
      const ack = await send(req);
      return ack ? { offer, ack } : { offer };
    },
    close: () => new Promise((res) => sock.close(() => res())),
  };
}
