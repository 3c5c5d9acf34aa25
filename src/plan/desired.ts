// What the configuration wants applied to one node, in the same shape the state
// records, so that the diff is a comparison of like with like.
import type { DesiredCluster, DiskLayout, Node } from "../config/types.js";
import { nodeValues, renderNodeFiles, scriptEnv, TemplateError } from "../boot/node-files.js";
import type { AppliedBmc, AppliedNode, AppliedScripts } from "../state/types.js";
import { createHash } from "node:crypto";
import { layoutIdentity } from "./layout.js";

export interface ImageDigest {
  digest: string;
  size: number;
  /** The configuration pins this snapshot (a change to it is a rollback). */
  pinned?: boolean;
  /** When the snapshot was made. */
  createdAt?: string;
}

export class PlanError extends Error {
  constructor(
    readonly code: "protected-wipe" | "missing-image-digest" | "unknown-reference" | "bad-target" | "template-error",
    message: string,
    readonly nodes: string[] = [],
  ) {
    super(message);
    this.name = "PlanError";
  }
}

const unique = (xs: readonly string[]) => [...new Set(xs)];

/** Per-layout digest and text by layout name, computed once per layout rather than once per node. */
export class LayoutIndex {
  constructor(private readonly layouts: ReadonlyMap<string, DiskLayout>) {}
  get(name: string): { digest: string; text: string } | undefined {
    const l = this.layouts.get(name);
    return l ? layoutIdentity(l) : undefined;
  }
}

function appliedBmc(node: Node): AppliedBmc | undefined {
  const b = node.bmc;
  if (!b) return undefined;
  const out: AppliedBmc = { driver: b.driver, port: b.port };
  if (b.address !== undefined) out.address = b.address;
  if (b.netmask !== undefined) out.netmask = b.netmask;
  if (b.gateway !== undefined) out.gateway = b.gateway;
  if (b.vlan !== undefined) out.vlan = b.vlan;
  if (b.channel !== undefined) out.channel = b.channel;
  if (b.userId !== undefined) out.userId = b.userId;
  if (b.privilege !== undefined) out.privilege = b.privilege;
  if (b.user !== undefined) out.user = b.user;
  // Only the reference is copied: the model never holds a secret's value.
  if (b.password !== undefined) out.password = { ...b.password };
  return out;
}

/**
 * The attributes `node` should have. Kernel arguments and exclude lists are the
 * image's followed by the node's (exact duplicates dropped), which is what the boot
 * script and the installer use.
 */
export function desiredApplied(node: Node, cluster: DesiredCluster, digests: ReadonlyMap<string, ImageDigest>, layouts: LayoutIndex): AppliedNode {
  const image = cluster.images.get(node.image);
  if (!image) throw new PlanError("unknown-reference", `node ${node.name}: image "${node.image}" is not defined`, [node.name]);
  const digest = digests.get(node.image);
  if (!digest) throw new PlanError("missing-image-digest", `no content digest was computed for image "${node.image}"`, [node.name]);
  const layout = layouts.get(node.diskLayout);
  if (!layout) {
    throw new PlanError("unknown-reference", `node ${node.name}: disk layout "${node.diskLayout}" is not defined`, [node.name]);
  }
  const a: AppliedNode = {
    image: { name: node.image, digest: digest.digest },
    diskLayout: { name: node.diskLayout, digest: layout.digest },
    network: { ip: node.ip, mac: node.mac, hostname: node.hostname, ...(node.interfaces?.length ? { interfaces: node.interfaces } : {}) },
    boot: node.boot,
    installMode: node.installMode,
    kernelArgs: unique([...image.kernelArgs, ...node.kernelArgs]),
    excludeSync: unique([...image.excludeSync, ...node.excludeSync]),
    excludeFull: unique([...image.excludeFull, ...node.excludeFull]),
  };
  const bmc = appliedBmc(node);
  if (bmc) a.bmc = bmc;
  // BIOS is the default and stays implicit: plans and states of BIOS nodes look as before.
  if (node.firmware.mode !== "bios" || node.firmware.secureBoot) a.firmware = { mode: node.firmware.mode, secureBoot: node.firmware.secureBoot };
  const files = desiredFiles(node, cluster);
  if (files.length) a.files = files;
  const scripts = scriptDigests(node, cluster);
  if (scripts) a.scripts = scripts;
  return a;
}

/** The node's rendered files as path and digest; a template error is a plan error naming file, line and node. */
function desiredFiles(node: Node, cluster: DesiredCluster): NonNullable<AppliedNode["files"]> {
  try {
    return renderNodeFiles(node, cluster.network).map((f) => ({ path: f.path, digest: f.digest }));
  } catch (e) {
    if (e instanceof TemplateError) throw new PlanError("template-error", e.message, [node.name]);
    throw e;
  }
}

/** Digests of each script with the environment it runs in: what it does may depend on both. */
function scriptDigests(node: Node, cluster: DesiredCluster): AppliedScripts | undefined {
  if (!node.initialize && !node.finalize) return undefined;
  const env = JSON.stringify(scriptEnv(nodeValues(node, cluster.network)));
  const digest = (text: string) => "sha256:" + createHash("sha256").update(`${text}\0${env}`).digest("hex");
  return { ...(node.initialize ? { initialize: digest(node.initialize.content) } : {}), ...(node.finalize ? { finalize: digest(node.finalize.content) } : {}) };
}
