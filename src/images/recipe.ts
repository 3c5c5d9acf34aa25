// mmdebstrap recipes: an image defined by its Debian suite, variant, packages and
// customize hooks instead of a tree someone built by hand. A recipe's digest (over its
// normalized form) names its build in the recipe cache, so a recipe is built once per
// machine and reused by plan, apply, `metalform image build`, `lab up --image debian`
// and the e2e tests (they share the default cache, see docs/images.md).
import { createHash } from "node:crypto";
import { homedir } from "node:os";
import { join } from "node:path";
import { normalizeRecipe, type Recipe } from "../config/recipe.js";

export { normalizeRecipe, type Recipe } from "../config/recipe.js";

export const RECIPE_VARIANTS = ["extract", "custom", "essential", "apt", "minbase", "buildd", "required", "important", "standard"] as const;

/** Bumped when the way a recipe is turned into a build changes (the same recipe must then build again). */
const RECIPE_FORMAT = 1;

/** "sha256:<hex>" over the normalized recipe. */
export function recipeDigest(r: Recipe): string {
  const n = normalizeRecipe(r);
  const canonical = JSON.stringify([RECIPE_FORMAT, n.suite, n.variant, n.packages, n.customize, n.mirror ?? null, n.architecture ?? null]);
  return "sha256:" + createHash("sha256").update(canonical).digest("hex");
}

/** The mmdebstrap command line that builds `r` into `target` (a directory that does not exist yet). */
export function mmdebstrapArgs(r: Recipe, target: string): string[] {
  const n = normalizeRecipe(r);
  return [
    "--mode=root",
    `--variant=${n.variant}`,
    ...(n.packages.length ? [`--include=${n.packages.join(",")}`] : []),
    ...(n.architecture ? [`--architectures=${n.architecture}`] : []),
    ...n.customize.map((h) => `--customize-hook=${h}`),
    n.suite,
    target,
    ...(n.mirror ? [n.mirror] : []),
  ];
}

/** Where recipe builds are kept: $METALFORM_RECIPE_CACHE, else ~/.cache/metalform/recipes (shared by every configuration on the machine). */
export function defaultRecipeCache(): string {
  return process.env.METALFORM_RECIPE_CACHE || join(process.env.XDG_CACHE_HOME || join(homedir(), ".cache"), "metalform", "recipes");
}

/**
 * The Debian 12 recipe of `lab up --image debian` (FACTS.md: 65–120 s, ~700 MB). GRUB's
 * BIOS and UEFI platform files (the -bin packages coexist; the grub-pc and grub-efi-amd64
 * meta packages conflict), grub2-common (grub-install, update-grub) and efibootmgr let
 * the installer put a boot loader on the node's disk, so it boots without the head.
 * shim-signed and grub-efi-amd64-signed are the signed chain a Secure Boot node's disk
 * gets instead (Microsoft-signed shim, Debian-signed GRUB; their postinst scripts leave
 * a chroot without an ESP alone).
 */
export const DEBIAN_LAB_RECIPE: Recipe = {
  suite: "bookworm",
  variant: "minbase",
  packages: [
    "systemd-sysv",
    "linux-image-amd64",
    "udev",
    "iproute2",
    "openssh-server",
    "ifupdown",
    "isc-dhcp-client",
    "curl",
    "wget",
    "kmod",
    "grub2-common",
    "grub-pc-bin",
    "grub-efi-amd64-bin",
    "efibootmgr",
    "shim-signed",
    "grub-efi-amd64-signed",
  ],
  customize: [],
};
