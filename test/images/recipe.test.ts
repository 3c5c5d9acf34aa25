// Recipes: their digest names a build (order of packages does not matter, anything
// else does), the mmdebstrap command line they become, the error lines a failed
// build is reported with, and finding a root's own kernel and initrd.
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { compareVersions, findBootFiles } from "../../src/images/boot-files.js";
import { buildErrorLines } from "../../src/images/recipe-build.js";
import { DEBIAN_LAB_RECIPE, mmdebstrapArgs, recipeDigest, type Recipe } from "../../src/images/recipe.js";

const base: Recipe = { suite: "bookworm", variant: "minbase", packages: ["kmod", "curl"], customize: [] };

describe("recipe digest", () => {
  it("does not depend on package order or duplicates", () => {
    expect(recipeDigest({ ...base, packages: ["curl", "kmod", "curl"] })).toBe(recipeDigest(base));
    expect(recipeDigest(base)).toMatch(/^sha256:[0-9a-f]{64}$/);
  });
  it("changes with the suite, variant, packages, hooks, mirror and architecture", () => {
    const variants: Recipe[] = [
      { ...base, suite: "trixie" },
      { ...base, variant: "apt" },
      { ...base, packages: ["kmod"] },
      { ...base, customize: ['echo hi > "$1/etc/motd"'] },
      { ...base, mirror: "http://deb.debian.org/debian" },
      { ...base, architecture: "arm64" },
    ];
    const all = new Set([recipeDigest(base), ...variants.map(recipeDigest)]);
    expect(all.size).toBe(variants.length + 1);
  });
  it("keeps customize hooks in their order", () => {
    expect(recipeDigest({ ...base, customize: ["a", "b"] })).not.toBe(recipeDigest({ ...base, customize: ["b", "a"] }));
  });
});

describe("mmdebstrap command line", () => {
  it("names the variant, the sorted packages, hooks, suite, target and mirror", () => {
    expect(mmdebstrapArgs({ ...base, customize: ["echo x"], mirror: "http://m/debian" }, "/t/root")).toEqual([
      "--mode=root",
      "--variant=minbase",
      "--include=curl,kmod",
      "--customize-hook=echo x",
      "bookworm",
      "/t/root",
      "http://m/debian",
    ]);
  });
  it("the lab's Debian recipe is the one FACTS.md measured, plus GRUB for booting from the disk and the signed chain for Secure Boot", () => {
    expect(mmdebstrapArgs(DEBIAN_LAB_RECIPE, "/r")).toContain(
      "--include=curl,efibootmgr,grub-efi-amd64-bin,grub-efi-amd64-signed,grub-pc-bin,grub2-common,ifupdown,iproute2,isc-dhcp-client,kmod,linux-image-amd64,openssh-server,shim-signed,systemd-sysv,udev,wget",
    );
  });
});

describe("build errors", () => {
  it("reports apt's own words for a package that does not exist", () => {
    const out = ["I: running apt-get update...", "E: Unable to locate package no-such-package-mf", "E: apt-get --yes install failed", "E: mmdebstrap failed"].join("\n");
    expect(buildErrorLines(out)).toEqual(["E: Unable to locate package no-such-package-mf"]);
  });
  it("falls back to the last lines when there is no E: line", () => {
    expect(buildErrorLines("a\nb\nc\nd\n")).toEqual(["b", "c", "d"]);
  });
});

describe("boot files of a root", () => {
  const dir = mkdtempSync(join(tmpdir(), "mf-bootfiles-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const root = (name: string, files: string[]) => {
    const r = join(dir, name);
    mkdirSync(join(r, "boot"), { recursive: true });
    for (const f of files) writeFileSync(join(r, "boot", f), f);
    return r;
  };
  it("takes the newest versioned kernel with its initrd", () => {
    const r = root("deb", ["vmlinuz-6.1.0-9-amd64", "vmlinuz-6.1.0-28-amd64", "initrd.img-6.1.0-28-amd64", "initrd.img-6.1.0-9-amd64", "config-6.1.0-28-amd64"]);
    expect(findBootFiles(r)).toEqual({ kernel: "boot/vmlinuz-6.1.0-28-amd64", initrd: "boot/initrd.img-6.1.0-28-amd64", version: "6.1.0-28-amd64" });
  });
  it("takes plain vmlinuz and initrd.img", () => {
    expect(findBootFiles(root("plain", ["vmlinuz", "initrd.img"]))).toEqual({ kernel: "boot/vmlinuz", initrd: "boot/initrd.img" });
  });
  it("a kernel without an initrd has none", () => {
    expect(findBootFiles(root("noinitrd", ["vmlinuz-6.1.0-1-amd64"]))?.initrd).toBeUndefined();
  });
  it("finds nothing in a root without a kernel (a dangling symlink is not one)", () => {
    const r = root("none", ["config-6.1"]);
    symlinkSync("/nonexistent", join(r, "boot", "vmlinuz-9.9"));
    expect(findBootFiles(r)).toBeUndefined();
    expect(findBootFiles(join(dir, "missing"))).toBeUndefined();
  });
  it("compares versions by their numbers", () => {
    expect(compareVersions("6.1.0-100-amd64", "6.1.0-28-amd64")).toBeGreaterThan(0);
    expect(compareVersions("5.10.0-1", "6.1.0-1")).toBeLessThan(0);
    expect(compareVersions("6.1", "6.1")).toBe(0);
  });
});
