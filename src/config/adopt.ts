// `metalform discover adopt`: a discovered host becomes a node of the configuration.
// Which file gets it (the one `--write` names; else the file holding most nodes of its
// category, so a configuration split by rack or role keeps its shape; else the file
// holding most nodes; else the one with `network:`), the address it gets (the next
// free one after its category's, outside the dynamic range), and the YAML edit itself
// through the yaml library's Document API, so comments, order and style stay.
// Pure: text in, text out; the CLI reads, writes and validates.
import { isMap, isSeq, parseDocument, Scalar, type YAMLMap } from "yaml";
import type { DesiredCluster } from "./types.js";
import { intToIp, ipToInt } from "./ip.js";

export class AdoptError extends Error {
  override name = "AdoptError";
}

export interface AdoptEntry {
  name: string;
  mac: string;
  ip: string;
  category?: string;
  bmcAddress?: string;
}

const NAME_RE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/;

/** Refuses a name or MAC the configuration already has, and a malformed name or category. */
export function checkAdoptable(cluster: DesiredCluster, e: Pick<AdoptEntry, "name" | "mac" | "category">): void {
  if (!NAME_RE.test(e.name)) throw new AdoptError(`--name ${JSON.stringify(e.name)}: a node name is letters, digits, '.', '_' and '-', starting with a letter or digit`);
  const byName = cluster.nodes.find((n) => n.name === e.name);
  if (byName) throw new AdoptError(`node ${e.name} is already in the configuration (${byName.pos.file}:${byName.pos.line})`);
  const byMac = cluster.nodes.find((n) => n.mac === e.mac);
  if (byMac) throw new AdoptError(`MAC ${e.mac} already belongs to node ${byMac.name} (${byMac.pos.file}:${byMac.pos.line})`);
  if (e.category !== undefined && !cluster.categories.has(e.category)) {
    throw new AdoptError(`--category ${e.category}: no such category (defined: ${[...cluster.categories.keys()].join(", ") || "none"})`);
  }
}

function mostCommon(files: string[]): string | undefined {
  const counts = new Map<string, number>();
  for (const f of files) counts.set(f, (counts.get(f) ?? 0) + 1);
  return [...counts].sort((a, b) => b[1] - a[1])[0]?.[0];
}

/** The file the new node goes into (see the header). */
export function adoptFile(cluster: DesiredCluster, opts: { category?: string; write?: string }): string {
  if (opts.write) return opts.write;
  const inCategory = opts.category === undefined ? [] : cluster.nodes.filter((n) => n.category === opts.category).map((n) => n.pos.file);
  const chosen = mostCommon(inCategory) ?? mostCommon(cluster.nodes.map((n) => n.pos.file));
  return chosen ?? cluster.files[0]!;
}

/** The next free address after the category's nodes (or all nodes, or the head), inside the subnet and outside the dynamic range. */
export function nextFreeIp(cluster: DesiredCluster, category?: string): string {
  const net = cluster.network;
  const used = new Set(cluster.nodes.map((n) => ipToInt(n.ip)!));
  used.add(ipToInt(net.address)!);
  if (net.gateway) used.add(ipToInt(net.gateway)!);
  const dr = net.dhcp.dynamicRange;
  const inRange = (v: number) => dr !== undefined && v >= ipToInt(dr.start)! && v <= ipToInt(dr.end)!;
  const first = ipToInt(net.networkAddress)! + 1;
  const last = ipToInt(net.broadcast)! - 1;
  const peers = cluster.nodes.filter((n) => category === undefined || n.category === category).map((n) => ipToInt(n.ip)!);
  const start = peers.length ? Math.max(...peers) + 1 : first;
  for (const from of [start, first]) {
    for (let v = from; v <= last; v++) if (!used.has(v) && !inRange(v)) return intToIp(v);
  }
  throw new AdoptError(`no free address left on ${net.networkAddress}/${net.prefix} outside the dynamic range; give one with --ip`);
}

/** The file's text with the node appended to its `nodes:` list (made when missing); comments and order kept. */
export function addNodeToYaml(text: string, e: AdoptEntry, file: string): string {
  const doc = parseDocument(text, { keepSourceTokens: false });
  if (doc.errors.length) throw new AdoptError(`${file}: not valid YAML (${doc.errors[0]!.message}); nothing written`);
  if (doc.contents !== null && !isMap(doc.contents)) throw new AdoptError(`${file}: the top level is not a mapping; nothing written`);
  const entry: Record<string, unknown> = { name: e.name, ...(e.category ? { category: e.category } : {}), mac: e.mac, ip: e.ip };
  const node = doc.createNode(entry) as YAMLMap;
  // Quoted as the examples do: a YAML 1.1 reader would take 52:54:00 for a number.
  const mac = node.get("mac", true) as Scalar;
  mac.type = Scalar.QUOTE_DOUBLE;
  if (e.bmcAddress) {
    const bmc = doc.createNode({ address: e.bmcAddress }) as YAMLMap;
    bmc.flow = true;
    node.set("bmc", bmc);
  }
  node.commentBefore = ` adopted by \`metalform discover adopt\` (discovered as ${e.mac})`;
  const nodes = doc.get("nodes", true);
  if (nodes === undefined || nodes === null) doc.set("nodes", doc.createNode([node]));
  else if (isSeq(nodes)) nodes.add(node);
  else throw new AdoptError(`${file}: nodes is not a list; nothing written`);
  return doc.toString({ lineWidth: 0 });
}
