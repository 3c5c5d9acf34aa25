import { chmodSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, utimesSync, writeFileSync, readdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeEach, describe, expect, it } from "vitest";
import { computeImageDigest, computeImageDigests, ImageDigestError, type ImageSource } from "../../src/images/digest.js";

const root = mkdtempSync(join(tmpdir(), "mf-imgdigest-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));
let n = 0;
let img: ImageSource;
let cacheDir: string;

beforeEach(() => {
  const base = join(root, `img${++n}`);
  mkdirSync(join(base, "root", "etc"), { recursive: true });
  mkdirSync(join(base, "root", "boot"), { recursive: true });
  writeFileSync(join(base, "root", "boot", "vmlinuz"), "kernel-bytes");
  writeFileSync(join(base, "root", "boot", "initrd.img"), "initrd-bytes");
  writeFileSync(join(base, "root", "etc", "hostname"), "image\n");
  writeFileSync(join(base, "root", "etc", "big"), Buffer.alloc(3 << 20, 7));
  symlinkSync("hostname", join(base, "root", "etc", "link"));
  img = { name: "compute", root: join(base, "root"), rootType: "directory", kernel: join(base, "root", "boot", "vmlinuz"), initrd: join(base, "root", "boot", "initrd.img") };
  cacheDir = join(base, "cache");
});

const digest = () => computeImageDigest(img, { cacheDir });

describe("image content digests", () => {
  it("is stable, counts files and bytes, and reads nothing the second time", async () => {
    const a = await digest();
    expect(a.digest).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(a.files).toBe(2 + 4); // kernel and initrd, then the tree's four regular files
    expect(a.size).toBe(2 * ("kernel-bytes".length + "initrd-bytes".length) + 6 + (3 << 20));
    expect(a.read).toBe(4); // kernel/initrd are read once, the tree reuses their cache entries
    const b = await digest();
    expect(b.digest).toBe(a.digest);
    expect(b.read).toBe(0);
  });

  it("changes with content, mode, symlink target and new files; not with a mere touch", async () => {
    const d0 = (await digest()).digest;
    utimesSync(join(img.root, "etc", "hostname"), new Date(2020, 1, 1), new Date(2020, 1, 1));
    const touched = await digest();
    expect(touched.digest).toBe(d0);
    expect(touched.read).toBe(1); // the touched file is re-read, found equal

    writeFileSync(join(img.root, "etc", "hostname"), "image2\n");
    const d1 = (await digest()).digest;
    expect(d1).not.toBe(d0);

    chmodSync(join(img.root, "etc", "hostname"), 0o600);
    const d2 = (await digest()).digest;
    expect(d2).not.toBe(d1);

    rmSync(join(img.root, "etc", "link"));
    symlinkSync("big", join(img.root, "etc", "link"));
    const d3 = (await digest()).digest;
    expect(d3).not.toBe(d2);

    writeFileSync(join(img.root, "etc", "new"), "");
    const d4 = (await digest()).digest;
    expect(d4).not.toBe(d3);

    writeFileSync(img.kernel, "kernel-bytes-2");
    expect((await digest()).digest).not.toBe(d4);
  });

  it("does not depend on the cache: a cold run gives the same digest", async () => {
    const warm = (await digest()).digest;
    rmSync(cacheDir, { recursive: true, force: true });
    const cold = await digest();
    expect(cold.digest).toBe(warm);
    expect(cold.read).toBeGreaterThan(0);
    expect(readdirSync(join(cacheDir, "images"))).toEqual(["compute.json"]);
  });

  it("ignores a damaged cache", async () => {
    const a = await digest();
    writeFileSync(join(cacheDir, "images", "compute.json"), "{garbage");
    const b = await digest();
    expect(b.digest).toBe(a.digest);
    expect(b.read).toBe(4);
  });

  it("hashes a tarball root as bytes", async () => {
    const tar = join(root, `img${n}`, "root.tar");
    writeFileSync(tar, "pretend-tar");
    const t = { ...img, root: tar, rootType: "tarball" as const };
    const a = await computeImageDigest(t, { cacheDir });
    expect(a.size).toBe("kernel-bytes".length + "initrd-bytes".length + "pretend-tar".length);
    writeFileSync(tar, "pretend-tax");
    expect((await computeImageDigest(t, { cacheDir })).digest).not.toBe(a.digest);
  });

  it("names the image and the missing file", async () => {
    await expect(computeImageDigests([{ ...img, kernel: "/nonexistent/vmlinuz" }], { cacheDir })).rejects.toThrow(
      new ImageDigestError("image compute: kernel /nonexistent/vmlinuz: ENOENT"),
    );
    await expect(computeImageDigest({ ...img, root: join(img.root, "etc", "hostname") }, { cacheDir })).rejects.toThrow(/is not a directory/);
  });
});
