// The shape of an mmdebstrap recipe as the configuration declares it, normalized so
// that two spellings of one recipe (packages in another order, repeated) are one
// recipe. Building it is images/recipe-build.ts; its digest is images/recipe.ts.

export interface Recipe {
  /** Debian suite or codename, e.g. "bookworm". */
  suite: string;
  /** mmdebstrap variant: minbase, essential, apt, required, important, standard. */
  variant: string;
  /** Packages installed on top of the variant (sorted, without duplicates). */
  packages: string[];
  /** Shell commands run at the end of the build with "$1" the new root (mmdebstrap --customize-hook). */
  customize: string[];
  /** An apt mirror URL; absent: mmdebstrap's default (this machine's reachable Debian mirror). */
  mirror?: string;
  /** Debian architecture; absent: the host's. */
  architecture?: string;
}

/** The recipe with its packages sorted and deduplicated: two spellings of one recipe share a build. */
export function normalizeRecipe(r: Recipe): Recipe {
  return {
    suite: r.suite,
    variant: r.variant,
    packages: [...new Set(r.packages)].sort(),
    customize: [...r.customize],
    ...(r.mirror ? { mirror: r.mirror } : {}),
    ...(r.architecture ? { architecture: r.architecture } : {}),
  };
}
