// Captured client packets (fixtures/README.md) as parsed DhcpPackets.
import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { parsePacket, type DhcpPacket } from "../../../../src/services/dhcp/codec/packet.js";

const DIR = join(dirname(fileURLToPath(import.meta.url)), "..", "fixtures");

export function capturedPacket(name: string): DhcpPacket {
  const hex = readFileSync(join(DIR, name), "utf8").replace(/\s+/g, "");
  const r = parsePacket(Buffer.from(hex, "hex"));
  if (!r.ok) throw new Error(`${name}: ${r.error}`);
  return r.packet;
}
