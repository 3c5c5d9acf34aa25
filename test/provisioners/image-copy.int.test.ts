// A provisioner's copy of an image, pulled from a real rsync daemon: the copy's
// digest is checked, a new version hard-links what did not change, a copy that
// does not match is refused and never served, and a stop ends a running copy.
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import { randomBytes } from "node:crypto";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Image } from "../../src/config/types.js";
import { computeImageDigest } from "../../src/images/digest.js";
import { copyDirName, copyImage, imageAt } from "../../src/provisioners/image-copy.js";
import { RsyncDaemon } from "../../src/services/rsync/daemon.js";
import { freePort } from "../helpers/ports.js";

let dir: string;
let daemon: RsyncDaemon;
let url: string;
let img: Image;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "mfprov-copy-"));
  const root = join(dir, "image");
  mkdirSync(join(root, "boot"), { recursive: true });
  mkdirSync(join(root, "usr/share"), { recursive: true });
  writeFileSync(join(root, "boot/vmlinuz"), "kernel");
  writeFileSync(join(root, "usr/share/big"), randomBytes(4 << 20));
  writeFileSync(join(root, "etc-version"), "1\n");
  img = { name: "base", root, rootType: "directory", kernel: join(root, "boot/vmlinuz"), kernelArgs: [], excludeSync: [], excludeFull: [], pos: { file: "x", line: 1, col: 1 } };
  const port = await freePort();
  daemon = new RsyncDaemon({ address: "127.0.0.1", port, modules: [{ name: "img-base", path: root }] });
  await daemon.start();
  url = `rsync://127.0.0.1:${port}/img-base/`;
});

afterAll(async () => {
  await daemon?.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe("copyImage", () => {
  const cacheDir = () => join(dir, "cache");
  const imagesDir = () => join(dir, "copies");

  it("copies, checks the digest, and serves the kernel from inside the copy", async () => {
    const want = (await computeImageDigest(img, { cacheDir: cacheDir() })).digest;
    const c = await copyImage(img, url, want, imagesDir(), { cacheDir: cacheDir() });
    expect(c.digest).toBe(want);
    expect(c.dir).toBe(join(imagesDir(), copyDirName("base", want)));
    expect(c.image.kernel).toBe(join(c.dir, "boot/vmlinuz"));
    expect((await computeImageDigest(c.image, { cacheDir: cacheDir() })).digest).toBe(want);
  });

  it("a new version hard-links the unchanged files of the previous copy; two versions are kept", async () => {
    const v1 = (await computeImageDigest(img, { cacheDir: cacheDir() })).digest;
    writeFileSync(join(img.root, "etc-version"), "2\n");
    const v2 = (await computeImageDigest(img, { cacheDir: cacheDir() })).digest;
    const c2 = await copyImage(img, url, v2, imagesDir(), { cacheDir: cacheDir() });
    const old = join(imagesDir(), copyDirName("base", v1), "usr/share/big");
    expect(statSync(join(c2.dir, "usr/share/big")).ino).toBe(statSync(old).ino);
    writeFileSync(join(img.root, "etc-version"), "3\n");
    const v3 = (await computeImageDigest(img, { cacheDir: cacheDir() })).digest;
    await copyImage(img, url, v3, imagesDir(), { cacheDir: cacheDir() });
    expect(
      readdirSync(imagesDir())
        .filter((n) => !n.startsWith("."))
        .sort(),
    ).toEqual([copyDirName("base", v2), copyDirName("base", v3)].sort());
  });

  it("refuses a copy whose digest is not the one published (and keeps nothing under its name)", async () => {
    const wrong = "sha256:" + "0".repeat(64);
    await expect(copyImage(img, url, wrong, imagesDir(), { cacheDir: cacheDir() })).rejects.toThrow(/has digest sha256:[0-9a-f]{64}, not sha256:0{64}/);
    expect(existsSync(join(imagesDir(), copyDirName("base", wrong)))).toBe(false);
  });

  it("stops a running copy when told to", async () => {
    writeFileSync(join(img.root, "usr/share/bigger"), randomBytes(64 << 20));
    const want = (await computeImageDigest(img, { cacheDir: cacheDir() })).digest;
    const stop = new AbortController();
    const t0 = Date.now();
    const copying = copyImage(img, url, want, join(dir, "other"), { cacheDir: cacheDir(), signal: stop.signal });
    setTimeout(() => stop.abort(), 20);
    await expect(copying).rejects.toThrow(/rsync/);
    expect(Date.now() - t0).toBeLessThan(5000);
    expect(existsSync(join(dir, "other", copyDirName("base", want)))).toBe(false);
  });

  it("imageAt keeps a kernel outside the image root where it is", () => {
    const outside = { ...img, kernel: "/boot/vmlinuz-host" };
    expect(imageAt(outside, "/copy").kernel).toBe("/boot/vmlinuz-host");
    expect(imageAt(img, "/copy").kernel).toBe("/copy/boot/vmlinuz");
  });
});
