// A real Debian 12 root for tests and benchmarks: the lab's Debian recipe (src/images,
// DEBIAN_LAB_RECIPE: FACTS.md's measured package list), optionally with more packages,
// built by the product's own recipe builder into the shared recipe cache
// ($METALFORM_RECIPE_CACHE or ~/.cache/metalform/recipes) — once per machine and recipe
// (mmdebstrap: minutes, ~700 MB), then taken from the cache by every test and `plan`.
import { join } from "node:path";
import { readdirSync, statSync } from "node:fs";
import { buildRecipe } from "../../src/images/recipe-build.js";
import { DEBIAN_LAB_RECIPE, defaultRecipeCache, normalizeRecipe, recipeDigest, type Recipe } from "../../src/images/recipe.js";

export type DebianRecipe = Recipe;

/** What a node needs to boot, be reached and report UP. */
export const DEBIAN_NODE_RECIPE: Recipe = DEBIAN_LAB_RECIPE;

/** The same recipe with packages added (a recipe change: the plan shows a sync). */
export function withPackages(r: Recipe, ...packages: string[]): Recipe {
  return normalizeRecipe({ ...r, packages: [...r.packages, ...packages] });
}

export interface DebianRoot {
  recipe: Recipe;
  recipeDigest: string;
  /** The root tree (a directory in the recipe cache). */
  root: string;
  /** The root's own kernel and initramfs-tools initrd (real files under root/boot). */
  kernel: string;
  initrd: string;
  kernelVersion: string;
  /** True when this call built it (false: from the cache). */
  built: boolean;
  seconds: number;
}

/** The recipe's root, built now unless the cache has it. Fails (never skips) without mmdebstrap. */
export async function debianRoot(recipe: Recipe = DEBIAN_NODE_RECIPE): Promise<DebianRoot> {
  const b = await buildRecipe(recipe, { cacheDir: defaultRecipeCache(), label: "debian" });
  if (!b.boot.initrd) throw new Error(`${b.root}: the recipe's root has a kernel but no initrd`);
  return {
    recipe,
    recipeDigest: recipeDigest(recipe),
    root: b.root,
    kernel: join(b.root, b.boot.kernel),
    initrd: join(b.root, b.boot.initrd),
    kernelVersion: b.boot.version ?? "",
    built: !b.cached,
    seconds: b.ms / 1000,
  };
}

/** Bytes of regular files in a tree (what a full sync moves, before rsync's protocol). */
export function treeBytes(dir: string): number {
  let total = 0;
  const walk = (d: string) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.isFile()) total += statSync(p).size;
    }
  };
  walk(dir);
  return total;
}
