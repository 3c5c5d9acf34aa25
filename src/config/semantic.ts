// Checks that need the whole, expanded configuration: uniqueness of names and
// addresses, addresses inside the provisioning subnet, dynamic range placement,
// disk layout consistency, and paths that must exist.
import { existsSync } from "node:fs";
import type { Diagnostic } from "./diagnostics.js";
import { inSubnet, intToIp, ipToInt, subnetOf, type Subnet } from "./ip.js";
import { keyPosOf, posOf, type MergedConfig } from "./merge.js";
import type { Resolved } from "./resolve.js";
import { formatBytes } from "./size.js";
import type { DiskLayout, SourcePos } from "./types.js";

const MIN_RAID_MEMBERS: Record<number, number> = { 0: 2, 1: 2, 5: 3, 10: 4 };

export interface SemanticOptions {
  /** Missing image paths are errors (apply) instead of warnings (validate). */
  requirePaths: boolean;
  /** Errors were found before these checks (schema, merge, resolve): nodes may be missing. */
  priorErrors?: boolean;
}

export function checkSemantics(merged: MergedConfig, r: Resolved, opts: SemanticOptions): Diagnostic[] {
  const diags: Diagnostic[] = [];
  const error = (code: string, message: string, pos: SourcePos, related?: { message: string; pos: SourcePos }) =>
    diags.push({ severity: "error", code, message, ...pos, ...(related ? { related: { message: related.message, ...related.pos } } : {}) });
  const warning = (code: string, message: string, pos: SourcePos) => diags.push({ severity: "warning", code, message, ...pos });

  if (!merged.network && !merged.broken.network && !merged.broken.partial) {
    const first = merged.nodes[0]?.where.src.path ?? merged.cluster?.where.src.path;
    diags.push({ severity: "error", code: "missing-network", message: 'the configuration has no "network" section (the provisioning network)', ...(first ? { file: first, line: 1, col: 1 } : {}) });
  }

  // --- network ---------------------------------------------------------------
  const net = r.network;
  let subnet: Subnet | undefined;
  const reserved = new Map<number, string>(); // address → what it is
  if (net && merged.network) {
    const w = merged.network.where;
    subnet = subnetOf(net.address, net.prefix)!;
    const head = ipToInt(net.address)!;
    if (net.prefix < 31 && (head === subnet.network || head === subnet.broadcast)) {
      error("invalid-address", `network.address ${net.address} is the ${head === subnet.network ? "network" : "broadcast"} address of ${net.networkAddress}/${net.prefix}`, posOf(w, "address"));
    }
    reserved.set(subnet.network, "the network address");
    reserved.set(subnet.broadcast, "the broadcast address");
    reserved.set(head, "the head node's address");
    if (net.gateway) {
      const g = ipToInt(net.gateway)!;
      if (!inSubnet(g, subnet)) error("gateway-outside-subnet", `network.gateway ${net.gateway} is outside ${net.networkAddress}/${net.prefix}`, posOf(w, "gateway"));
      if (g !== head) reserved.set(g, "the gateway");
    }
    const dr = net.dhcp.dynamicRange;
    if (dr) {
      const s = ipToInt(dr.start)!;
      const e = ipToInt(dr.end)!;
      if (net.dhcp.mode === "proxy") {
        error("proxy-dynamic-range", "network.dhcp.dynamicRange has no effect in proxy mode: the existing DHCP server hands out addresses", keyPosOf(w, "dhcp", "dynamicRange"));
      }
      if (s > e) error("dynamic-range-invalid", `dynamic range starts (${dr.start}) after it ends (${dr.end})`, posOf(w, "dhcp", "dynamicRange", "start"));
      for (const [k, v] of [["start", s], ["end", e]] as const) {
        if (!inSubnet(v, subnet)) error("ip-outside-subnet", `dynamic range ${k} ${intToIp(v)} is outside ${net.networkAddress}/${net.prefix}`, posOf(w, "dhcp", "dynamicRange", k));
      }
      for (const [addr, what] of reserved) {
        if (addr >= s && addr <= e) error("dynamic-range-overlap", `dynamic range ${dr.start}-${dr.end} contains ${what} (${intToIp(addr)})`, keyPosOf(w, "dhcp", "dynamicRange"));
      }
    }
  }

  // --- nodes -------------------------------------------------------------------
  const names = new Map<string, number>();
  const macs = new Map<string, number>();
  const addrs = new Map<number, { node: number; what: "ip" | "bmc" }>();
  const dr = net?.dhcp.dynamicRange;
  const drS = dr ? ipToInt(dr.start)! : 0;
  const drE = dr ? ipToInt(dr.end)! : -1;
  let overlapReported = 0;
  r.nodes.forEach((n, i) => {
    const o = r.origins[i]!;
    // Positions are looked up only for a diagnostic: locating costs more than checking.
    const prevName = names.get(n.name);
    if (prevName !== undefined) {
      error("duplicate-node", `node "${n.name}" is defined twice`, posOf(o.where, "name"), { message: "first defined", pos: r.nodes[prevName]!.pos });
    } else names.set(n.name, i);
    const prevMac = macs.get(n.mac);
    if (prevMac !== undefined) {
      const other = r.nodes[prevMac]!;
      const oo = r.origins[prevMac]!;
      const macPos = o.isRange ? posOf(o.where, "macs", o.index) : posOf(o.where, "mac");
      error("duplicate-mac", `MAC ${n.mac} of node "${n.name}" is already used`, macPos, {
        message: `also used by node "${other.name}"`,
        pos: oo.isRange ? posOf(oo.where, "macs", oo.index) : posOf(oo.where, "mac"),
      });
    } else macs.set(n.mac, i);

    const checkAddr = (addrStr: string, what: "ip" | "bmc", where: () => SourcePos) => {
      const a = ipToInt(addrStr)!;
      let pos_: SourcePos | undefined;
      const pos = () => (pos_ ??= where());
      const label_ = () => (what === "ip" ? `address ${addrStr} of node "${n.name}"` : `BMC address ${addrStr} of node "${n.name}"`);
      if (what === "ip" && subnet) {
        if (!inSubnet(a, subnet)) {
          error("ip-outside-subnet", `${label_()} is outside the provisioning network ${net!.networkAddress}/${net!.prefix}`, pos());
          return;
        }
        const r0 = reserved.get(a);
        if (r0) {
          error("ip-reserved", `${label_()} is ${r0}`, pos());
          return;
        }
        if (a >= drS && a <= drE && overlapReported++ < 20) {
          error("dynamic-range-overlap", `${label_()} lies inside the dynamic range ${dr!.start}-${dr!.end}`, pos());
        }
      }
      if (what === "bmc" && reserved.get(a) === "the head node's address") {
        error("ip-reserved", `${label_()} is the head node's address`, pos());
        return;
      }
      const prev = addrs.get(a);
      if (prev) {
        const other = r.nodes[prev.node]!;
        const oo = r.origins[prev.node]!;
        const otherPos = prev.what === "ip" ? posOf(oo.where, "ip") : posOf(oo.where, "bmc", "address");
        error(what === "ip" ? "duplicate-ip" : "duplicate-bmc-address", `${label_()} is already used`, pos(), {
          message: `also used by ${prev.what === "ip" ? "node" : "the BMC of node"} "${other.name}"`,
          pos: otherPos,
        });
      } else addrs.set(a, { node: i, what });
    };
    checkAddr(n.ip, "ip", () => posOf(o.where, "ip"));
    if (n.bmc?.address) checkAddr(n.bmc.address, "bmc", () => posOf(o.where, "bmc", "address"));
  });
  if (overlapReported > 20) {
    warning("dynamic-range-overlap", `${overlapReported - 20} more node addresses lie inside the dynamic range`, keyPosOf(merged.network!.where, "dhcp", "dynamicRange"));
  }

  // --- disk layouts ---------------------------------------------------------------
  for (const [name, layout] of r.diskLayouts) {
    const w = merged.diskLayouts.get(name)!.where;
    checkLayout(layout, (code, message, ...sub) => error(code, `disk layout "${name}": ${message}`, sub.length ? posOf(w, ...sub) : keyPosOf(w)));
  }

  // --- images ------------------------------------------------------------------------
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
      if (opts.requirePaths) error("path-not-found", msg, posOf(w, key));
      else warning("path-not-found", msg, posOf(w, key));
    }
  }

  // --- unused definitions ------------------------------------------------------------
  const usedImages = new Set(r.nodes.map((n) => n.image));
  const usedLayouts = new Set(r.nodes.map((n) => n.diskLayout));
  const usedCats = new Set(r.nodes.map((n) => n.category));
  const hadNodeErrors = opts.priorErrors || diags.some((d) => d.severity === "error");
  const b = merged.broken;
  if (!hadNodeErrors && !b.partial && !b.images.size && !b.diskLayouts.size && !b.categories.size) {
    for (const [n, l] of merged.images) if (!usedImages.has(n)) warning("unused-image", `image "${n}" is used by no node`, keyPosOf(l.where));
    for (const [n, l] of merged.diskLayouts) if (!usedLayouts.has(n)) warning("unused-disk-layout", `disk layout "${n}" is used by no node`, keyPosOf(l.where));
    for (const [n, l] of merged.categories) if (!usedCats.has(n)) warning("unused-category", `category "${n}" is used by no node`, keyPosOf(l.where));
  }
  return diags;
}

type Report = (code: string, message: string, ...sub: (string | number)[]) => void;

/** Consistency of one layout. Paths passed to `report` are relative to the layout. */
export function checkLayout(layout: DiskLayout, report: Report): void {
  const partitions = new Map<string, { disk: number; part: number; fs: string; type: string }>();
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
      else partitions.set(p.name, { disk: d, part: i, fs: p.fs, type: p.type });
      if (p.size.kind === "rest") {
        if (++rest === 2) report("layout-two-rest", `disk "${disk.name}" has more than one partition of size "rest"`, ...path, "size");
      } else if (p.size.kind === "bytes") fixed += p.size.bytes;
      else percent += p.size.percent;
      addMount(p.mount, p.fs, path, `partition ${i + 1} of disk "${disk.name}"`);
    });
    if (percent > 100) report("size-exceeds-disk", `disk "${disk.name}": percentages add up to ${percent}%`, "disks", d, "partitions");
    const min = disk.match.minSize;
    if (min !== undefined && fixed > min) {
      report("size-exceeds-disk", `disk "${disk.name}": fixed partition sizes add up to ${formatBytes(fixed)}, more than its minimum size ${formatBytes(min)}`, "disks", d, "match", "minSize");
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
  if (!mounts.has("/")) report("layout-no-root", "nothing is mounted at /");
}
