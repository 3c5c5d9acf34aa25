// A host's hardware inventory as its installer reported it (issue 19): what the
// firmware says it is, its CPUs, memory, disks, NICs and its BMC's LAN settings read
// in-band. Kept in the state per MAC (the boot NIC's), for nodes of the configuration
// and for discovered hosts the configuration does not know yet. The facts are the
// node's own word: bounded and validated when received (services/installer-api),
// never trusted for anything but showing, adopting and the plan's fit warnings.

export interface InventoryDisk {
  /** Kernel name: sda, vda, nvme0n1. */
  name: string;
  bytes: number;
  model?: string;
  vendor?: string;
  serial?: string;
  wwn?: string;
  rotational?: boolean;
  /** /dev/disk/by-path name, when the installer could tell it. */
  byPath?: string;
}

export interface InventoryNic {
  name: string;
  mac: string;
  driver?: string;
  /** Mb/s; absent when unknown (no link, virtual NICs). */
  speedMbps?: number;
  link?: boolean;
}

/** The BMC's LAN settings as the host's own BMC says (ipmitool over KCS). */
export interface InventoryBmc {
  ip?: string;
  netmask?: string;
  gateway?: string;
  mac?: string;
  source?: string;
}

export interface HostInventory {
  dmi: { vendor?: string; product?: string; serial?: string; uuid?: string; biosVersion?: string };
  cpu: { model?: string; logical: number; sockets?: number };
  memoryBytes: number;
  disks: InventoryDisk[];
  nics: InventoryNic[];
  /** null: no BMC reachable in-band (no ipmitool, no KCS device). */
  bmc: InventoryBmc | null;
}

export interface InventoryRecord {
  /** The MAC the host booted from (lower-case, colon separated): the key. */
  mac: string;
  /** The configured node of that MAC when it reported; absent for a discovered host. */
  node?: string;
  /** The address it reported from. */
  address?: string;
  /** ISO 8601 time the head received the report. */
  time: string;
  facts: HostInventory;
}

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);

/** Whether a stored record has the fields readers rely on (the state codec refuses others). */
export function inventoryRecordWellFormed(r: unknown): r is InventoryRecord {
  if (!isObj(r) || typeof r.mac !== "string" || typeof r.time !== "string" || !isObj(r.facts)) return false;
  const f = r.facts;
  return Array.isArray(f.disks) && Array.isArray(f.nics) && typeof f.memoryBytes === "number" && isObj(f.cpu) && isObj(f.dmi);
}

/** The record of a node: by its name, else by its configured MAC. */
export function inventoryOf(records: Readonly<Record<string, InventoryRecord>> | undefined, node: { name: string; mac: string }): InventoryRecord | undefined {
  if (!records) return undefined;
  return records[node.mac] ?? Object.values(records).find((r) => r.node === node.name);
}

/**
 * The address a BMC reported in-band, if it has one: a BMC never configured reads back
 * 0.0.0.0 (IPMI's "unspecified"), which must not become a node's BMC address.
 */
export function configuredBmcAddress(bmc: InventoryBmc | null | undefined): string | undefined {
  const ip = bmc?.ip;
  return ip && ip !== "0.0.0.0" ? ip : undefined;
}
