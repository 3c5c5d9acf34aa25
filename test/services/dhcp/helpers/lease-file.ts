// Reads a lease journal the way a person would check it: header, then the latest line
// per MAC; ended leases (expires 0) left out.
import { readFileSync } from "node:fs";

export function readLeaseFile(file: string): Map<string, { ip: string; expires: number }> {
  const [header, ...lines] = readFileSync(file, "utf8").split("\n");
  if (header !== '{"metalform-dhcp-leases":1}') throw new Error(`${file}: unexpected header ${header}`);
  const out = new Map<string, { ip: string; expires: number }>();
  for (const line of lines) {
    if (!line) continue;
    const e = JSON.parse(line) as { mac: string; ip: string; expires: number };
    if (e.expires === 0) out.delete(e.mac);
    else out.set(e.mac, { ip: e.ip, expires: e.expires });
  }
  return out;
}
