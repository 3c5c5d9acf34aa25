// The provisioning network and the state backend, resolved: derived addresses and
// default ports filled in; a backend's fields checked against its type.
import { errorAt, type Diagnostic } from "./diagnostics.js";
import { intToIp, parseCidr, prefixToMask, subnetOf } from "./ip.js";
import { absPath, keyPosOf, posOf, type Located, type RawBackend, type RawNetwork } from "./merge.js";
import type { Network, SecretRef, StateBackendConfig } from "./types.js";

export function resolveNetwork(l: Located<RawNetwork>, diags: Diagnostic[]): Network | undefined {
  const n = l.value;
  const cidr = parseCidr(n.address);
  if (!cidr) {
    diags.push(errorAt("invalid-address", `network.address "${n.address}" must be an IPv4 address with a prefix length, e.g. 10.141.255.254/16`, posOf(l.where, "address")));
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
    ...(n.discovery?.enabled ? { discovery: { ...(n.discovery.image ? { image: n.discovery.image } : {}), then: n.discovery.then ?? "poweroff" } } : {}),
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
export function resolveBackend(l: Located<RawBackend>, diags: Diagnostic[]): StateBackendConfig | undefined {
  const b = l.value;
  if (b.type !== "local" && b.type !== "postgres") return undefined; // the schema reported it
  const misplaced = misplacedFields(l, diags);
  if (b.type === "local") return misplaced ? undefined : { type: "local", ...(b.path ? { path: absPath(l.where, b.path) } : {}), pos: keyPosOf(l.where) };
  return resolvePostgres(l, { misplaced, diags });
}

/** Reports the fields that belong to the other backend type; true when there was one. */
function misplacedFields(l: Located<RawBackend>, diags: Diagnostic[]): boolean {
  const b = l.value;
  const foreign = b.type === "local" ? (["url", "name", "keepVersions"] as const) : (["path"] as const);
  let found = false;
  for (const field of foreign) {
    if (b[field] === undefined) continue;
    diags.push(errorAt("invalid-backend", `backend field "${field}" does not apply to a ${b.type} backend`, keyPosOf(l.where, field)));
    found = true;
  }
  return found;
}

/** `misplaced`: a field of the local type was reported; the backend is unusable, but its URL is still checked. */
function resolvePostgres(l: Located<RawBackend>, ctx: { misplaced: boolean; diags: Diagnostic[] }): StateBackendConfig | undefined {
  const { misplaced, diags } = ctx;
  const b = l.value;
  if (b.url === undefined) {
    diags.push(errorAt("missing-field", `a postgres backend needs "url": {env: NAME} or {file: PATH} holding postgres://USER:PASSWORD@HOST:PORT/DATABASE`, keyPosOf(l.where)));
    return undefined;
  }
  if (typeof b.url === "string") {
    // Not even the value goes into the message: it may hold the password.
    diags.push(
      errorAt("inline-secret", `backend.url must be {env: NAME} or {file: PATH}: a URL written inline would put the database password in version control`, posOf(l.where, "url")),
    );
    return undefined;
  }
  if (misplaced) return undefined;
  const url: SecretRef = "env" in b.url ? { kind: "env", name: b.url.env } : { kind: "file", path: absPath(l.where, b.url.file) };
  return { type: "postgres", url, ...(b.name ? { name: b.name } : {}), ...(b.keepVersions !== undefined ? { keepVersions: b.keepVersions } : {}), pos: keyPosOf(l.where) };
}

/**
 * Discovery's image (the first image when none is named) and what discovery needs: a
 * dynamic range in authoritative mode (an unknown MAC needs an address), an image to boot.
 */
export function resolveDiscovery(l: Located<RawNetwork>, network: Network, images: readonly string[], diags: Diagnostic[]): void {
  const d = network.discovery;
  if (!d) return;
  if (network.dhcp.mode === "authoritative" && !network.dhcp.dynamicRange) {
    diags.push(
      errorAt(
        "discovery-needs-dynamic-range",
        "network.discovery.enabled needs network.dhcp.dynamicRange in authoritative mode: an unknown host gets its address from it",
        posOf(l.where, "discovery", "enabled"),
      ),
    );
  }
  if (d.image !== undefined && !images.includes(d.image)) {
    diags.push(errorAt("unknown-image", `network.discovery.image "${d.image}" is not defined under images`, posOf(l.where, "discovery", "image")));
  }
  if (d.image === undefined && images[0] !== undefined) d.image = images[0];
  if (d.image === undefined)
    diags.push(errorAt("discovery-without-image", "network.discovery.enabled needs an image to boot; none is defined", posOf(l.where, "discovery", "enabled")));
}
