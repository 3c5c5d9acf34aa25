// The images an apply boots nodes into, and the installer initramfs built for each
// (the installer runs on the image's own kernel, so its modules come from the image).
import type { DesiredCluster } from "../config/types.js";
import { buildImageInstaller } from "../installer/for-image.js";
import type { Plan } from "../plan/types.js";
import type { Logger } from "../util/log.js";

/** The images of the nodes this plan boots into the installer (removes and updates boot nothing). */
export function imagesToBoot(plan: Plan, cluster: DesiredCluster): Set<string> {
  const imageOf = new Map(cluster.nodes.map((n) => [n.name, n.image]));
  return new Set(plan.nodeChanges.filter((c) => c.kind !== "remove" && c.kind !== "update").flatMap((c) => imageOf.get(c.node) ?? []));
}

/** Image name → path of its installer, for every image the plan boots. */
export async function buildInstallers(plan: Plan, cluster: DesiredCluster, opts: { cacheDir: string; log: Logger }): Promise<Map<string, string>> {
  const installers = new Map<string, string>();
  const needed = imagesToBoot(plan, cluster);
  for (const img of cluster.images.values()) {
    if (!needed.has(img.name)) continue;
    const built = await buildImageInstaller(img, opts.cacheDir, opts.log.child("installer"));
    opts.log.info("installer-ready", { image: img.name, path: built.path, bytes: built.bytes, cached: built.cached, missingModules: built.missingModules });
    installers.set(img.name, built.path);
  }
  return installers;
}
