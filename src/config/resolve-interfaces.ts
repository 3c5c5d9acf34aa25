// A node's interfaces besides the provisioning NIC (`interfaces:` at node, category or
// defaults; the nearest list wins whole): checked once where they are written (names,
// kinds, networks, bond members, VLAN links, bridge ports), then numbered per node of
// a host range — MACs from `macs`, `ip` and `ip6` counting up like the node's own
// address — with their network's settings folded in, so boot rendering needs nothing else.
import { errorAt, type Diagnostic } from "./diagnostics.js";
import { pick, type Level } from "./inherit.js";
import { addIp6, bigIntToIp6, inPrefix6, ip6ToBigInt } from "./ip6.js";
import { inSubnet, intToIp, ipToInt, subnetOf } from "./ip.js";
import { posOf, type RawInterface } from "./merge.js";
import { resolveRoutes } from "./resolve-networks.js";
import { suggest } from "./schema.js";
import type { NicRef, NodeInterface, NodeNetwork, Route, SourcePos } from "./types.js";

/** The name the provisioning NIC gets in the installed system (src/boot/network-stacks.ts STABLE_IFNAME). */
const PROVISIONING_IFNAME = "prov0";
const MAC = /^[0-9A-Fa-f]{2}([:-][0-9A-Fa-f]{2}){5}$/;

/** What checking and numbering interfaces shares across all node entries. */
export interface InterfaceScope {
  networks: ReadonlyMap<string, NodeNetwork>;
  /** Networks set aside after schema errors: references to them are not reported again. */
  brokenNetworks: ReadonlySet<string>;
  diags: Diagnostic[];
  /** Lists already checked (and reported) where they are written, by place: true when usable. */
  checked: Map<string, boolean>;
  /** Static addresses taken so far (canonical text), for duplicates across nodes. */
  addresses: Map<string, { node: string; pos: () => SourcePos }>;
}

export function interfaceScope(networks: ReadonlyMap<string, NodeNetwork>, brokenNetworks: ReadonlySet<string>, diags: Diagnostic[]): InterfaceScope {
  return { networks, brokenNetworks, diags, checked: new Map(), addresses: new Map() };
}

/** An entry's interface list and where it is written. */
export interface InterfaceTemplate {
  list: RawInterface[];
  level: Level;
}

/**
 * The entry's inherited interface list once checked; null when it has errors (reported
 * once per place written), undefined when there is none.
 */
export function interfaceTemplate(levels: Level[], entry: { name: string; count: number; isRange: boolean }, scope: InterfaceScope): InterfaceTemplate | null | undefined {
  const got = pick(levels, "interfaces");
  if (!got || got.value === undefined || got.value.length === 0) return undefined;
  const t = { list: got.value, level: got.level };
  const key = `${got.level.where.src.path}\u0000${got.level.where.path.join("\u0000")}\u0000${entry.isRange ? entry.count : 1}`;
  let ok = scope.checked.get(key);
  if (ok === undefined) {
    const before = scope.diags.length;
    new ListCheck(t, entry, scope).run();
    ok = scope.diags.length === before;
    scope.checked.set(key, ok);
  }
  return ok ? t : null;
}

/** Checks of one written list that do not depend on which node of a range it is. */
class ListCheck {
  private readonly names: Set<string>;

  constructor(
    private readonly t: InterfaceTemplate,
    private readonly entry: { name: string; count: number; isRange: boolean },
    private readonly scope: InterfaceScope,
  ) {
    this.names = new Set(t.list.map((i) => i.name));
  }

  private fail(code: string, message: string, i: number, ...field: Array<string | number>): void {
    this.scope.diags.push(errorAt(code, `interface "${this.t.list[i]!.name}": ${message}`, posOf(this.t.level.where, "interfaces", i, ...field)));
  }

  run(): void {
    const seen = new Set<string>();
    this.t.list.forEach((raw, i) => {
      if (seen.has(raw.name)) this.fail("duplicate-interface", `is named twice in this list`, i, "name");
      seen.add(raw.name);
      if (raw.name === PROVISIONING_IFNAME) this.fail("reserved-interface", `"${PROVISIONING_IFNAME}" is the provisioning NIC's name in the installed system`, i, "name");
      const kinds = (["bond", "vlan", "bridge"] as const).filter((k) => raw[k] !== undefined);
      if (kinds.length > 1) this.fail("conflicting-interface", `is a ${kinds.join(" and a ")} at once: choose one`, i, kinds[1]!);
      if (kinds.length && (raw.mac !== undefined || raw.macs !== undefined)) this.fail("conflicting-interface", `a ${kinds[0]} has no MAC of its own`, i, raw.mac ? "mac" : "macs");
      this.macs(raw, i);
      this.addressing(raw, i);
      if (raw.bond) this.bondMembers(raw.bond.members, i);
      if (raw.vlan && !this.names.has(raw.vlan.link)) this.fail("unknown-interface", `VLAN link "${raw.vlan.link}" is not an interface in this list`, i, "vlan", "link");
      if (raw.vlan?.link === raw.name) this.fail("invalid-vlan", `a VLAN cannot be tagged on itself`, i, "vlan", "link");
      raw.bridge?.members.forEach((m, j) => {
        if (!this.names.has(m) || m === raw.name) this.fail("unknown-interface", `bridge member "${m}" is not another interface in this list`, i, "bridge", "members", j);
      });
      const what = `interface "${raw.name}"`;
      resolveRoutes(raw.routes ?? [], { where: this.t.level.where, path: ["interfaces", i, "routes"], what, diags: this.scope.diags });
    });
  }

  private macs(raw: RawInterface, i: number): void {
    const { entry } = this;
    if (entry.isRange && raw.mac !== undefined) this.fail("mac-on-range", `"${entry.name}" is a host range: give this interface's MACs as "macs:", one per node`, i, "mac");
    if (raw.macs !== undefined && raw.macs.length !== (entry.isRange ? entry.count : 1)) {
      this.fail(
        "mac-count-mismatch",
        `has ${raw.macs.length} MACs in "macs" for ${entry.isRange ? entry.count : 1} node${entry.count === 1 ? "" : "s"} of "${entry.name}"`,
        i,
        "macs",
      );
    }
  }

  /** The network exists and holds the kind of address asked for; DHCP and a static address exclude each other. */
  private addressing(raw: RawInterface, i: number): void {
    if (raw.ip !== undefined && raw.dhcp) this.fail("conflicting-address", `has both "ip" and "dhcp: true"`, i, "dhcp");
    if (raw.ip6 !== undefined && raw.dhcp6) this.fail("conflicting-address", `has both "ip6" and "dhcp6: true"`, i, "dhcp6");
    if (raw.ip6 !== undefined && ip6ToBigInt(raw.ip6) === undefined) this.fail("invalid-address", `ip6 "${raw.ip6}" is not an IPv6 address`, i, "ip6");
    if (raw.network === undefined) {
      if (raw.ip !== undefined || raw.ip6 !== undefined)
        this.fail("missing-network", `a static address needs "network:" (its subnet, under "networks:")`, i, raw.ip ? "ip" : "ip6");
      return;
    }
    const net = this.scope.networks.get(raw.network);
    if (!net) {
      if (this.scope.brokenNetworks.has(raw.network)) return;
      const hint = suggest(raw.network, this.scope.networks.keys());
      this.fail("unknown-network", `unknown network "${raw.network}"${hint ? `; did you mean "${hint}"?` : ""}`, i, "network");
      return;
    }
    if (raw.ip !== undefined && !net.subnet) this.fail("missing-subnet", `network "${net.name}" has no IPv4 "subnet" for ip ${raw.ip}`, i, "ip");
    if (raw.ip6 !== undefined && !net.ipv6) this.fail("missing-subnet", `network "${net.name}" has no "ipv6" prefix for ip6 ${raw.ip6}`, i, "ip6");
  }

  /** Bond members are NICs that are not interfaces of their own, named by MAC only where one MAC means one node. */
  private bondMembers(members: string[], i: number): void {
    const macsOfList = new Set(
      this.t.list
        .flatMap((x) => [x.mac, ...(x.macs ?? [])])
        .filter((m): m is string => m !== undefined)
        .map(normalizeMac),
    );
    members.forEach((m, j) => {
      const isMac = MAC.test(m);
      if ((isMac && macsOfList.has(normalizeMac(m))) || (!isMac && this.names.has(m))) {
        this.fail("bond-member-is-interface", `bond member "${m}" is also an interface in this list: a bond's members carry nothing of their own`, i, "bond", "members", j);
      } else if (isMac && `${this.t.list[i]!.name}s${j}`.length > 15) {
        // A member given by MAC is renamed BONDsJ (src/boot/interfaces-common.ts); Linux names have at most 15 characters.
        this.fail("name-too-long", `bond member ${m} would be named "${this.t.list[i]!.name}s${j}", longer than 15 characters: shorten the bond's name`, i, "name");
      } else if (isMac && this.entry.isRange) {
        this.fail("mac-on-range", `bond member ${m} is a MAC, but "${this.entry.name}" is a host range: name members by kernel name`, i, "bond", "members", j);
      }
    });
    if (new Set(members.map((m) => (MAC.test(m) ? normalizeMac(m) : m))).size !== members.length)
      this.fail("duplicate-member", `a bond member is named twice`, i, "bond", "members");
  }
}

function normalizeMac(mac: string): string {
  return mac.toLowerCase().replace(/-/g, ":");
}

/** The interfaces of node `index` of its entry: MACs and addresses counted, the network's settings folded in. */
export function nodeInterfaces(t: InterfaceTemplate, node: { name: string; mac: string; index: number }, scope: InterfaceScope): NodeInterface[] | undefined {
  const before = scope.diags.length;
  const out = t.list.map((raw, i) => {
    const net = raw.network !== undefined ? scope.networks.get(raw.network) : undefined;
    const pos = (field: string) => posOf(t.level.where, "interfaces", i, field);
    const mac = raw.macs?.[node.index] ?? raw.mac;
    if (mac !== undefined && normalizeMac(mac) === node.mac) {
      scope.diags.push(errorAt("duplicate-mac", `interface "${raw.name}" of node "${node.name}" has the provisioning NIC's MAC ${node.mac}`, pos(raw.mac ? "mac" : "macs")));
    }
    const ipv4 = raw.ip !== undefined && net?.subnet ? staticV4(raw.ip, net, { node, iface: raw.name, pos: () => pos("ip"), scope }) : undefined;
    const ipv6 = raw.ip6 !== undefined && net?.ipv6 ? staticV6(raw.ip6, net, { node, iface: raw.name, pos: () => pos("ip6"), scope }) : undefined;
    return assemble(raw, { mac, net, ipv4, ipv6, routes: resolveRoutes(raw.routes ?? [], { where: t.level.where, path: ["interfaces", i, "routes"], what: "", diags: [] }) });
  });
  return scope.diags.length === before ? out : undefined;
}

function assemble(
  raw: RawInterface,
  p: { mac: string | undefined; net: NodeNetwork | undefined; ipv4: NodeInterface["ipv4"]; ipv6: NodeInterface["ipv6"]; routes: Route[] },
): NodeInterface {
  const { net } = p;
  const kind = raw.bond ? "bond" : raw.vlan ? "vlan" : raw.bridge ? "bridge" : "ethernet";
  const members = (raw.bond?.members ?? []).map((m): NicRef => (MAC.test(m) ? { mac: normalizeMac(m) } : { name: m }));
  const mtu = raw.mtu ?? net?.mtu;
  return {
    name: raw.name,
    kind,
    ...(p.mac !== undefined ? { mac: normalizeMac(p.mac) } : {}),
    ...(raw.bond ? { bond: { mode: raw.bond.mode ?? "active-backup", members, miimon: raw.bond.miimon ?? 100 } } : {}),
    ...(raw.vlan ? { vlan: { id: raw.vlan.id, link: raw.vlan.link } } : {}),
    ...(raw.bridge ? { bridge: { members: [...raw.bridge.members], stp: raw.bridge.stp ?? false } } : {}),
    ...(net ? { network: net.name } : {}),
    ...(p.ipv4 ? { ipv4: p.ipv4 } : {}),
    ...(p.ipv6 ? { ipv6: p.ipv6 } : {}),
    dhcp4: raw.dhcp ?? false,
    dhcp6: raw.dhcp6 ?? false,
    ...(mtu !== undefined ? { mtu } : {}),
    ...(net?.gateway && p.ipv4 ? { gateway4: net.gateway } : {}),
    ...(net?.gateway6 && p.ipv6 ? { gateway6: net.gateway6 } : {}),
    dns: net?.dns ?? [],
    domains: net?.domain ? [net.domain] : [],
    routes: [...(net?.routes ?? []), ...p.routes],
  };
}

interface AddressAt {
  node: { name: string; index: number };
  iface: string;
  pos: () => SourcePos;
  scope: InterfaceScope;
}

/** The node's IPv4 address on the network: counted up over the range, inside the subnet, off its network and broadcast addresses, taken once. */
function staticV4(first: string, net: NodeNetwork, at: AddressAt): NodeInterface["ipv4"] {
  const a = ipToInt(first)! + at.node.index;
  const subnet = subnetOf(net.subnet!.address, net.subnet!.prefix)!;
  const text = a > 0xffffffff ? "255.255.255.255" : intToIp(a);
  const label = `address ${text} of interface "${at.iface}" of node "${at.node.name}"`;
  if (a > 0xffffffff || !inSubnet(a, subnet))
    return void at.scope.diags.push(errorAt("ip-outside-subnet", `${label} is outside network "${net.name}" ${net.subnet!.address}/${net.subnet!.prefix}`, at.pos()));
  if (net.subnet!.prefix < 31 && (a === subnet.network || a === subnet.broadcast)) {
    return void at.scope.diags.push(errorAt("ip-reserved", `${label} is the ${a === subnet.network ? "network" : "broadcast"} address of network "${net.name}"`, at.pos()));
  }
  if (net.gateway === text) return void at.scope.diags.push(errorAt("ip-reserved", `${label} is the gateway of network "${net.name}"`, at.pos()));
  return taken(text, label, at) ? undefined : { address: text, prefix: net.subnet!.prefix };
}

function staticV6(first: string, net: NodeNetwork, at: AddressAt): NodeInterface["ipv6"] {
  const text = addIp6(first, at.node.index);
  const label = `IPv6 address ${text ?? first} of interface "${at.iface}" of node "${at.node.name}"`;
  const v = text === undefined ? undefined : ip6ToBigInt(text);
  if (v === undefined || !inPrefix6(v, ip6ToBigInt(net.ipv6!.address)!, net.ipv6!.prefix)) {
    return void at.scope.diags.push(errorAt("ip-outside-subnet", `${label} is outside network "${net.name}" ${net.ipv6!.address}/${net.ipv6!.prefix}`, at.pos()));
  }
  const canonical = bigIntToIp6(v);
  return taken(canonical, label, at) ? undefined : { address: canonical, prefix: net.ipv6!.prefix };
}

/** True (and reported) when another interface of any node already has the address. */
function taken(address: string, label: string, at: AddressAt): boolean {
  const prev = at.scope.addresses.get(address);
  if (!prev) {
    // Positions are looked up only for a diagnostic: locating costs more than checking.
    at.scope.addresses.set(address, { node: at.node.name, pos: at.pos });
    return false;
  }
  at.scope.diags.push(errorAt("duplicate-ip", `${label} is already used`, at.pos(), { message: `also used by node "${prev.node}"`, ...prev.pos() }));
  return true;
}
