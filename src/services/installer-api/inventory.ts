// Validation of the hardware inventory an installer posts (state/inventory.ts holds
// the shape): every field bounded and typed, unknown fields dropped, nothing of the
// body kept as-is. A discovered host is anyone on the provisioning network, so this
// is the whole of what an unknown MAC can put into the state.
import type { HostInventory, InventoryBmc, InventoryDisk, InventoryNic } from "../../state/inventory.js";
import type { Parsed } from "./reports.js";

/** Upper bound of an inventory body: a host with 256 disks and NICs fits well below it. */
export const MAX_INVENTORY_BYTES = 64 * 1024;
const MAX_ITEMS = 256;
const MAX_TEXT = 128;

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === "object" && v !== null && !Array.isArray(v);

class Bad extends Error {}

/** A short printable string, trimmed; undefined when absent or empty. */
function text(o: Obj, key: string, where: string): string | undefined {
  const v = o[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== "string") throw new Bad(`${where}.${key} must be a string`);
  const t = v.replace(/[^\x20-\x7e]/g, "").trim();
  if (t.length > MAX_TEXT) throw new Bad(`${where}.${key} is longer than ${MAX_TEXT} characters`);
  return t === "" ? undefined : t;
}

function count(o: Obj, key: string, where: string, opts: { required?: boolean } = {}): number | undefined {
  const v = o[key];
  if (v === undefined || v === null) {
    if (opts.required) throw new Bad(`${where}.${key} is required`);
    return undefined;
  }
  if (typeof v !== "number" || !Number.isSafeInteger(v) || v < 0) throw new Bad(`${where}.${key} must be a non-negative integer`);
  return v;
}

function flag(o: Obj, key: string, where: string): boolean | undefined {
  const v = o[key];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== "boolean") throw new Bad(`${where}.${key} must be true or false`);
  return v;
}

/** Copies the defined values only (the state holds no `undefined`). */
function defined<T extends object>(o: T): T {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as T;
}

const MAC_RE = /^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/;
const NAME_RE = /^[A-Za-z0-9][A-Za-z0-9._:@-]{0,31}$/;

function list(o: Obj, key: string): Obj[] {
  const v = o[key];
  if (!Array.isArray(v)) throw new Bad(`${key} must be a list`);
  if (v.length > MAX_ITEMS) throw new Bad(`${key} has more than ${MAX_ITEMS} entries`);
  return v.map((x, i) => {
    if (!isObj(x)) throw new Bad(`${key}[${i}] must be an object`);
    return x;
  });
}

function name(o: Obj, where: string): string {
  const n = o.name;
  if (typeof n !== "string" || !NAME_RE.test(n)) throw new Bad(`${where}.name must be a device name`);
  return n;
}

function disk(o: Obj, i: number): InventoryDisk {
  const w = `disks[${i}]`;
  return defined({
    name: name(o, w),
    bytes: count(o, "bytes", w, { required: true })!,
    model: text(o, "model", w),
    vendor: text(o, "vendor", w),
    serial: text(o, "serial", w),
    wwn: text(o, "wwn", w),
    rotational: flag(o, "rotational", w),
    byPath: text(o, "byPath", w),
  });
}

function nic(o: Obj, i: number): InventoryNic {
  const w = `nics[${i}]`;
  const mac = typeof o.mac === "string" ? o.mac.toLowerCase() : "";
  if (!MAC_RE.test(mac)) throw new Bad(`${w}.mac must be a MAC address`);
  return defined({ name: name(o, w), mac, driver: text(o, "driver", w), speedMbps: count(o, "speedMbps", w), link: flag(o, "link", w) });
}

const IP_RE = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/;

function bmc(v: unknown): InventoryBmc | null {
  if (v === undefined || v === null) return null;
  if (!isObj(v)) throw new Bad("bmc must be an object or null");
  const b = defined({
    ip: text(v, "ip", "bmc"),
    netmask: text(v, "netmask", "bmc"),
    gateway: text(v, "gateway", "bmc"),
    mac: text(v, "mac", "bmc"),
    source: text(v, "source", "bmc"),
  });
  for (const k of ["ip", "netmask", "gateway"] as const) {
    const a = b[k];
    if (a !== undefined && !(IP_RE.test(a) && a.split(".").every((p) => Number(p) <= 255))) throw new Bad(`bmc.${k} must be an IPv4 address`);
  }
  return b;
}

/** Parses an inventory body; the error names the first bad field. */
export function parseInventory(body: unknown): Parsed<HostInventory> {
  try {
    if (!isObj(body)) throw new Bad("inventory must be a JSON object");
    const dmi = isObj(body.dmi) ? body.dmi : {};
    const cpu = isObj(body.cpu) ? body.cpu : {};
    return {
      ok: true,
      value: {
        dmi: defined({
          vendor: text(dmi, "vendor", "dmi"),
          product: text(dmi, "product", "dmi"),
          serial: text(dmi, "serial", "dmi"),
          uuid: text(dmi, "uuid", "dmi"),
          biosVersion: text(dmi, "biosVersion", "dmi"),
        }),
        cpu: defined({ model: text(cpu, "model", "cpu"), logical: count(cpu, "logical", "cpu") ?? 0, sockets: count(cpu, "sockets", "cpu") }),
        memoryBytes: count(body, "memoryBytes", "inventory", { required: true })!,
        disks: list(body, "disks").map(disk),
        nics: list(body, "nics").map(nic),
        bmc: bmc(body.bmc),
      },
    };
  } catch (e) {
    if (e instanceof Bad) return { ok: false, error: e.message };
    throw e;
  }
}
