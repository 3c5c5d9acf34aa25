// A node's interfaces besides the provisioning NIC in the plan: one field per interface
// (`network.interfaces.NAME`), so a plan shows which interface was added, removed or
// changed, and a one-line text of each as an administrator reads it.
import type { NodeInterface } from "../config/types.js";
import type { FieldChange } from "./types.js";

export const isInterface = (v: unknown): v is NodeInterface =>
  typeof v === "object" && v !== null && typeof (v as { name?: unknown }).name === "string" && ["ethernet", "bond", "vlan", "bridge"].includes((v as { kind?: string }).kind ?? "");

/** `bond0: bond active-backup [bond0s0=52:54:00:12:35:02 ens6] 10.81.0.11/16 mtu 9000`. */
export function interfaceText(i: NodeInterface): string {
  const parts = [`${i.name}:`, i.kind];
  if (i.mac) parts.push(i.mac);
  if (i.bond) parts.push(i.bond.mode, `[${i.bond.members.map((m) => ("mac" in m ? m.mac : m.name)).join(" ")}]`);
  if (i.vlan) parts.push(`id ${i.vlan.id} on ${i.vlan.link}`);
  if (i.bridge) parts.push(`[${i.bridge.members.join(" ")}]${i.bridge.stp ? " stp" : ""}`);
  if (i.network) parts.push(`network ${i.network}`);
  if (i.ipv4) parts.push(`${i.ipv4.address}/${i.ipv4.prefix}`);
  if (i.ipv6) parts.push(`${i.ipv6.address}/${i.ipv6.prefix}`);
  if (i.dhcp4) parts.push("dhcp4");
  if (i.dhcp6) parts.push("dhcp6");
  if (i.mtu !== undefined) parts.push(`mtu ${i.mtu}`);
  for (const r of i.routes) parts.push(`route ${r.to} via ${r.via}${r.metric !== undefined ? ` metric ${r.metric}` : ""}`);
  return parts.join(" ");
}

const same = (a: NodeInterface | undefined, b: NodeInterface | undefined) => JSON.stringify(a) === JSON.stringify(b);

/** The interfaces that were added, removed or changed, by name, in the order they are written (removed ones last). */
export function interfaceChanges(before: readonly NodeInterface[], after: readonly NodeInterface[]): FieldChange[] {
  const old = new Map(before.map((i) => [i.name, i]));
  const now = new Map(after.map((i) => [i.name, i]));
  const names = [...now.keys(), ...[...old.keys()].filter((n) => !now.has(n))];
  return names
    .filter((n) => !same(old.get(n), now.get(n)))
    .map((n) => ({ field: `network.interfaces.${n}`, before: old.get(n) ?? null, after: now.get(n) ?? null, forcesReimage: false }));
}
