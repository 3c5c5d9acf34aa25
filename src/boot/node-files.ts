// A node's own files, rendered from its `files:` folder (pure: the folder as config read
// it, and the node's values, in; files with modes and digests out). Templates are
// LiquidJS: made for templates written by people other than the program's authors —
// no JavaScript in a template, only the values handed in (own properties only), strict
// about unknown variables and filters, errors with line and column, parsed once per
// folder. The values are the node's settings and `vars`: never a secret (the BMC
// password is a reference the templates cannot reach).
import { createHash } from "node:crypto";
import { Liquid, LiquidError } from "liquidjs";
import type { FileFolder, FileSource, Network, Node, NodeVars } from "../config/types.js";
import type { PlanFile } from "./plan-types.js";

/** A template failed for one node: which file, where in it, which node. */
export class TemplateError extends Error {
  constructor(
    readonly node: string,
    readonly file: string,
    readonly line: number,
    readonly col: number,
    readonly reason: string,
  ) {
    super(`${file}:${line}:${col}: template error for node ${node}: ${reason}`);
    this.name = "TemplateError";
  }
}

/** One rendered file: what the installer writes, and the digest the state remembers. */
export interface RenderedFile extends PlanFile {
  /** sha256 over mode and content: a change of either is a change of the file. */
  digest: string;
}

/** The values a template sees (`node.ip`, `vars.rack`, `head.address`) and a script gets as MF_* variables. */
export interface NodeValues {
  node: {
    name: string;
    hostname: string;
    ip: string;
    mac: string;
    category: string;
    image: string;
    prefix: number;
    netmask: string;
    gateway: string;
    dns: string[];
    domain: string;
  };
  vars: NodeVars;
  head: { address: string };
}

export function nodeValues(node: Node, network: Network): NodeValues {
  const { name, hostname, ip, mac, category, image } = node;
  const net = { prefix: network.prefix, netmask: network.netmask, gateway: network.gateway ?? "", dns: [...network.dns], domain: network.domain ?? "" };
  return { node: { name, hostname, ip, mac, category, image, ...net }, vars: { ...node.vars }, head: { address: network.address } };
}

/** One engine per folder: its files are the only templates an `{% include %}` or `{% render %}` can reach. */
const engines = new WeakMap<FileFolder, Liquid>();

function engineFor(folder: FileFolder): Liquid {
  let e = engines.get(folder);
  if (!e) {
    const templates = Object.fromEntries(folder.entries.map((f) => [f.name, f.content]));
    e = new Liquid({ templates, strictVariables: true, strictFilters: true, ownPropertyOnly: true, cache: true, parseLimit: 1 << 20, memoryLimit: 64 << 20 });
    engines.set(folder, e);
  }
  return e;
}

export function fileDigest(mode: string, content: string): string {
  return "sha256:" + createHash("sha256").update(`${mode}\0${content}`).digest("hex");
}

/** The node's files in path order; throws TemplateError naming the file, line and node. */
export function renderNodeFiles(node: Node, network: Network): RenderedFile[] {
  const folder = node.files;
  if (!folder) return [];
  const values = nodeValues(node, network);
  return folder.entries.map((f) => {
    if (!f.template) return { path: f.path, mode: f.mode, content: f.content, digest: plainDigest(f) };
    const content = renderOne(engineFor(folder), { folder, name: f.name, node: node.name }, values);
    return { path: f.path, mode: f.mode, content, digest: fileDigest(f.mode, content) };
  });
}

/** A plain file is the same for every node: its digest is computed once. */
const plainDigests = new WeakMap<FileSource, string>();

function plainDigest(f: FileSource): string {
  let d = plainDigests.get(f);
  if (d === undefined) plainDigests.set(f, (d = fileDigest(f.mode, f.content)));
  return d;
}

function renderOne(engine: Liquid, at: { folder: FileFolder; name: string; node: string }, values: NodeValues): string {
  try {
    return engine.renderFileSync(at.name, values) as string;
  } catch (e) {
    if (!(e instanceof LiquidError)) throw new TemplateError(at.node, `${at.folder.dir}/${at.name}`, 1, 1, (e as Error).message);
    const [line = 1, col = 1] = e.token.getPosition();
    // The error's position is in the file it happened in, which an {% include %} may have changed.
    const file = e.token.file ?? at.name;
    const reason = (e.originalError?.message ?? e.message).replace(/(, file:[^,]*)?, line:\d+, col:\d+$/, "");
    throw new TemplateError(at.node, `${at.folder.dir}/${file}`, line, col, reason);
  }
}

/** Path → digest of every file, for the plan and the state. */
export function fileDigests(files: readonly RenderedFile[]): Record<string, string> {
  return Object.fromEntries(files.map((f) => [f.path, f.digest]));
}

/** The node's values as a script's environment: MF_NODE, MF_HOSTNAME, MF_IP, MF_MAC, MF_CATEGORY, MF_IMAGE, MF_HEAD, MF_VAR_<NAME>. */
export function scriptEnv(values: NodeValues): Array<{ name: string; value: string }> {
  const n = values.node;
  const env = [
    { name: "MF_NODE", value: n.name },
    { name: "MF_HOSTNAME", value: n.hostname },
    { name: "MF_IP", value: n.ip },
    { name: "MF_MAC", value: n.mac },
    { name: "MF_CATEGORY", value: n.category },
    { name: "MF_IMAGE", value: n.image },
    { name: "MF_HEAD", value: values.head.address },
  ];
  for (const [k, v] of Object.entries(values.vars).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) env.push({ name: `MF_VAR_${k}`, value: String(v) });
  return env;
}
