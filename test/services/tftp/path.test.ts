import { afterAll, beforeAll, describe, expect, it } from "vitest";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { execFileSync } from "node:child_process";
import { normalizeRequestPath, openInRoot } from "../../../src/services/tftp/path.js";

describe("tftp request path normalization", () => {
  it.each([
    ["pxelinux.0", "pxelinux.0"],
    ["/pxelinux.0", "pxelinux.0"],
    ["efi64//./grubx64.efi", "efi64/grubx64.efi"],
    ["boot\\bcd", "boot/bcd"],
    ["%2e%2e/etc/passwd", "%2e%2e/etc/passwd"],
    ["/etc/passwd", "etc/passwd"],
    ["a..b", "a..b"],
  ])("%s → %s", (raw, want) => {
    expect(normalizeRequestPath(raw)).toEqual({ ok: true, path: want });
  });

  it.each([
    ["..", 2],
    ["../etc/passwd", 2],
    ["a/../../b", 2],
    ["a/..", 2],
    ["..\\..\\etc\\passwd", 2],
    ["//etc/passwd", 2],
    ["a\u0001b", 2],
    ["a\nb", 2],
    ["a\u007fb", 2],
    ["x".repeat(1025), 2],
    ["", 1],
    ["/", 1],
    ["./", 1],
  ])("refuses %j with ERROR %i", (raw, code) => {
    const r = normalizeRequestPath(raw);
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.code).toBe(code);
  });
});

describe("tftp openInRoot", () => {
  let root: string;
  let outside: string;
  beforeAll(() => {
    const base = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), "mftf-path-")));
    root = path.join(base, "root");
    outside = path.join(base, "secret.txt");
    fs.mkdirSync(path.join(root, "sub"), { recursive: true });
    fs.writeFileSync(path.join(root, "sub", "f.bin"), "hello");
    fs.writeFileSync(outside, "secret");
    fs.symlinkSync(outside, path.join(root, "escape"));
    fs.symlinkSync(path.join(base), path.join(root, "updir"));
    fs.symlinkSync("sub/f.bin", path.join(root, "inner-link"));
    execFileSync("mkfifo", [path.join(root, "fifo")]);
  });
  afterAll(() => fs.rmSync(path.dirname(root), { recursive: true, force: true }));

  it("opens a regular file inside the root, also through an inner symlink", async () => {
    for (const rel of ["sub/f.bin", "inner-link"]) {
      const r = await openInRoot(root, rel);
      expect(r.ok).toBe(true);
      if (r.ok) {
        expect(r.size).toBe(5);
        await r.handle.close();
      }
    }
  });

  it("refuses symlinks that leave the root", async () => {
    expect(await openInRoot(root, "escape")).toMatchObject({ ok: false, code: 2 });
    expect(await openInRoot(root, "updir/secret.txt")).toMatchObject({ ok: false, code: 2 });
  });

  it("answers not found for missing files, directories and FIFOs (without hanging)", async () => {
    expect(await openInRoot(root, "nope")).toMatchObject({ ok: false, code: 1 });
    expect(await openInRoot(root, "sub")).toMatchObject({ ok: false, code: 1 });
    expect(await openInRoot(root, "fifo")).toMatchObject({ ok: false, code: 1 });
    expect(await openInRoot(root, "sub/f.bin/x")).toMatchObject({ ok: false, code: 1 });
  });
});
