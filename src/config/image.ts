// Resolving one image of the configuration: which source it has (a directory or a
// tarball at `root`, an OCI archive or layout at `oci`, an mmdebstrap `recipe`),
// where its kernel and initrd are (beside the configuration for directory roots,
// inside the image for the others), and its snapshot settings (pin, keep).
import type { Diagnostic } from "./diagnostics.js";
import { absPath, keyPosOf, posOf, type Located, type RawImage } from "./merge.js";
import type { Image, ImageSourceSpec } from "./types.js";
import { normalizeRecipe } from "./recipe.js";

const TARBALL = /\.(tar|tar\.gz|tgz|tar\.zst|tar\.xz)$/;

export function rootTypeOf(p: string): "directory" | "tarball" {
  return TARBALL.test(p) ? "tarball" : "directory";
}

const abs = (l: Located<RawImage>, p: string) => absPath(l.where, p);

/** A path inside the image: "/boot/vmlinuz" and "boot/vmlinuz" are the same file. */
function inImage(p: string): string {
  return p.replace(/^\/+/, "");
}

function sourceOf(name: string, l: Located<RawImage>, diags: Diagnostic[]): ImageSourceSpec | undefined {
  const v = l.value;
  const given = (["root", "oci", "recipe"] as const).filter((k) => v[k] !== undefined);
  if (given.length !== 1) {
    const message = given.length
      ? `image "${name}" has ${given.map((k) => `"${k}"`).join(" and ")}: give exactly one source`
      : `image "${name}" has no source: give "root" (a directory or tarball), "oci" (an OCI archive or layout) or "recipe" (mmdebstrap)`;
    diags.push({ severity: "error", code: "image-source", message, ...(given.length ? posOf(l.where, given[1]!) : keyPosOf(l.where)) });
    return undefined;
  }
  if (v.ref !== undefined && v.oci === undefined) {
    diags.push({
      severity: "error",
      code: "image-source",
      message: `image "${name}": "ref" names an image inside an OCI archive or layout; this image has no "oci"`,
      ...keyPosOf(l.where, "ref"),
    });
  }
  if (v.root !== undefined) return { kind: rootTypeOf(v.root), path: abs(l, v.root) };
  if (v.oci !== undefined) return { kind: "oci", path: abs(l, v.oci), ...(v.ref ? { ref: v.ref } : {}) };
  const r = v.recipe!;
  return {
    kind: "recipe",
    recipe: normalizeRecipe({
      suite: r.suite,
      variant: r.variant ?? "minbase",
      packages: r.packages ?? [],
      customize: r.customize ?? [],
      ...(r.mirror ? { mirror: r.mirror } : {}),
      ...(r.architecture ? { architecture: r.architecture } : {}),
    }),
  };
}

/** The image as the model holds it; errors (no source, two sources) go to `diags`. */
export function resolveImage(name: string, l: Located<RawImage>, diags: Diagnostic[]): Image {
  const v = l.value;
  const source = sourceOf(name, l, diags) ?? { kind: "directory" as const, path: abs(l, v.root ?? ".") };
  const common = {
    name,
    kernelArgs: v.kernelArgs ?? [],
    excludeSync: v.exclude?.sync ?? [],
    excludeFull: v.exclude?.full ?? [],
    ...(v.pin ? { pin: v.pin.replace(/^sha256:/, "") } : {}),
    ...(v.keep !== undefined ? { keep: v.keep } : {}),
    source,
    pos: keyPosOf(l.where),
  };
  if (source.kind === "directory" && v.kernel !== undefined) {
    // As always: a directory root with its kernel (and initrd) named beside the configuration.
    return { ...common, root: source.path, rootType: "directory", kernel: abs(l, v.kernel), ...(v.initrd ? { initrd: abs(l, v.initrd) } : {}) };
  }
  const boot = { ...(v.kernel ? { kernel: inImage(v.kernel) } : {}), ...(v.initrd ? { initrd: inImage(v.initrd) } : {}) };
  // A recipe has no root until it is built (images/resolve.ts points the image at its snapshot).
  const root = source.kind === "recipe" ? "" : source.path;
  return { ...common, root, rootType: source.kind === "tarball" ? "tarball" : "directory", kernel: "", bootInImage: boot };
}
