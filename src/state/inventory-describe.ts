// Text views of the inventories in the state, for `metalform discover list | show`.
import type { InventoryRecord } from "./inventory.js";

export function humanBytes(n: number): string {
  const units = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];
  let v = n;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${i === 0 ? v : v.toFixed(v >= 100 ? 0 : 1)} ${units[i]}`;
}

function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  return rows.map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]!))).join("  ")).join("\n");
}

/** One line per host: MAC, node (or "-"), hardware summary, when it reported. */
export function renderInventoryList(records: readonly InventoryRecord[], configured: (mac: string) => string | undefined): string {
  if (!records.length) return "No inventories yet: hosts report theirs when they boot with network.discovery enabled (or install).\n";
  const rows = [["MAC", "NODE", "PRODUCT", "CPUS", "MEMORY", "DISKS", "REPORTED"]];
  for (const r of [...records].sort((a, b) => a.time.localeCompare(b.time))) {
    const f = r.facts;
    const product = [f.dmi.vendor, f.dmi.product].filter(Boolean).join(" ") || "-";
    const disks = f.disks.map((d) => `${d.name} ${humanBytes(d.bytes)}`).join(", ") || "-";
    rows.push([r.mac, configured(r.mac) ?? "(not configured)", product, String(f.cpu.logical), humanBytes(f.memoryBytes), disks, r.time]);
  }
  return table(rows) + "\n";
}

const opt = (v: string | number | boolean | undefined, suffix = "") => (v === undefined ? "-" : `${String(v)}${suffix}`);

/** Everything one host reported. */
export function renderInventoryShow(r: InventoryRecord, configured: string | undefined): string {
  const f = r.facts;
  const out = [
    `Host ${r.mac}: ${configured ? `node ${configured}` : "not in the configuration (adopt it with `metalform discover adopt " + r.mac + " --name NAME`)"}`,
    `  reported      ${r.time} from ${r.address ?? "-"}`,
    `  system        ${opt(f.dmi.vendor)} ${opt(f.dmi.product)}, serial ${opt(f.dmi.serial)}, uuid ${opt(f.dmi.uuid)}, BIOS ${opt(f.dmi.biosVersion)}`,
    `  cpu           ${f.cpu.logical} logical${f.cpu.sockets ? ` in ${f.cpu.sockets} socket${f.cpu.sockets === 1 ? "" : "s"}` : ""}: ${opt(f.cpu.model)}`,
    `  memory        ${humanBytes(f.memoryBytes)}`,
    `  disks         ${f.disks.length}`,
  ];
  const disks = f.disks.map((d) => [
    `    ${d.name}`,
    humanBytes(d.bytes),
    d.rotational === undefined ? "-" : d.rotational ? "rotational" : "solid-state",
    `model ${opt(d.model)}`,
    `serial ${opt(d.serial)}`,
    `wwn ${opt(d.wwn)}`,
    `by-path ${opt(d.byPath)}`,
  ]);
  if (disks.length) out.push(table(disks));
  out.push(`  nics          ${f.nics.length}`);
  const nics = f.nics.map((n) => [
    `    ${n.name}`,
    n.mac,
    `driver ${opt(n.driver)}`,
    `speed ${opt(n.speedMbps, " Mb/s")}`,
    n.link === undefined ? "link -" : n.link ? "link up" : "link down",
  ]);
  if (nics.length) out.push(table(nics));
  const b = f.bmc;
  out.push(`  bmc           ${b ? `${opt(b.ip)} netmask ${opt(b.netmask)} gateway ${opt(b.gateway)} mac ${opt(b.mac)} (${opt(b.source)})` : "none found in-band"}`);
  return out.join("\n") + "\n";
}
