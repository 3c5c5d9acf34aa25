// The networks nodes have interfaces on besides the provisioning one (`networks:`):
// each declared once with its IPv4 subnet and/or IPv6 prefix, gateways, MTU, DNS and
// routes, so that interfaces only name their network and their own address.
import { errorAt, type Diagnostic } from "./diagnostics.js";
import { bigIntToIp6, inPrefix6, ip6ToBigInt, networkOf6, parseCidr6 } from "./ip6.js";
import { inSubnet, intToIp, ipToInt, isIPv4, parseCidr, subnetOf } from "./ip.js";
import { keyPosOf, posOf, type Located, type RawNodeNetwork, type RawRoute, type Where } from "./merge.js";
import type { NodeNetwork, Route } from "./types.js";

export function resolveNodeNetwork(name: string, l: Located<RawNodeNetwork>, diags: Diagnostic[]): NodeNetwork | undefined {
  const n = l.value;
  const fail = (code: string, message: string, ...field: Array<string | number>) => void diags.push(errorAt(code, `network "${name}": ${message}`, posOf(l.where, ...field)));
  const before = diags.length;
  const subnet = n.subnet !== undefined ? subnet4(n.subnet, (m) => fail("invalid-address", m, "subnet")) : undefined;
  const ipv6 = n.ipv6 !== undefined ? prefix6(n.ipv6, (m) => fail("invalid-address", m, "ipv6")) : undefined;
  if (n.gateway !== undefined && subnet && !inSubnet(ipToInt(n.gateway)!, subnetOf(subnet.address, subnet.prefix)!)) {
    fail("gateway-outside-subnet", `gateway ${n.gateway} is outside ${subnet.address}/${subnet.prefix}`, "gateway");
  }
  if (n.gateway !== undefined && !subnet) fail("missing-field", `a gateway needs the network's IPv4 "subnet"`, "gateway");
  const gateway6 = n.gateway6 !== undefined ? checkGateway6(n.gateway6, ipv6, (m) => fail("invalid-address", m, "gateway6")) : undefined;
  (n.dns ?? []).forEach((d, i) => {
    if (!isIPv4(d) && ip6ToBigInt(d) === undefined) fail("invalid-address", `DNS server "${d}" is neither an IPv4 nor an IPv6 address`, "dns", i);
  });
  const routes = resolveRoutes(n.routes ?? [], { where: l.where, path: ["routes"], what: `network "${name}"`, diags });
  if (diags.length > before) return undefined;
  return {
    name,
    ...(subnet ? { subnet } : {}),
    ...(ipv6 ? { ipv6 } : {}),
    ...(n.gateway ? { gateway: n.gateway } : {}),
    ...(gateway6 ? { gateway6 } : {}),
    ...(n.mtu !== undefined ? { mtu: n.mtu } : {}),
    dns: (n.dns ?? []).map((d) => (isIPv4(d) ? d : bigIntToIp6(ip6ToBigInt(d)!))),
    ...(n.domain ? { domain: n.domain } : {}),
    routes,
    pos: keyPosOf(l.where),
  };
}

/** The subnet's network address and prefix; a host address with a prefix is refused (the subnet is meant). */
function subnet4(text: string, fail: (m: string) => void): NodeNetwork["subnet"] {
  const c = parseCidr(text);
  if (!c) return void fail(`subnet "${text}" must be an IPv4 network with a prefix length, e.g. 10.79.0.0/24`);
  const network = intToIp(subnetOf(c.address, c.prefix)!.network);
  if (network !== c.address) return void fail(`subnet "${text}" has host bits set: the network is ${network}/${c.prefix}`);
  return c;
}

function prefix6(text: string, fail: (m: string) => void): NodeNetwork["ipv6"] {
  const c = parseCidr6(text);
  if (!c) return void fail(`ipv6 "${text}" must be an IPv6 prefix with its length, e.g. fd00:79::/64`);
  if (c.address !== networkOf6(c.address, c.prefix)) {
    return void fail(`ipv6 "${text}" has host bits set after /${c.prefix}`);
  }
  return { address: bigIntToIp6(c.address), prefix: c.prefix };
}

function checkGateway6(text: string, net: NodeNetwork["ipv6"], fail: (m: string) => void): string | undefined {
  const g = ip6ToBigInt(text);
  if (g === undefined) return void fail(`gateway6 "${text}" is not an IPv6 address`);
  // A link-local gateway (fe80::/10) is what router advertisements give: it lies outside any global prefix.
  const linkLocal = g >> 118n === 0x3fan;
  if (net && !linkLocal && !inPrefix6(g, ip6ToBigInt(net.address)!, net.prefix)) return void fail(`gateway6 ${text} is outside ${net.address}/${net.prefix}`);
  return bigIntToIp6(g);
}

/** Routes with both ends in one address family; destinations in canonical text. */
export function resolveRoutes(raw: RawRoute[], at: { where: Where; path: Array<string | number>; what: string; diags: Diagnostic[] }): Route[] {
  const out: Route[] = [];
  raw.forEach((r, i) => {
    const pos = (field: string) => posOf(at.where, ...at.path, i, field);
    const via4 = isIPv4(r.via);
    const via6 = ip6ToBigInt(r.via);
    if (!via4 && via6 === undefined) return void at.diags.push(errorAt("invalid-route", `${at.what}: route via "${r.via}" is not an address`, pos("via")));
    const to = routeDestination(r.to, via4 ? 4 : 6);
    if (!to) return void at.diags.push(errorAt("invalid-route", `${at.what}: route to "${r.to}" is not an IPv${via4 ? 4 : 6} prefix like its next hop ${r.via}`, pos("to")));
    out.push({ to, via: via4 ? r.via : bigIntToIp6(via6!), ...(r.metric !== undefined ? { metric: r.metric } : {}) });
  });
  return out;
}

function routeDestination(to: string, family: 4 | 6): string | undefined {
  if (to === "default") return to;
  if (family === 4) {
    const c = parseCidr(to);
    return c ? `${intToIp(subnetOf(c.address, c.prefix)!.network)}/${c.prefix}` : undefined;
  }
  const c = parseCidr6(to);
  return c ? `${bigIntToIp6(networkOf6(c.address, c.prefix))}/${c.prefix}` : undefined;
}
