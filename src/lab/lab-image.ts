// Which software image a lab's cluster installs: the small busybox image built here
// (the default: fast), or Debian 12 from a recipe (`lab up --image debian`), built once
// with mmdebstrap into the shared recipe cache and installed with its own kernel and
// initrd (/boot/vmlinuz-*, /boot/initrd.img-*).
import { join } from "node:path";
import { buildRecipe } from "../images/recipe-build.js";
import { DEBIAN_LAB_RECIPE, defaultRecipeCache, type Recipe } from "../images/recipe.js";
import type { Logger } from "../util/log.js";
import { buildLabImage } from "./image.js";
import type { LabKernel } from "./kernel.js";

export type LabImageKind = "busybox" | "debian";
export const LAB_IMAGE_KINDS: readonly LabImageKind[] = ["busybox", "debian"];

/** The image as the lab's cluster configuration names it. */
export interface LabClusterImage {
  /** Image name in cluster.yaml. */
  name: string;
  root: string;
  kernel: string;
  initrd: string;
  /** Set for recipe images: the configuration declares the recipe itself. */
  recipe?: Recipe;
}

export interface PrepareLabImageOptions {
  kind: LabImageKind;
  labDir: string;
  kernel: LabKernel;
  /** Recipe cache (default: the shared one, $METALFORM_RECIPE_CACHE or ~/.cache/metalform/recipes). */
  recipeCache?: string;
  logger: Logger;
}

export async function prepareLabImage(o: PrepareLabImageOptions): Promise<LabClusterImage> {
  if (o.kind === "debian") {
    const b = await buildRecipe(DEBIAN_LAB_RECIPE, { cacheDir: o.recipeCache ?? defaultRecipeCache(), logger: o.logger, label: "debian" });
    if (!b.boot.initrd) throw new Error(`the Debian recipe build ${b.root} has a kernel but no /boot/initrd.img-${b.boot.version ?? "*"}`);
    o.logger.info("image.ready", { image: "debian", root: b.root, kernel: b.boot.kernel, cached: b.cached, ms: b.ms });
    return { name: "debian", root: b.root, kernel: join(b.root, b.boot.kernel), initrd: join(b.root, b.boot.initrd), recipe: DEBIAN_LAB_RECIPE };
  }
  const image = await buildLabImage({ root: join(o.labDir, "image"), kernel: o.kernel });
  o.logger.info("image.ready", { root: image.root, kernel: o.kernel.version });
  return { name: "lab", root: image.root, kernel: image.kernel, initrd: image.initrd };
}
