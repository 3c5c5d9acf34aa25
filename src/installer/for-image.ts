// The installer for an image: it runs on the image's own kernel, so its modules (and
// the firmware they name) come from the image's /lib/modules/<version> — the version
// the image's kernel file says it is, when the image holds several kernels.
import { existsSync } from "node:fs";
import { join } from "node:path";
import type { Image } from "../config/types.js";
import type { Logger } from "../util/log.js";
import { buildInstaller, type BuildInstallerResult } from "./build.js";
import { chooseKernelVersion } from "./kernel-version.js";

export interface ImageKernel {
  tree: string;
  version: string;
}

/** The image's module tree for its kernel, or a reason there is none. */
export function imageKernel(image: Image): ImageKernel | { error: string } {
  if (!existsSync(join(image.root, "lib/modules"))) return { error: `${image.root} has no lib/modules` };
  const choice = chooseKernelVersion(image.root, image.kernel);
  return "error" in choice ? choice : { tree: image.root, version: choice.version };
}

export function imageKernelTree(image: Image): string | undefined {
  const k = imageKernel(image);
  return "error" in k ? undefined : k.tree;
}

export async function buildImageInstaller(image: Image, cacheDir: string, logger?: Logger): Promise<BuildInstallerResult> {
  const k = imageKernel(image);
  if ("error" in k)
    logger?.warn("image-without-modules", { image: image.name, reason: k.error, note: "the installer ships no kernel modules: the kernel must have its drivers built in" });
  const kernel = "error" in k ? {} : { kernelTree: k.tree, kernelVersion: k.version };
  return buildInstaller({ outDir: join(cacheDir, "installer"), ...kernel, ...(logger ? { logger } : {}) });
}
