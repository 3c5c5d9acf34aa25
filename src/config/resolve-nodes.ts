// Node entries expanded into nodes: a host range becomes one node per name, with
// MACs taken in order and IPs and BMC addresses counted up from the first; each
// node's settings inherited (see inherit.ts) and its references checked.
import { errorAt, warningAt, type Diagnostic } from "./diagnostics.js";
import { resolveFirmware } from "./firmware.js";
import { countHostRange, expandHostRange, isHostRange } from "./hostrange.js";
import { mergeMaps, pick, type Level } from "./inherit.js";
import { nodeExtras, type ExtrasCache } from "./node-files.js";
import { interfaceTemplate, nodeInterfaces, type InterfaceScope } from "./resolve-interfaces.js";
import { intToIp, ipToInt } from "./ip.js";
import { absPath, keyPosOf, posOf, type Located, type MergedConfig, type RawBmc, type RawExclude, type RawNode, type RawSecret, type Where } from "./merge.js";
import type { BmcSettings, BmcTls, Image, Node, SecretRef, SourcePos } from "./types.js";

/** Where each expanded node's fields are written, for diagnostics about conflicts. */
export interface NodeOrigin {
  where: Where;
  /** Index of the node within its range (0 for single nodes). */
  index: number;
  isRange: boolean;
}

/** What the expansion of all node entries shares: the cluster around them and what was reported once already. */
export interface NodeScope {
  merged: MergedConfig;
  images: ReadonlyMap<string, Image>;
  domain?: string;
  maxNodes: number;
  diags: Diagnostic[];
  /** Inline secrets by id, filled as nodes refer to them. */
  inlineSecrets: Map<string, string>;
  /** Nodes expanded so far (the cluster-wide limit counts them). */
  total: number;
  /** An unknown reference inherited from a category or defaults is reported once, where it is written. */
  reportedRefs: Set<string>;
  /** Inline secrets are reported once per place they are written, not per node. */
  warnedInline: Set<string>;
  warnedNoAddress: Set<string>;
  /** Firmware settings that cannot boot are reported once per place they are written. */
  reportedFirmware: Set<string>;
  /** `files:` folders and script files read so far. */
  extras: ExtrasCache;
  /** Interfaces besides the provisioning NIC: the declared networks, addresses taken so far. */
  interfaces?: InterfaceScope;
}

export function nodeScope(
  merged: MergedConfig,
  images: ReadonlyMap<string, Image>,
  opts: { domain?: string; maxNodes: number; diags: Diagnostic[]; inlineSecrets: Map<string, string>; interfaces?: InterfaceScope },
): NodeScope {
  const { domain, maxNodes, diags, inlineSecrets, interfaces } = opts;
  return {
    merged,
    images,
    ...(domain ? { domain } : {}),
    maxNodes,
    diags,
    inlineSecrets,
    total: 0,
    reportedRefs: new Set(),
    warnedInline: new Set(),
    warnedNoAddress: new Set(),
    reportedFirmware: new Set(),
    extras: new Map(),
    ...(interfaces ? { interfaces } : {}),
  };
}

/** One entry of `nodes:` (a single node or a host range) as nodes, or undefined after reporting why not. */
export function resolveNodeEntry(ln: Located<RawNode>, scope: NodeScope): { nodes: Node[]; origins: NodeOrigin[] } | undefined {
  const raw = ln.value;
  const namePos = posOf(ln.where, "name");
  const names = expandNames(raw.name, namePos, scope);
  if (!names) return undefined;
  const macs = nodeMacs(ln, names, namePos, scope);
  if (!macs) return undefined;
  const levels = inheritanceLevels(ln, scope);
  if (!levels) return undefined;
  // Both references are checked, so that both are reported in one run.
  const refs = REFERENCES.map((ref) => checkReference(ref, ln, levels, scope));
  if (!refs.every((ok) => ok)) return undefined;
  if (raw.ip === undefined) {
    if (!incomplete(scope, raw)) scope.diags.push(errorAt("missing-ip", `node "${raw.name}" has no "ip"`, namePos));
    return undefined;
  }
  const bmc = bmcTemplate(ln, levels, namePos, scope);
  const common = commonSettings(levels, scope);
  const protect = pick(levels, "protect")?.value ?? false;
  const firmware = resolveFirmware(
    raw.name,
    levels.map((l) => ({ firmware: l.settings.firmware, where: l.where })),
    scope.reportedFirmware,
    scope.diags,
  );
  if (!firmware) return undefined;
  const extras = nodeExtras(levels, { cache: scope.extras, diags: scope.diags });
  if (!extras) return undefined;
  const ip0 = ipToInt(raw.ip)!;
  const range = isHostRange(raw.name);
  const ifaces = scope.interfaces && interfaceTemplate(levels, { name: raw.name, count: names.length, isRange: range }, scope.interfaces);
  if (ifaces === null) return undefined;
  let ifaceErrors = false;
  const nodes = names.map((name, i): Node => {
    const b = bmc && bmcOf(bmc, i, name, scope);
    const ipN = ip0 + i;
    const interfaces = ifaces && nodeInterfaces(ifaces, { name, mac: macs[i]!, index: i }, scope.interfaces!);
    if (ifaces && !interfaces) ifaceErrors = true;
    return {
      name,
      category: raw.category ?? "",
      mac: macs[i]!,
      ip: ipN > 0xffffffff ? "255.255.255.255" : intToIp(ipN >>> 0),
      hostname: scope.domain ? `${name}.${scope.domain}` : name,
      ...common,
      ...(b ? { bmc: b } : {}),
      protect,
      firmware,
      ...extras,
      ...(interfaces ? { interfaces } : {}),
      pos: namePos,
    };
  });
  if (ifaceErrors) return undefined;
  return { nodes, origins: names.map((_, i) => ({ where: ln.where, index: i, isRange: range })) };
}

/** A node, category or defaults that lost a misspelt field: what seems missing may be that field. */
function incomplete(scope: NodeScope, o: object): boolean {
  return scope.merged.broken.incomplete.has(o);
}

/** The names of a node or host range, counted before anything is expanded, so that node[1-100000000] costs nothing. */
function expandNames(name: string, namePos: SourcePos, scope: NodeScope): string[] | undefined {
  const count = countHostRange(name, Number.MAX_SAFE_INTEGER);
  if (typeof count !== "number") {
    scope.diags.push(errorAt(count.code, count.message, namePos));
    return undefined;
  }
  if (scope.total + count > scope.maxNodes) {
    const message = `host range "${name}" expands to ${count.toLocaleString("en")} names; a cluster may have at most ${scope.maxNodes.toLocaleString("en")} nodes`;
    scope.diags.push(errorAt("range-too-large", message, namePos));
    return undefined;
  }
  const names = expandHostRange(name, count);
  if ("message" in names) {
    scope.diags.push(errorAt("invalid-host-range", names.message, namePos));
    return undefined;
  }
  scope.total += names.length;
  return names;
}

function normalizeMac(mac: string): string {
  return mac.toLowerCase().replace(/-/g, ":");
}

/** One MAC per name: a range lists them under `macs:`, a single node writes `mac:` (or a one-item `macs:`). */
function nodeMacs(ln: Located<RawNode>, names: string[], namePos: SourcePos, scope: NodeScope): string[] | undefined {
  const { value: raw, where: w } = ln;
  const fail = (code: string, message: string, pos: SourcePos) => void scope.diags.push(errorAt(code, message, pos));
  if (isHostRange(raw.name)) {
    if (raw.mac !== undefined) fail("mac-on-range", `"${raw.name}" is a host range: give its MACs as a "macs:" list, one per node`, keyPosOf(w, "mac"));
    else if (raw.macs === undefined) {
      if (!incomplete(scope, raw)) fail("missing-mac", `host range "${raw.name}" has no "macs:" list (${names.length} MACs, one per node)`, namePos);
    } else if (raw.macs.length !== names.length) {
      fail("mac-count-mismatch", `host range "${raw.name}" has ${names.length} nodes but ${raw.macs.length} MACs in "macs"`, keyPosOf(w, "macs"));
    } else return raw.macs.map(normalizeMac);
    return undefined;
  }
  if (raw.macs !== undefined) {
    if (raw.macs.length === 1) return raw.macs.map(normalizeMac);
    fail("mac-count-mismatch", `node "${raw.name}" has ${raw.macs.length} MACs in "macs"; a single node takes "mac:"`, keyPosOf(w, "macs"));
    return undefined;
  }
  if (raw.mac !== undefined) return [normalizeMac(raw.mac)];
  if (!incomplete(scope, raw)) fail("missing-mac", `node "${raw.name}" has no "mac"`, namePos);
  return undefined;
}

/** defaults, the node's category, the node: farthest first. Undefined when the category is unknown or set aside. */
function inheritanceLevels(ln: Located<RawNode>, scope: NodeScope): Level[] | undefined {
  const { merged, diags } = scope;
  const raw = ln.value;
  const levels: Level[] = [];
  if (merged.defaults) levels.push({ settings: merged.defaults.value, where: merged.defaults.where });
  if (raw.category !== undefined) {
    const cat = merged.categories.get(raw.category);
    if (!cat && merged.broken.categories.has(raw.category)) return undefined;
    if (!cat) {
      diags.push(errorAt("unknown-category", `node "${raw.name}" refers to unknown category "${raw.category}"`, posOf(ln.where, "category")));
      return undefined;
    }
    levels.push({ settings: cat.value, where: cat.where });
  }
  levels.push({ settings: raw, where: ln.where });
  return levels;
}

/** The definitions a node must name (itself or by inheritance). */
const REFERENCES = [
  { key: "image", what: "image", table: "images", missing: "missing-image", unknown: "unknown-image" },
  { key: "diskLayout", what: "disk layout", table: "diskLayouts", missing: "missing-disk-layout", unknown: "unknown-disk-layout" },
] as const;

/** True when the node's (inherited) reference names a usable definition; otherwise reports why not, once per place written. */
function checkReference(ref: (typeof REFERENCES)[number], ln: Located<RawNode>, levels: Level[], scope: NodeScope): boolean {
  const { merged, diags } = scope;
  const raw = ln.value;
  const got = pick(levels, ref.key);
  if (got && merged.broken[ref.table].has(got.value as string)) return false;
  if (!got) {
    if (merged.broken.defaults) return false;
    if (!levels.some((l) => incomplete(scope, l.settings))) {
      diags.push(errorAt(ref.missing, `node "${raw.name}" has no ${ref.key}: set "${ref.key}" on the node, its category, or in defaults`, posOf(ln.where, "name")));
    }
    return false;
  }
  if (merged[ref.table].has(got.value as string)) return true;
  const where = got.level.where;
  const via = where === ln.where ? "" : ` (inherited from ${where.path[0] === "defaults" ? "defaults" : `category "${String(where.path[1])}"`})`;
  const refKey = `${ref.key}\u0000${where.src.path}\u0000${where.path.join("\u0000")}`;
  if (via && scope.reportedRefs.has(refKey)) return false;
  scope.reportedRefs.add(refKey);
  diags.push(errorAt(ref.unknown, `node "${raw.name}" uses unknown ${ref.what} "${String(got.value)}"${via}`, posOf(where, ref.key)));
  return false;
}

/** The settings every node of an entry shares, inherited. References were checked. */
function commonSettings(levels: Level[], scope: NodeScope) {
  const image = pick(levels, "image")!.value!;
  const img = scope.images.get(image)!;
  const exclude = mergeMaps<RawExclude>(levels, "exclude");
  return {
    image,
    diskLayout: pick(levels, "diskLayout")!.value!,
    installMode: pick(levels, "installMode")?.value ?? "auto",
    boot: pick(levels, "boot")?.value ?? "pxe",
    kernelArgs: pick(levels, "kernelArgs")?.value ?? [],
    sshAuthorizedKeys: pick(levels, "sshAuthorizedKeys")?.value ?? [],
    excludeSync: exclude?.value.sync ?? img.excludeSync,
    excludeFull: exclude?.value.full ?? img.excludeFull,
  };
}

/** The BMC settings of an entry before they are numbered per node. */
interface BmcTemplate {
  settings: RawBmc;
  driver: "ipmi" | "redfish" | "manual";
  /** The first node's BMC address; the others count up from it. */
  address0?: number;
  /** The level the password is written at (where an inline secret's warning points). */
  passwordLevel?: Level;
  /** The level `tls` is written at (a CA file is relative to it). */
  tlsLevel?: Level;
}

/** The entry's merged BMC settings, warning once per place written about a missing address or an inline password. */
function bmcTemplate(ln: Located<RawNode>, levels: Level[], namePos: SourcePos, scope: NodeScope): BmcTemplate | undefined {
  const merged = mergeMaps<RawBmc>(levels, "bmc");
  if (!merged) return undefined;
  const settings = merged.value;
  const address0 = settings.address !== undefined ? ipToInt(settings.address) : undefined;
  const driver = settings.driver ?? "ipmi";
  if (driver !== "manual" && address0 === undefined) {
    const lvl = [...merged.sources.values()].pop()!;
    const key = `${lvl.where.src.path}:${lvl.where.path.join(".")}`;
    if (lvl.where === ln.where || !scope.warnedNoAddress.has(key)) {
      scope.warnedNoAddress.add(key);
      scope.diags.push(warningAt("bmc-without-address", `node "${ln.value.name}" has BMC settings but no bmc.address: it will have to be power-cycled by hand`, namePos));
    }
  }
  const passwordLevel = merged.sources.get("password");
  if (passwordLevel && typeof settings.password === "string") {
    const key = `${passwordLevel.where.src.path}:${passwordLevel.where.path.join(".")}`;
    if (!scope.warnedInline.has(key)) {
      scope.warnedInline.add(key);
      const message = "BMC password written inline: use {env: NAME} or {file: PATH} so it stays out of version control";
      scope.diags.push(warningAt("inline-secret", message, posOf(passwordLevel.where, "bmc", "password")));
    }
  }
  const tlsLevel = merged.sources.get("tls");
  if (tlsLevel && settings.tls?.insecure) warnInsecure(tlsLevel, scope);
  return { settings, driver, ...(address0 !== undefined ? { address0 } : {}), ...(passwordLevel ? { passwordLevel } : {}), ...(tlsLevel ? { tlsLevel } : {}) };
}

/** `tls: {insecure: true}` is allowed only when written, and never silently: one warning per place written. */
function warnInsecure(level: Level, scope: NodeScope): void {
  const key = `tls:${level.where.src.path}:${level.where.path.join(".")}`;
  if (scope.warnedInline.has(key)) return;
  scope.warnedInline.add(key);
  const message =
    "bmc.tls.insecure: the BMC's certificate is not checked, so anyone on the BMC network can pose as the BMC and read its password; give bmc.tls.ca or bmc.tls.fingerprint instead";
  scope.diags.push(warningAt("bmc-tls-insecure", message, posOf(level.where, "bmc", "tls", "insecure")));
}

/** The resolved certificate check: a CA file relative to where it is written, a fingerprint without colons. */
function tlsOf(raw: NonNullable<RawBmc["tls"]>, level: Level): BmcTls | undefined {
  if (raw.ca !== undefined) return { ca: absPath(level.where, raw.ca) };
  if (raw.fingerprint !== undefined) return { fingerprint: raw.fingerprint.replace(/:/g, "").toUpperCase() };
  if (raw.insecure) return { insecure: true };
  return undefined;
}

/** Options that only one driver reads, copied when set. */
function driverOptions(b: RawBmc, t: BmcTemplate): Partial<BmcSettings> {
  const tls = b.tls && t.tlsLevel ? tlsOf(b.tls, t.tlsLevel) : undefined;
  return {
    ...(b.interface ? { interface: b.interface } : {}),
    ...(b.cipherSuite !== undefined ? { cipherSuite: b.cipherSuite } : {}),
    ...(b.auth ? { auth: b.auth } : {}),
    ...(b.system ? { system: b.system } : {}),
    ...(tls ? { tls } : {}),
  };
}

/** What the installer writes to an IPMI BMC in-band besides address, netmask and gateway, copied when set. */
function inbandOptions(b: RawBmc): Partial<BmcSettings> {
  return {
    ...(b.vlan !== undefined ? { vlan: b.vlan } : {}),
    ...(b.channel !== undefined ? { channel: b.channel } : {}),
    ...(b.userId !== undefined ? { userId: b.userId } : {}),
    ...(b.privilege ? { privilege: b.privilege } : {}),
  };
}

/** The i-th node's BMC; none for an IPMI BMC without an address (it is power-cycled by hand). */
function bmcOf(t: BmcTemplate, i: number, name: string, scope: NodeScope): BmcSettings | undefined {
  if (t.driver !== "manual" && t.address0 === undefined) return undefined;
  const b = t.settings;
  return {
    driver: t.driver,
    ...(t.address0 !== undefined ? { address: intToIp((t.address0 + i) >>> 0) } : {}),
    ...(b.netmask ? { netmask: b.netmask } : {}),
    ...(b.gateway ? { gateway: b.gateway } : {}),
    ...inbandOptions(b),
    ...(b.user ? { user: b.user } : {}),
    ...(b.password !== undefined ? { password: secretRef(b.password, { level: t.passwordLevel!, nodeName: name, scope }) } : {}),
    port: b.port ?? (t.driver === "redfish" ? 443 : 623),
    ...driverOptions(b, t),
  };
}

/** A secret as a reference; an inline one goes into the scope's table under the node's name, out of the model. */
function secretRef(raw: RawSecret, at: { level: Level; nodeName: string; scope: NodeScope }): SecretRef {
  if (typeof raw === "string") {
    const id = `inline:${at.nodeName}`;
    at.scope.inlineSecrets.set(id, raw);
    return { kind: "inline", id };
  }
  if ("env" in raw) return { kind: "env", name: raw.env };
  return { kind: "file", path: absPath(at.level.where, raw.file) };
}
