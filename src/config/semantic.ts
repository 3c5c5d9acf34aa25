// Checks that need the whole, expanded configuration: uniqueness of names and
// addresses, addresses inside the provisioning subnet, dynamic range placement,
// disk layout consistency, and paths that must exist.
import { existsSync } from "node:fs";
import { checkLvm } from "./check-lvm.js";
import type { Diagnostic } from "./diagnostics.js";
import { inSubnet, intToIp, ipToInt, subnetOf, type Subnet } from "./ip.js";
import { keyPosOf, posOf, type MergedConfig, type Where } from "./merge.js";
import type { NodeOrigin, Resolved } from "./resolve.js";
import { formatBytes } from "./size.js";
import type { DiskLayout, Network, Node, SourcePos } from "./types.js";

const MIN_RAID_MEMBERS: Record<number, number> = { 0: 2, 1: 2, 5: 3, 10: 4 };

export interface SemanticOptions {
  /** Missing image paths are errors (apply) instead of warnings (validate). */
  requirePaths: boolean;
  /** Errors were found before these checks (schema, merge, resolve): nodes may be missing. */
  priorErrors?: boolean;
}

/** Adds diagnostics at source positions. */
interface Reporter {
  error(code: string, message: string, pos: SourcePos, related?: { message: string; pos: SourcePos }): void;
  warning(code: string, message: string, pos: SourcePos): void;
}

export function checkSemantics(merged: MergedConfig, r: Resolved, opts: SemanticOptions): Diagnostic[] {
  const diags: Diagnostic[] = [];
  const report: Reporter = {
    error: (code, message, pos, related) => diags.push({ severity: "error", code, message, ...pos, ...(related ? { related: { message: related.message, ...related.pos } } : {}) }),
    warning: (code, message, pos) => diags.push({ severity: "warning", code, message, ...pos }),
  };
  if (!merged.network && !merged.broken.network && !merged.broken.partial) {
    const first = merged.nodes[0]?.where.src.path ?? merged.cluster?.where.src.path;
    diags.push({
      severity: "error",
      code: "missing-network",
      message: 'the configuration has no "network" section (the provisioning network)',
      ...(first ? { file: first, line: 1, col: 1 } : {}),
    });
  }
  const network = r.network && merged.network ? checkNetwork(r.network, merged.network.where, report) : undefined;
  new NodeChecks(r, network, report).run(merged);
  for (const [name, layout] of r.diskLayouts) {
    const w = merged.diskLayouts.get(name)!.where;
    checkLayout(layout, (code, message, ...sub) => report.error(code, `disk layout "${name}": ${message}`, sub.length ? posOf(w, ...sub) : keyPosOf(w)));
  }
  checkImagePaths(merged, r, { requirePaths: opts.requirePaths, report });
  const hadNodeErrors = opts.priorErrors || diags.some((d) => d.severity === "error");
  if (!hadNodeErrors) warnUnused(merged, r, report);
  return diags;
}

/** The provisioning network as node addresses are checked against it. */
interface NetworkFacts {
  net: Network;
  subnet: Subnet;
  /** Addresses no node may take, and what each is. */
  reserved: Map<number, string>;
}

/** The head node's address, the gateway and the dynamic range inside the subnet and apart from each other. */
function checkNetwork(net: Network, w: Where, report: Reporter): NetworkFacts {
  const subnet = subnetOf(net.address, net.prefix)!;
  const head = ipToInt(net.address)!;
  if (net.prefix < 31 && (head === subnet.network || head === subnet.broadcast)) {
    report.error(
      "invalid-address",
      `network.address ${net.address} is the ${head === subnet.network ? "network" : "broadcast"} address of ${net.networkAddress}/${net.prefix}`,
      posOf(w, "address"),
    );
  }
  const reserved = new Map<number, string>();
  reserved.set(subnet.network, "the network address");
  reserved.set(subnet.broadcast, "the broadcast address");
  reserved.set(head, "the head node's address");
  if (net.gateway) {
    const g = ipToInt(net.gateway)!;
    if (!inSubnet(g, subnet)) report.error("gateway-outside-subnet", `network.gateway ${net.gateway} is outside ${net.networkAddress}/${net.prefix}`, posOf(w, "gateway"));
    if (g !== head) reserved.set(g, "the gateway");
  }
  const facts = { net, subnet, reserved };
  checkDynamicRange(facts, w, report);
  return facts;
}

function checkDynamicRange({ net, subnet, reserved }: NetworkFacts, w: Where, report: Reporter): void {
  const dr = net.dhcp.dynamicRange;
  if (!dr) return;
  const s = ipToInt(dr.start)!;
  const e = ipToInt(dr.end)!;
  if (net.dhcp.mode === "proxy") {
    report.error("proxy-dynamic-range", "network.dhcp.dynamicRange has no effect in proxy mode: the existing DHCP server hands out addresses", keyPosOf(w, "dhcp", "dynamicRange"));
  }
  if (s > e) report.error("dynamic-range-invalid", `dynamic range starts (${dr.start}) after it ends (${dr.end})`, posOf(w, "dhcp", "dynamicRange", "start"));
  for (const [k, v] of [
    ["start", s],
    ["end", e],
  ] as const) {
    if (!inSubnet(v, subnet))
      report.error("ip-outside-subnet", `dynamic range ${k} ${intToIp(v)} is outside ${net.networkAddress}/${net.prefix}`, posOf(w, "dhcp", "dynamicRange", k));
  }
  for (const [addr, what] of reserved) {
    if (addr >= s && addr <= e)
      report.error("dynamic-range-overlap", `dynamic range ${dr.start}-${dr.end} contains ${what} (${intToIp(addr)})`, keyPosOf(w, "dhcp", "dynamicRange"));
  }
}

/** Most dynamic-range overlaps reported one by one; the rest are counted in one warning. */
const MAX_OVERLAPS_REPORTED = 20;

/**
 * Names, MACs and addresses unique across nodes; node addresses inside the
 * subnet, off reserved addresses and out of the dynamic range. Positions are
 * looked up only for a diagnostic: locating costs more than checking.
 */
class NodeChecks {
  private readonly names = new Map<string, number>();
  private readonly macs = new Map<string, number>();
  private readonly addrs = new Map<number, { node: number; what: "ip" | "bmc" }>();
  private readonly dynamic: { start: number; end: number };
  private overlapReported = 0;

  constructor(
    private readonly r: Resolved,
    private readonly network: NetworkFacts | undefined,
    private readonly report: Reporter,
  ) {
    const dr = network?.net.dhcp.dynamicRange;
    this.dynamic = dr ? { start: ipToInt(dr.start)!, end: ipToInt(dr.end)! } : { start: 0, end: -1 };
  }

  run(merged: MergedConfig): void {
    this.r.nodes.forEach((n, i) => {
      const o = this.r.origins[i]!;
      this.uniqueName(n, i, o);
      this.uniqueMac(n, i, o);
      this.address({ node: n, index: i, addr: n.ip, what: "ip" }, () => posOf(o.where, "ip"));
      if (n.bmc?.address) this.address({ node: n, index: i, addr: n.bmc.address, what: "bmc" }, () => posOf(o.where, "bmc", "address"));
    });
    if (this.overlapReported > MAX_OVERLAPS_REPORTED) {
      const more = this.overlapReported - MAX_OVERLAPS_REPORTED;
      this.report.warning("dynamic-range-overlap", `${more} more node addresses lie inside the dynamic range`, keyPosOf(merged.network!.where, "dhcp", "dynamicRange"));
    }
  }

  private uniqueName(n: Node, i: number, o: NodeOrigin): void {
    const prev = this.names.get(n.name);
    if (prev === undefined) this.names.set(n.name, i);
    else this.report.error("duplicate-node", `node "${n.name}" is defined twice`, posOf(o.where, "name"), { message: "first defined", pos: this.r.nodes[prev]!.pos });
  }

  private uniqueMac(n: Node, i: number, o: NodeOrigin): void {
    const prev = this.macs.get(n.mac);
    if (prev === undefined) {
      this.macs.set(n.mac, i);
      return;
    }
    const macPos = (oo: NodeOrigin) => (oo.isRange ? posOf(oo.where, "macs", oo.index) : posOf(oo.where, "mac"));
    this.report.error("duplicate-mac", `MAC ${n.mac} of node "${n.name}" is already used`, macPos(o), {
      message: `also used by node "${this.r.nodes[prev]!.name}"`,
      pos: macPos(this.r.origins[prev]!),
    });
  }

  private address(at: { node: Node; index: number; addr: string; what: "ip" | "bmc" }, where: () => SourcePos): void {
    const { node: n, addr: addrStr, what } = at;
    const a = ipToInt(addrStr)!;
    let pos_: SourcePos | undefined;
    const pos = () => (pos_ ??= where());
    const label = what === "ip" ? `address ${addrStr} of node "${n.name}"` : `BMC address ${addrStr} of node "${n.name}"`;
    if (what === "ip" && this.network && !this.placeInSubnet(a, label, pos)) return;
    if (what === "bmc" && this.network?.reserved.get(a) === "the head node's address") {
      this.report.error("ip-reserved", `${label} is the head node's address`, pos());
      return;
    }
    const prev = this.addrs.get(a);
    if (!prev) {
      this.addrs.set(a, { node: at.index, what });
      return;
    }
    const oo = this.r.origins[prev.node]!;
    const otherPos = prev.what === "ip" ? posOf(oo.where, "ip") : posOf(oo.where, "bmc", "address");
    this.report.error(what === "ip" ? "duplicate-ip" : "duplicate-bmc-address", `${label} is already used`, pos(), {
      message: `also used by ${prev.what === "ip" ? "node" : "the BMC of node"} "${this.r.nodes[prev.node]!.name}"`,
      pos: otherPos,
    });
  }

  /** A node's IP inside the subnet and on no reserved address (false: reported, go no further); overlaps with the dynamic range are reported. */
  private placeInSubnet(a: number, label: string, pos: () => SourcePos): boolean {
    const { net, subnet, reserved } = this.network!;
    if (!inSubnet(a, subnet)) {
      this.report.error("ip-outside-subnet", `${label} is outside the provisioning network ${net.networkAddress}/${net.prefix}`, pos());
      return false;
    }
    const r0 = reserved.get(a);
    if (r0) {
      this.report.error("ip-reserved", `${label} is ${r0}`, pos());
      return false;
    }
    if (a >= this.dynamic.start && a <= this.dynamic.end && this.overlapReported++ < MAX_OVERLAPS_REPORTED) {
      const dr = net.dhcp.dynamicRange!;
      this.report.error("dynamic-range-overlap", `${label} lies inside the dynamic range ${dr.start}-${dr.end}`, pos());
    }
    return true;
  }
}

/** Image paths that must exist: errors for apply, warnings for validate. */
function checkImagePaths(merged: MergedConfig, r: Resolved, opts: { requirePaths: boolean; report: Reporter }): void {
  for (const [name, img] of r.images) {
    const w = merged.images.get(name)!.where;
    const src = img.source;
    const paths: [string, string | undefined][] = [
      // A recipe has no path; an OCI image's is under "oci".
      [src?.kind === "oci" ? "oci" : "root", src?.kind === "recipe" ? undefined : img.root],
      // Empty: the kernel is found inside the image when it is snapshotted.
      ["kernel", img.kernel || undefined],
      ["initrd", img.bootInImage ? undefined : img.initrd],
    ];
    for (const [key, p] of paths) {
      if (p === undefined || existsSync(p)) continue;
      const msg = `image "${name}": ${key} ${p} does not exist`;
      if (opts.requirePaths) opts.report.error("path-not-found", msg, posOf(w, key));
      else opts.report.warning("path-not-found", msg, posOf(w, key));
    }
  }
}

/** Definitions no node uses; only when every node and definition is known (no errors, nothing set aside). */
function warnUnused(merged: MergedConfig, r: Resolved, report: Reporter): void {
  const b = merged.broken;
  if (b.partial || b.images.size || b.diskLayouts.size || b.categories.size) return;
  const usedImages = new Set(r.nodes.map((n) => n.image));
  const usedLayouts = new Set(r.nodes.map((n) => n.diskLayout));
  const usedCats = new Set(r.nodes.map((n) => n.category));
  for (const [n, l] of merged.images) if (!usedImages.has(n)) report.warning("unused-image", `image "${n}" is used by no node`, keyPosOf(l.where));
  for (const [n, l] of merged.diskLayouts) if (!usedLayouts.has(n)) report.warning("unused-disk-layout", `disk layout "${n}" is used by no node`, keyPosOf(l.where));
  for (const [n, l] of merged.categories) if (!usedCats.has(n)) report.warning("unused-category", `category "${n}" is used by no node`, keyPosOf(l.where));
}

type Report = (code: string, message: string, ...sub: (string | number)[]) => void;

/** Consistency of one layout. Paths passed to `report` are relative to the layout. */
export function checkLayout(layout: DiskLayout, report: Report): void {
  const partitions = new Map<string, { disk: number; part: number; fs: string; type: string; bytes?: number }>();
  const mounts = new Map<string, string>(); // mount point → what is mounted there, for messages
  const addMount = (mount: string | undefined, fs: string, path: (string | number)[], what: string) => {
    if (!mount) return;
    if (fs === "swap") {
      report("swap-mount", `swap cannot be mounted at ${mount}`, ...path, "mount");
      return;
    }
    if (fs === "none") {
      report("mount-without-fs", `mount point ${mount} has no file system (fs: none)`, ...path, "mount");
      return;
    }
    const prev = mounts.get(mount);
    if (prev) report("duplicate-mount", `mount point ${mount} is used twice (also by ${prev})`, ...path, "mount");
    else mounts.set(mount, what);
  };
  layout.disks.forEach((disk, d) => {
    let rest = 0;
    let fixed = 0;
    let percent = 0;
    disk.partitions.forEach((p, i) => {
      const path = ["disks", d, "partitions", i];
      if (partitions.has(p.name)) report("duplicate-partition", `partition name "${p.name}" is used twice`, ...path, "name");
      else partitions.set(p.name, { disk: d, part: i, fs: p.fs, type: p.type, ...(p.size.kind === "bytes" ? { bytes: p.size.bytes } : {}) });
      if (p.size.kind === "rest") {
        if (++rest === 2) report("layout-two-rest", `disk "${disk.name}" has more than one partition of size "rest"`, ...path, "size");
      } else if (p.size.kind === "bytes") fixed += p.size.bytes;
      else percent += p.size.percent;
      addMount(p.mount, p.fs, path, `partition ${i + 1} of disk "${disk.name}"`);
    });
    if (percent > 100) report("size-exceeds-disk", `disk "${disk.name}": percentages add up to ${percent}%`, "disks", d, "partitions");
    const { minSize: min, maxSize: max } = disk.match;
    if (min !== undefined && max !== undefined && min > max) {
      report("size-range-empty", `disk "${disk.name}": minSize ${formatBytes(min)} is more than maxSize ${formatBytes(max)}`, "disks", d, "match", "maxSize");
    }
    if (min !== undefined && fixed > min) {
      report(
        "size-exceeds-disk",
        `disk "${disk.name}": fixed partition sizes add up to ${formatBytes(fixed)}, more than its minimum size ${formatBytes(min)}`,
        "disks",
        d,
        "match",
        "minSize",
      );
    }
  });
  const usedMembers = new Set<string>();
  layout.raid.forEach((a, i) => {
    const path = ["raid", i];
    a.members.forEach((m, k) => {
      const p = partitions.get(m);
      if (!p) report("raid-unknown-member", `RAID array "${a.name}" names member "${m}", which is no partition of this layout`, ...path, "members", k);
      else if (p.fs !== "none") report("raid-member-has-fs", `RAID array "${a.name}": member "${m}" must have fs: none (the array carries the file system)`, ...path, "members", k);
      if (usedMembers.has(m)) report("raid-member-reused", `partition "${m}" is a member of more than one RAID array`, ...path, "members", k);
      usedMembers.add(m);
    });
    const need = MIN_RAID_MEMBERS[a.level]!;
    if (a.members.length < need) report("raid-too-few-members", `RAID${a.level} array "${a.name}" needs at least ${need} members, has ${a.members.length}`, ...path, "members");
    if (partitions.has(a.name)) report("duplicate-partition", `RAID array "${a.name}" has the name of a partition`, ...path, "name");
    addMount(a.mount, a.fs, path, `RAID array "${a.name}"`);
  });
  checkLvm(layout, { partitions, raidMembers: usedMembers, addMount }, report);
  if (!mounts.has("/")) report("layout-no-root", "nothing is mounted at /");
}
