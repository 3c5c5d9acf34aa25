// Static reservations: MAC → address and host name, from the cluster configuration.
import { isIPv4, normalizeMac } from "./codec/ip4.js";

export interface Reservation {
  /** Any case, colon or dash separated. */
  mac: string;
  ip: string;
  hostname?: string;
}

export interface ReservationTable {
  byMac: Map<string, Reservation>;
  ips: Set<string>;
}

/** Validates and indexes reservations; throws RangeError naming the bad entry. */
export function indexReservations(list: readonly Reservation[]): ReservationTable {
  const byMac = new Map<string, Reservation>();
  const ips = new Set<string>();
  const ipOwner = new Map<string, string>();
  for (const r of list) {
    const mac = normalizeMac(r.mac);
    if (!mac) throw new RangeError(`reservation has a malformed MAC address: ${r.mac}`);
    if (!isIPv4(r.ip)) throw new RangeError(`reservation for ${mac} has a malformed address: ${r.ip}`);
    if (byMac.has(mac)) throw new RangeError(`MAC ${mac} is reserved twice`);
    const other = ipOwner.get(r.ip);
    if (other) throw new RangeError(`address ${r.ip} is reserved for both ${other} and ${mac}`);
    ipOwner.set(r.ip, mac);
    byMac.set(mac, { ...r, mac });
    ips.add(r.ip);
  }
  return { byMac, ips };
}
