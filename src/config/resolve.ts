// From the merged raw configuration to the normalized model: defaults filled in,
// paths made absolute, host ranges expanded (with MACs, IPs and BMC addresses
// assigned in range order), and inheritance resolved:
//   node  >  category  >  defaults
// Scalars and lists at a lower level replace the inherited value whole; the
// mappings `bmc` and `exclude` merge key by key.
import { dirname, isAbsolute, resolve as resolvePath } from "node:path";
import type { Diagnostic } from "./diagnostics.js";
import { countHostRange, expandHostRange, isHostRange } from "./hostrange.js";
import { intToIp, ipToInt, parseCidr, prefixToMask, subnetOf } from "./ip.js";
import { keyPosOf, posOf, type Located, type MergedConfig, type RawBmc, type RawExclude, type RawSecret, type RawSettings, type Where } from "./merge.js";
import { parseBytes, parseSizeSpec } from "./size.js";
import type { BmcSettings, Category, DiskLayout, Image, Network, Node, SecretRef, SourcePos, StateBackendConfig } from "./types.js";

/** Where each expanded node's fields are written, for diagnostics about conflicts. */
export interface NodeOrigin {
  where: Where;
  /** Index of the node within its range (0 for single nodes). */
  index: number;
  isRange: boolean;
}

export interface ResolveLimits {
  /** Nodes in the whole cluster after expansion. */
  maxNodes: number;
}

export interface Resolved {
  name: string;
  backend?: StateBackendConfig;
  /** The `backend:` section is there but unusable (an error was reported). */
  backendBroken?: boolean;
  network?: Network;
  images: Map<string, Image>;
  diskLayouts: Map<string, DiskLayout>;
  categories: Map<string, Category>;
  nodes: Node[];
  /** Parallel to `nodes` (before sorting). */
  origins: NodeOrigin[];
  /** Inline secrets by id: kept out of the model so that it can be serialized safely. */
  inlineSecrets: Map<string, string>;
}

const err = (code: string, message: string, pos: SourcePos, related?: Diagnostic["related"]): Diagnostic => ({
  severity: "error",
  code,
  message,
  ...pos,
  ...(related ? { related } : {}),
});
const warn = (code: string, message: string, pos: SourcePos): Diagnostic => ({ severity: "warning", code, message, ...pos });

function configDir(w: Where): string {
  return dirname(w.src.path);
}

function absPath(w: Where, p: string): string {
  return isAbsolute(p) ? p : resolvePath(configDir(w), p);
}

function normalizeMac(mac: string): string {
  return mac.toLowerCase().replace(/-/g, ":");
}

function resolveNetwork(l: Located<MergedConfig["network"] extends Located<infer T> | undefined ? T : never>, diags: Diagnostic[]): Network | undefined {
  const n = l.value;
  const cidr = parseCidr(n.address);
  if (!cidr) {
    diags.push(err("invalid-address", `network.address "${n.address}" must be an IPv4 address with a prefix length, e.g. 10.141.255.254/16`, posOf(l.where, "address")));
    return undefined;
  }
  const subnet = subnetOf(cidr.address, cidr.prefix)!;
  return {
    interface: n.interface,
    address: cidr.address,
    prefix: cidr.prefix,
    networkAddress: intToIp(subnet.network),
    netmask: intToIp(prefixToMask(cidr.prefix)),
    broadcast: intToIp(subnet.broadcast),
    ...(n.gateway ? { gateway: n.gateway } : {}),
    dns: n.dns ?? [],
    ...(n.domain ? { domain: n.domain } : {}),
    dhcp: {
      mode: n.dhcp?.mode ?? "authoritative",
      leaseTime: n.dhcp?.leaseTime ?? 3600,
      ...(n.dhcp?.dynamicRange ? { dynamicRange: n.dhcp.dynamicRange } : {}),
    },
    ports: {
      dhcp: n.ports?.dhcp ?? 67,
      proxyDhcp: n.ports?.proxyDhcp ?? 4011,
      tftp: n.ports?.tftp ?? 69,
      http: n.ports?.http ?? 80,
      rsync: n.ports?.rsync ?? 873,
    },
  };
}

/** The state backend: the fields of one type do not belong to the other; the URL is never inline. */
function resolveBackend(l: NonNullable<MergedConfig["backend"]>, diags: Diagnostic[]): StateBackendConfig | undefined {
  const b = l.value;
  const pos = keyPosOf(l.where);
  if (b.type !== "local" && b.type !== "postgres") return undefined; // the schema reported it
  let ok = true;
  const misplaced = (field: "path" | "url" | "name" | "keepVersions") => {
    diags.push(err("invalid-backend", `backend field "${field}" does not apply to a ${b.type} backend`, keyPosOf(l.where, field)));
    ok = false;
  };
  if (b.type === "local") {
    if (b.url !== undefined) misplaced("url");
    if (b.name !== undefined) misplaced("name");
    if (b.keepVersions !== undefined) misplaced("keepVersions");
    return ok ? { type: "local", ...(b.path ? { path: absPath(l.where, b.path) } : {}), pos } : undefined;
  }
  if (b.path !== undefined) misplaced("path");
  if (b.url === undefined) {
    diags.push(err("missing-field", `a postgres backend needs "url": {env: NAME} or {file: PATH} holding postgres://USER:PASSWORD@HOST:PORT/DATABASE`, pos));
    return undefined;
  }
  if (typeof b.url === "string") {
    // Not even the value goes into the message: it may hold the password.
    diags.push(err("inline-secret", `backend.url must be {env: NAME} or {file: PATH}: a URL written inline would put the database password in version control`, posOf(l.where, "url")));
    return undefined;
  }
  if (!ok) return undefined;
  const url: SecretRef = "env" in b.url ? { kind: "env", name: b.url.env } : { kind: "file", path: absPath(l.where, b.url.file) };
  return { type: "postgres", url, ...(b.name ? { name: b.name } : {}), ...(b.keepVersions !== undefined ? { keepVersions: b.keepVersions } : {}), pos };
}

function rootTypeOf(p: string): "directory" | "tarball" {
  return /\.(tar|tar\.gz|tgz|tar\.zst|tar\.xz)$/.test(p) ? "tarball" : "directory";
}

function resolveImage(name: string, l: Located<MergedConfig["images"] extends Map<string, Located<infer T>> ? T : never>): Image {
  const v = l.value;
  return {
    name,
    root: absPath(l.where, v.root),
    rootType: rootTypeOf(v.root),
    kernel: absPath(l.where, v.kernel),
    ...(v.initrd ? { initrd: absPath(l.where, v.initrd) } : {}),
    kernelArgs: v.kernelArgs ?? [],
    excludeSync: v.exclude?.sync ?? [],
    excludeFull: v.exclude?.full ?? [],
    pos: keyPosOf(l.where),
  };
}

/**
 * Sizes the schema's pattern admits but that mean nothing: zero, 0%, more than
 * 100%, or more bytes than a number holds exactly. The layout is set aside.
 */
function checkSizes(name: string, l: Located<MergedConfig["diskLayouts"] extends Map<string, Located<infer T>> ? T : never>, diags: Diagnostic[]): boolean {
  let ok = true;
  l.value.disks.forEach((d, di) => {
    const bad = (what: string, value: string, ...sub: (string | number)[]) => {
      diags.push(err("invalid-size", `disk layout "${name}": ${what} "${value}" of disk "${d.name}" must be more than zero and at most 8 PiB (or a percentage up to 100%)`, posOf(l.where, "disks", di, ...sub)));
      ok = false;
    };
    if (d.match.minSize !== undefined && parseBytes(d.match.minSize) === undefined) bad("minimum size", d.match.minSize, "match", "minSize");
    d.partitions.forEach((p, pi) => {
      const size = parseSizeSpec(p.size);
      if (!size || (size.kind === "bytes" && size.bytes === 0)) bad(`size of partition ${pi + 1}`, p.size, "partitions", pi, "size");
    });
  });
  return ok;
}

function resolveLayout(name: string, l: Located<MergedConfig["diskLayouts"] extends Map<string, Located<infer T>> ? T : never>): DiskLayout {
  const v = l.value;
  return {
    name,
    disks: v.disks.map((d) => ({
      name: d.name,
      match: {
        ...(d.match.device ? { device: d.match.device } : {}),
        ...(d.match.minSize ? { minSize: parseBytes(d.match.minSize)! } : {}),
        ...(d.match.serial ? { serial: d.match.serial } : {}),
        ...(d.match.model ? { model: d.match.model } : {}),
      },
      table: d.table ?? "gpt",
      partitions: d.partitions.map((p, i) => {
        const fs = p.fs ?? "none";
        return {
          name: p.name ?? `${d.name}-p${i + 1}`,
          size: parseSizeSpec(p.size)!,
          fs,
          type: p.type ?? (fs === "swap" ? "swap" : fs === "vfat" && p.mount === "/boot/efi" ? "esp" : "linux"),
          ...(p.mount ? { mount: p.mount } : {}),
          mountOptions: p.mountOptions ?? [],
          ...(p.label ? { label: p.label } : {}),
        };
      }),
    })),
    raid: (v.raid ?? []).map((r) => ({
      name: r.name,
      level: r.level,
      members: r.members,
      fs: r.fs ?? "none",
      ...(r.mount ? { mount: r.mount } : {}),
      mountOptions: r.mountOptions ?? [],
      ...(r.label ? { label: r.label } : {}),
    })),
    pos: keyPosOf(l.where),
  };
}

/** One level of settings with where each came from (for messages about inherited values). */
interface Level {
  settings: RawSettings;
  where: Where;
}

function pick<K extends keyof RawSettings>(levels: Level[], key: K): { value: RawSettings[K]; level: Level } | undefined {
  for (let i = levels.length - 1; i >= 0; i--) {
    const l = levels[i]!;
    if (l.settings[key] !== undefined) return { value: l.settings[key], level: l };
  }
  return undefined;
}

/** bmc and exclude merge key by key, nearest level winning. */
function mergeMaps<T extends object>(levels: Level[], key: "bmc" | "exclude"): { value: T; sources: Map<string, Level> } | undefined {
  let out: Record<string, unknown> | undefined;
  const sources = new Map<string, Level>();
  for (const l of levels) {
    const m = l.settings[key] as Record<string, unknown> | undefined;
    if (!m) continue;
    out ??= {};
    for (const [k, v] of Object.entries(m)) {
      out[k] = v;
      sources.set(k, l);
    }
  }
  // `bmc: {}` (or one whose only field was misspelt and dropped) sets nothing.
  return out && sources.size ? { value: out as T, sources } : undefined;
}

export function resolveConfig(
  merged: MergedConfig,
  defaultName: string,
  limits: ResolveLimits,
  diags: Diagnostic[],
): Resolved {
  const inlineSecrets = new Map<string, string>();
  const out: Resolved = {
    name: merged.cluster?.value.name ?? defaultName,
    images: new Map(),
    diskLayouts: new Map(),
    categories: new Map(),
    nodes: [],
    origins: [],
    inlineSecrets,
  };
  if (merged.backend) {
    const b = resolveBackend(merged.backend, diags);
    if (b) out.backend = b;
    else out.backendBroken = true;
  }
  if (merged.network) {
    const n = resolveNetwork(merged.network, diags);
    if (n) out.network = n;
  }
  for (const [name, l] of merged.images) out.images.set(name, resolveImage(name, l));
  for (const [name, l] of merged.diskLayouts) {
    if (checkSizes(name, l, diags)) out.diskLayouts.set(name, resolveLayout(name, l));
  }
  for (const [name, l] of merged.categories) out.categories.set(name, { name, pos: keyPosOf(l.where) });

  const secretRef = (raw: RawSecret, level: Level, nodeName: string): SecretRef => {
    if (typeof raw === "string") {
      const id = `inline:${nodeName}`;
      inlineSecrets.set(id, raw);
      return { kind: "inline", id };
    }
    if ("env" in raw) return { kind: "env", name: raw.env };
    return { kind: "file", path: absPath(level.where, raw.file) };
  };

  // A node, category or defaults that lost a misspelt field: what seems missing may be that field.
  const incomplete = (o: object) => merged.broken.incomplete.has(o);
  // An unknown reference inherited from a category or defaults is reported once, where it is written.
  const reportedRefs = new Set<string>();
  // Inline secrets are reported once per place they are written, not per node.
  const warnedInline = new Set<string>();
  const warnedNoAddress = new Set<string>();
  let total = 0;
  for (const ln of merged.nodes) {
    const raw = ln.value;
    const w = ln.where;
    const namePos = posOf(w, "name");
    const range = isHostRange(raw.name);
    // Counted before anything is expanded, so that node[1-100000000] costs nothing.
    const count = countHostRange(raw.name, Number.MAX_SAFE_INTEGER);
    if (typeof count !== "number") {
      diags.push(err(count.code, count.message, namePos));
      continue;
    }
    if (total + count > limits.maxNodes) {
      diags.push(
        err(
          "range-too-large",
          `host range "${raw.name}" expands to ${count.toLocaleString("en")} names; a cluster may have at most ${limits.maxNodes.toLocaleString("en")} nodes`,
          namePos,
        ),
      );
      continue;
    }
    const names = expandHostRange(raw.name, count);
    if ("message" in names) {
      diags.push(err("invalid-host-range", names.message, namePos));
      continue;
    }
    total += names.length;
    // MACs
    let macs: string[] | undefined;
    if (range) {
      if (raw.mac !== undefined) {
        diags.push(err("mac-on-range", `"${raw.name}" is a host range: give its MACs as a "macs:" list, one per node`, keyPosOf(w, "mac")));
      } else if (raw.macs === undefined) {
        if (!incomplete(raw)) diags.push(err("missing-mac", `host range "${raw.name}" has no "macs:" list (${names.length} MACs, one per node)`, namePos));
      } else if (raw.macs.length !== names.length) {
        diags.push(
          err("mac-count-mismatch", `host range "${raw.name}" has ${names.length} nodes but ${raw.macs.length} MACs in "macs"`, keyPosOf(w, "macs")),
        );
      } else macs = raw.macs.map(normalizeMac);
    } else if (raw.macs !== undefined) {
      if (raw.macs.length !== 1) diags.push(err("mac-count-mismatch", `node "${raw.name}" has ${raw.macs.length} MACs in "macs"; a single node takes "mac:"`, keyPosOf(w, "macs")));
      else macs = raw.macs.map(normalizeMac);
    } else if (raw.mac === undefined) {
      if (!incomplete(raw)) diags.push(err("missing-mac", `node "${raw.name}" has no "mac"`, namePos));
    } else macs = [normalizeMac(raw.mac)];
    if (!macs) continue;

    // Category and inheritance
    const levels: Level[] = [];
    if (merged.defaults) levels.push({ settings: merged.defaults.value, where: merged.defaults.where });
    if (raw.category !== undefined) {
      const cat = merged.categories.get(raw.category);
      if (!cat && merged.broken.categories.has(raw.category)) continue;
      if (!cat) {
        diags.push(err("unknown-category", `node "${raw.name}" refers to unknown category "${raw.category}"`, posOf(w, "category")));
        continue;
      }
      levels.push({ settings: cat.value, where: cat.where });
    }
    levels.push({ settings: raw, where: w });

    const image = pick(levels, "image");
    const layout = pick(levels, "diskLayout");
    let broken = false;
    for (const [key, got, known, what] of [
      ["image", image, merged.images, "image"],
      ["diskLayout", layout, merged.diskLayouts, "disk layout"],
    ] as const) {
      if (got && (key === "image" ? merged.broken.images : merged.broken.diskLayouts).has(got.value as string)) {
        broken = true;
      } else if (!got) {
        if (merged.broken.defaults) {
          broken = true;
          continue;
        }
        if (!levels.some((l) => incomplete(l.settings))) {
          diags.push(err(`missing-${key === "image" ? "image" : "disk-layout"}`, `node "${raw.name}" has no ${key}: set "${key}" on the node, its category, or in defaults`, namePos));
        }
        broken = true;
      } else if (!known.has(got.value as string)) {
        const via = got.level.where === w ? "" : ` (inherited from ${got.level.where.path[0] === "defaults" ? "defaults" : `category "${String(got.level.where.path[1])}"`})`;
        broken = true;
        const refKey = `${key}\u0000${got.level.where.src.path}\u0000${got.level.where.path.join("\u0000")}`;
        if (via && reportedRefs.has(refKey)) continue;
        reportedRefs.add(refKey);
        diags.push(
          err(
            key === "image" ? "unknown-image" : "unknown-disk-layout",
            `node "${raw.name}" uses unknown ${what} "${String(got.value)}"${via}`,
            posOf(got.level.where, key),
          ),
        );
      }
    }
    if (broken) continue;

    // Addresses
    if (raw.ip === undefined) {
      if (!incomplete(raw)) diags.push(err("missing-ip", `node "${raw.name}" has no "ip"`, namePos));
      continue;
    }
    const ip0 = ipToInt(raw.ip)!;
    const bmcMerged = mergeMaps<RawBmc>(levels, "bmc");
    const exclude = mergeMaps<RawExclude>(levels, "exclude");
    const bmcAddr0 = bmcMerged?.value.address !== undefined ? ipToInt(bmcMerged.value.address) : undefined;
    const driver = bmcMerged?.value.driver ?? "ipmi";
    if (bmcMerged && driver === "ipmi" && bmcAddr0 === undefined) {
      const lvl = [...bmcMerged.sources.values()].pop()!;
      const key = `${lvl.where.src.path}:${lvl.where.path.join(".")}`;
      if (lvl.where === w || !warnedNoAddress.has(key)) {
        warnedNoAddress.add(key);
        diags.push(warn("bmc-without-address", `node "${raw.name}" has BMC settings but no bmc.address: it will have to be power-cycled by hand`, namePos));
      }
    }
    const pwLevel = bmcMerged?.sources.get("password");
    if (pwLevel && typeof bmcMerged!.value.password === "string") {
      const key = `${pwLevel.where.src.path}:${pwLevel.where.path.join(".")}`;
      if (!warnedInline.has(key)) {
        warnedInline.add(key);
        diags.push(
          warn("inline-secret", "BMC password written inline: use {env: NAME} or {file: PATH} so it stays out of version control", posOf(pwLevel.where, "bmc", "password")),
        );
      }
    }
    const installMode = pick(levels, "installMode")?.value ?? "auto";
    const boot = pick(levels, "boot")?.value ?? "pxe";
    const kernelArgs = pick(levels, "kernelArgs")?.value ?? [];
    const protect = pick(levels, "protect")?.value ?? false;
    const img = out.images.get(image!.value!)!;
    for (let i = 0; i < names.length; i++) {
      const name = names[i]!;
      let bmc: BmcSettings | undefined;
      if (bmcMerged && (driver === "manual" || bmcAddr0 !== undefined)) {
        const b = bmcMerged.value;
        bmc = {
          driver,
          ...(bmcAddr0 !== undefined ? { address: intToIp((bmcAddr0 + i) >>> 0) } : {}),
          ...(b.netmask ? { netmask: b.netmask } : {}),
          ...(b.gateway ? { gateway: b.gateway } : {}),
          ...(b.user ? { user: b.user } : {}),
          ...(b.password !== undefined ? { password: secretRef(b.password, pwLevel!, name) } : {}),
          port: b.port ?? 623,
        };
      }
      const ipN = ip0 + i;
      const node: Node = {
        name,
        category: raw.category ?? "",
        mac: macs[i]!,
        ip: ipN > 0xffffffff ? "255.255.255.255" : intToIp(ipN >>> 0),
        hostname: out.network?.domain ? `${name}.${out.network.domain}` : name,
        image: image!.value!,
        diskLayout: layout!.value!,
        installMode,
        boot,
        kernelArgs,
        excludeSync: exclude?.value.sync ?? img.excludeSync,
        excludeFull: exclude?.value.full ?? img.excludeFull,
        ...(bmc ? { bmc } : {}),
        protect,
        pos: namePos,
      };
      out.nodes.push(node);
      out.origins.push({ where: w, index: i, isRange: range });
    }
  }
  return out;
}
