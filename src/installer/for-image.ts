// The installer for an image: it runs on the image's own kernel, so its modules come
// from the image's /lib/modules (when the image has exactly one kernel there).
import { existsSync, readdirSync } from "node:fs";
import { join } from "node:path";
import type { Image } from "../config/types.js";
import type { Logger } from "../util/log.js";
import { buildInstaller, type BuildInstallerResult } from "./build.js";

export function imageKernelTree(image: Image): string | undefined {
  const dir = join(image.root, "lib/modules");
  return existsSync(dir) && readdirSync(dir).length === 1 ? image.root : undefined;
}

export async function buildImageInstaller(image: Image, cacheDir: string, logger?: Logger): Promise<BuildInstallerResult> {
  const kernelTree = imageKernelTree(image);
  if (!kernelTree) logger?.warn("image-without-modules", { image: image.name, note: "the installer ships no kernel modules: the kernel must have its drivers built in" });
  return buildInstaller({ outDir: join(cacheDir, "installer"), ...(kernelTree ? { kernelTree } : {}), ...(logger ? { logger } : {}) });
}
