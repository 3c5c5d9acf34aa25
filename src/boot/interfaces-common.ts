// What every stack's rendering of a node's extra interfaces (`interfaces:`) shares:
// the NICs named by MAC (an Ethernet interface, or a bond member given by MAC, which
// becomes `<bond>s<j>`) get stable names through systemd .link files, so all stacks
// can refer to names; who is whose bond or bridge member; the VLANs on a link; the
// order devices come up in (NICs, bonds, VLANs, bridges).
import type { NodeInterface } from "../config/types.js";

export const HEADER = "# Written by metalform's installer; rewritten on every install and sync.";

/** A physical NIC the installed system renames: matched by its permanent MAC. */
export interface NamedNic {
  name: string;
  mac: string;
}

/** The name a bond member given by MAC gets: `<bond>s<index>`. */
export function memberName(bond: string, index: number): string {
  return `${bond}s${index}`;
}

/** The bond's members by name (the kernel's, or the one a MAC-given member is renamed to). */
export function bondMembers(i: NodeInterface): string[] {
  return (i.bond?.members ?? []).map((m, j) => ("mac" in m ? memberName(i.name, j) : m.name));
}

/** Every NIC given by MAC, with the name it gets. */
export function namedNics(ifaces: readonly NodeInterface[]): NamedNic[] {
  const out: NamedNic[] = [];
  for (const i of ifaces) {
    if (i.kind === "ethernet" && i.mac) out.push({ name: i.name, mac: i.mac });
    (i.bond?.members ?? []).forEach((m, j) => {
      if ("mac" in m) out.push({ name: memberName(i.name, j), mac: m.mac });
    });
  }
  return out;
}

/** The bridge or bond an interface is a port of, when it is one. */
export function masterOf(ifaces: readonly NodeInterface[], name: string): { name: string; kind: "bond" | "bridge" } | undefined {
  for (const i of ifaces) {
    if (i.kind === "bridge" && i.bridge!.members.includes(name)) return { name: i.name, kind: "bridge" };
    if (i.kind === "bond" && bondMembers(i).includes(name)) return { name: i.name, kind: "bond" };
  }
  return undefined;
}

/** The VLANs tagged on `name`. */
export function vlansOn(ifaces: readonly NodeInterface[], name: string): string[] {
  return ifaces.filter((i) => i.vlan?.link === name).map((i) => i.name);
}

const KIND_ORDER = { ethernet: 0, bond: 1, vlan: 2, bridge: 3 } as const;

/** Lower devices first: NICs, then bonds over them, VLANs over those, bridges last (ifupdown brings `auto` stanzas up in file order). */
export function upOrder(ifaces: readonly NodeInterface[]): NodeInterface[] {
  return ifaces
    .map((i, n) => ({ i, n }))
    .sort((a, b) => KIND_ORDER[a.i.kind] - KIND_ORDER[b.i.kind] || a.n - b.n)
    .map(({ i }) => i);
}

/** A bond member by kernel name that is not an interface of its own: ifupdown and netplan need it mentioned. */
export function bareMembers(ifaces: readonly NodeInterface[]): string[] {
  return ifaces.flatMap((i) => (i.bond?.members ?? []).flatMap((m) => ("name" in m ? [m.name] : [])));
}

/** systemd.link(5): the NIC with this permanent MAC gets `name` (virtual devices that copy the MAC have no permanent one). */
export function renderNicLink(nic: NamedNic): string {
  return [HEADER, "[Match]", `PermanentMACAddress=${nic.mac}`, "", "[Link]", `Name=${nic.name}`].join("\n") + "\n";
}
