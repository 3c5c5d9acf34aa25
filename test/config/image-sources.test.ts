// Image sources in the configuration: a directory or tarball `root`, an `oci` archive
// or layout, an mmdebstrap `recipe`; exactly one of them, with the kernel beside the
// configuration (directories) or inside the image (the others); pins and retention.
// Mistakes are reported at their FILE:LINE:COL.
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { loadClusterSync } from "../../src/config/load.js";
import { recipeDigest } from "../../src/images/recipe.js";
import { HEAD, node, removeConfigs, writeConfig } from "./helpers.js";

afterAll(removeConfigs);

const N1 = node("n1", "52:54:00:00:00:01", "10.0.0.10");
const load = (images: string) => {
  const dir = writeConfig({ "c.yaml": HEAD.replace(/^images:.*$/m, images) + N1 });
  return { dir, r: loadClusterSync(join(dir, "c.yaml")) };
};
const errors = (r: ReturnType<typeof loadClusterSync>) => r.diagnostics.filter((d) => d.severity === "error").map((d) => `${d.line}:${d.col} ${d.code} ${d.message}`);

describe("image sources", () => {
  it("a tarball root: kernel and initrd are paths inside the image", () => {
    const { dir, r } = load("images: {img: {root: img.tar.zst, kernel: /boot/vmlinuz, initrd: boot/initrd.img}}");
    const img = r.cluster!.images.get("img")!;
    expect(img.source).toEqual({ kind: "tarball", path: join(dir, "img.tar.zst") });
    expect(img.bootInImage).toEqual({ kernel: "boot/vmlinuz", initrd: "boot/initrd.img" });
    expect(img.kernel).toBe("");
  });
  it("an OCI archive with a ref; the kernel defaults to the image's own", () => {
    const { dir, r } = load("images: {img: {oci: app.oci.tar, ref: v1, pin: 3f2a1c, keep: 5}}");
    const img = r.cluster!.images.get("img")!;
    expect(img.source).toEqual({ kind: "oci", path: join(dir, "app.oci.tar"), ref: "v1" });
    expect(img).toMatchObject({ bootInImage: {}, pin: "3f2a1c", keep: 5 });
  });
  it("a recipe, normalized (packages sorted) so that equal recipes share a build", () => {
    const { r } = load("images: {img: {recipe: {suite: bookworm, packages: [wget, kmod, linux-image-amd64], customize: ['echo x > \"$1/etc/motd\"']}}}");
    const img = r.cluster!.images.get("img")!;
    expect(img.source).toEqual({
      kind: "recipe",
      recipe: { suite: "bookworm", variant: "minbase", packages: ["kmod", "linux-image-amd64", "wget"], customize: ['echo x > "$1/etc/motd"'] },
    });
    expect(img.source?.kind === "recipe" && recipeDigest(img.source.recipe)).toMatch(/^sha256:/);
  });
  it("a directory root as before: kernel beside the configuration", () => {
    const { dir, r } = load("images: {img: {root: tree, kernel: tree/boot/vmlinuz}}");
    expect(r.cluster!.images.get("img")).toMatchObject({ root: join(dir, "tree"), rootType: "directory", kernel: join(dir, "tree/boot/vmlinuz"), source: { kind: "directory" } });
  });
});

describe("image source mistakes", () => {
  it("two sources", () => {
    expect(errors(load("images: {img: {root: /, kernel: /, oci: a.tar}}").r)).toEqual(['2:41 image-source image "img" has "root" and "oci": give exactly one source']);
  });
  it("no source", () => {
    expect(errors(load("images: {img: {kernel: /}}").r)).toEqual([
      '2:10 image-source image "img" has no source: give "root" (a directory or tarball), "oci" (an OCI archive or layout) or "recipe" (mmdebstrap)',
    ]);
  });
  it("a ref without oci", () => {
    expect(errors(load("images: {img: {recipe: {suite: bookworm}, ref: v1}}").r)).toEqual([
      '2:43 image-source image "img": "ref" names an image inside an OCI archive or layout; this image has no "oci"',
    ]);
  });
  it("a root without its kernel (as always)", () => {
    expect(errors(load("images: {img: {root: /}}").r)).toEqual(['2:10 missing-field "images.img" is missing required field "kernel"']);
  });
  it("a bad pin, keep, variant and package name", () => {
    const e = errors(load("images: {img: {recipe: {suite: bookworm, variant: tiny, packages: ['Bad Name']}, pin: xyz, keep: 0}}").r);
    expect(e).toHaveLength(4);
    expect(e.join("\n")).toMatch(/variant/);
    expect(e.join("\n")).toMatch(/packages/);
    expect(e.join("\n")).toMatch(/pin/);
    expect(e.join("\n")).toMatch(/keep/);
  });
  it("a missing OCI archive is named at its field", () => {
    const r = load("images: {img: {oci: /nonexistent/app.oci.tar}}").r;
    expect(r.diagnostics.map((d) => `${d.line}:${d.col} ${d.code} ${d.message}`)).toContain('2:21 path-not-found image "img": oci /nonexistent/app.oci.tar does not exist');
  });
});
