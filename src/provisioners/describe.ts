// `metalform provisioners list`, for people and machines (pure).
import type { Assignment, ProvisionerInfo } from "./db.js";

export interface ProvisionerRow {
  name: string;
  address: string;
  live: boolean;
  /** Seconds since its last heartbeat. */
  heartbeatAgeS: number;
  slots: number;
  /** Installs assigned to it now. */
  installing: number;
  /** The provisioning networks it answers DHCP on. */
  dhcpAuthority: string[];
  images: Record<string, string>;
  affinity: string[];
  host: string;
  pid: number;
}

export function provisionerRows(list: ProvisionerInfo[], assignments: Assignment[], authorities: ReadonlyMap<string, string>, failoverMs: number): ProvisionerRow[] {
  return list.map((p) => ({
    name: p.name,
    address: p.address,
    live: p.ageMs < failoverMs,
    heartbeatAgeS: Math.round(p.ageMs / 100) / 10,
    slots: p.slots,
    installing: assignments.filter((a) => a.provisioner === p.name && !a.rejected).length,
    dhcpAuthority: [...authorities]
      .filter(([, holder]) => holder === p.name)
      .map(([network]) => network)
      .sort(),
    images: p.images,
    affinity: [...p.categories.map((c) => `category ${c}`), ...p.nodePatterns],
    host: p.host,
    pid: p.pid,
  }));
}

export function renderProvisionerList(rows: ProvisionerRow[]): string {
  if (!rows.length) return "No provisioners registered (start `metalform serve --role provisioner` on the provisioning servers).";
  const table = [
    ["NAME", "ADDRESS", "STATE", "HEARTBEAT", "INSTALLING", "DHCP", "IMAGES", "AFFINITY"],
    ...rows.map((r) => [
      r.name,
      r.address,
      r.live ? "live" : "dead",
      `${r.heartbeatAgeS.toFixed(1)} s ago`,
      `${r.installing}/${r.slots}`,
      r.dhcpAuthority.join(" ") || "-",
      Object.entries(r.images)
        .map(([i, d]) => `${i}@${d.replace(/^sha256:/, "").slice(0, 12)}`)
        .join(" ") || "-",
      r.affinity.join(", ") || "-",
    ]),
  ];
  const widths = table[0]!.map((_, i) => Math.max(...table.map((row) => row[i]!.length)));
  return table.map((row) => row.map((c, i) => (i === row.length - 1 ? c : c.padEnd(widths[i]!))).join("  ")).join("\n");
}
