// What the head's services hand one node, given what it boots next: its iPXE script
// (installer, local disk, or the image's kernel for diskless-style `boot: pxe` nodes)
// and its install plan. Pure apart from the installer lookup: the caller passes
// the configuration, its own URLs and the node credential the plan carries. The
// script carries no secret (it is public).
import { basename } from "node:path";
import { renderInstallPlan } from "../boot/install-plan.js";
import { renderIpxeInstaller, renderIpxeLocal, renderIpxeNetboot } from "../boot/ipxe.js";
import type { InstallPlan } from "../boot/plan-types.js";
import type { DesiredCluster, Image, Node } from "../config/types.js";
import { filePath } from "../services/http/server.js";
import { nodeApiUrl } from "../services/installer-api/api.js";
import type { BootMode } from "./boot-control.js";
import { imageModuleName } from "./image-modules.js";

/** What the services know when they answer a node. */
export interface ServingContext {
  cluster: DesiredCluster;
  /** http://ADDRESS:PORT of this head's HTTP server. */
  httpBase: string;
  /** The address nodes reach the rsync daemon at. */
  address: string;
  imageDigests: ReadonlyMap<string, { digest: string }>;
  /** The installer initramfs for an image, if one was built. */
  installerFor: (image: Image) => string | undefined;
  /** Said when a node would install but no installer exists for its image. */
  noInstaller: (node: Node, image: Image) => void;
}

export class NodeBootError extends Error {}

/** HTTP roots: each image's kernel, initrd and installer directory. */
export const kernelRoot = (image: string) => `kernel-${image}`;
export const initrdRoot = (image: string) => `initrd-${image}`;
export const installerRoot = (image: string) => `installer-${image}`;

/** The iPXE script for a node booting in `mode`. */
export function bootScript(ctx: ServingContext, node: Node, mode: BootMode): string {
  const image = ctx.cluster.images.get(node.image)!;
  if (mode.mode === "local") return localScript(ctx, node, image);
  const installer = ctx.installerFor(image);
  if (!installer) {
    ctx.noInstaller(node, image);
    return renderIpxeLocal(node);
  }
  return renderIpxeInstaller({
    node,
    image,
    kernelUrl: ctx.httpBase + filePath(kernelRoot(image.name), basename(image.kernel)),
    initrdUrl: ctx.httpBase + filePath(installerRoot(image.name), basename(installer)),
    apiUrl: nodeApiUrl(ctx.httpBase, node.name),
    reason: mode.reason,
  });
}

/**
 * Nothing to install: `boot: pxe` nodes with an image initrd boot the image's kernel
 * from here with their installed root; everyone else leaves iPXE for the local disk.
 */
function localScript(ctx: ServingContext, node: Node, image: Image): string {
  if (node.boot !== "pxe" || !image.initrd) return renderIpxeLocal(node);
  const root = rootLabel(ctx, node);
  if (!root) return renderIpxeLocal(node);
  return renderIpxeNetboot({
    node,
    image,
    kernelUrl: ctx.httpBase + filePath(kernelRoot(image.name), basename(image.kernel)),
    initrdUrl: ctx.httpBase + filePath(initrdRoot(image.name), basename(image.initrd)),
    rootLabel: root,
  });
}

/** The label the installer gives the node's root file system (it is in the install plan). */
export function rootLabel(ctx: ServingContext, node: Node): string | undefined {
  try {
    return installPlanFor(ctx, node, { allowWipe: false, nodeCredential: "" }).filesystems.find((f) => f.mount === "/")?.label;
  } catch {
    return undefined;
  }
}

/** The node's install plan, carrying its node credential (throws when its image has no digest yet). */
export function installPlanFor(ctx: ServingContext, node: Node, opts: { allowWipe: boolean; nodeCredential: string }): InstallPlan {
  const image = ctx.cluster.images.get(node.image)!;
  const digest = ctx.imageDigests.get(image.name)?.digest;
  if (!digest) throw new NodeBootError(`image ${image.name} has no digest`);
  return renderInstallPlan({
    node,
    layout: ctx.cluster.diskLayouts.get(node.diskLayout)!,
    image,
    network: ctx.cluster.network,
    imageDigest: digest,
    rsyncUrl: `rsync://${ctx.address}:${ctx.cluster.network.ports.rsync}/${imageModuleName(image.name)}/`,
    apiUrl: nodeApiUrl(ctx.httpBase, node.name),
    nodeCredential: opts.nodeCredential,
    allowWipe: opts.allowWipe,
  });
}
