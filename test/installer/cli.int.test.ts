// `metalform installer build` through the built CLI: an image with a kernel's
// modules gets an initramfs with them; the second build is the cached same file.
import { execFileSync, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const ROOT = new URL("../../", import.meta.url).pathname;
let dir: string;

function mf(args: string[]) {
  return spawnSync(process.execPath, [join(ROOT, "bin/metalform"), ...args], { encoding: "utf8", env: { ...process.env, NO_COLOR: "1" }, timeout: 120_000 });
}

beforeAll(() => {
  if (!existsSync(join(ROOT, "dist/cli/main.js"))) throw new Error("dist/ is not built: run `npm run build` (scripts/test.sh does)");
  dir = mkdtempSync(join(tmpdir(), "mf-installer-cli-"));
  mkdirSync(join(dir, "image/boot"), { recursive: true });
  writeFileSync(join(dir, "image/boot/vmlinuz"), "kernel");
  writeFileSync(
    join(dir, "cluster.yaml"),
    `network: { interface: eth1, address: 10.5.0.1/24 }
images: { img: { root: image, kernel: image/boot/vmlinuz } }
diskLayouts:
  l: { disks: [ { name: d, match: { device: /dev/vda }, partitions: [ { size: rest, fs: ext4, mount: / } ] } ] }
nodes: [ { name: n1, image: img, diskLayout: l, mac: "52:54:00:00:00:01", ip: 10.5.0.11 } ]
`,
  );
});

afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe("metalform installer build", () => {
  it("builds the installer initramfs, then finds it cached", async () => {
    const a = mf(["installer", "build", "-c", dir, "--json"]);
    expect(a.status, a.stderr).toBe(0);
    const [first] = JSON.parse(a.stdout) as Array<{ image: string; path: string; digest: string; cached: boolean; bytes: number }>;
    expect(first!.image).toBe("img");
    expect(existsSync(first!.path)).toBe(true);
    expect(first!.bytes).toBeGreaterThan(1_000_000);
    // The archive holds the installer's /init and the tools it runs.
    const listing = execFileSync("sh", ["-c", `gzip -dc '${first!.path}' | cpio -t 2>/dev/null`], { encoding: "utf8" });
    for (const f of ["init", "bin/busybox", "usr/sbin/sfdisk", "usr/sbin/mkfs.ext4", "usr/sbin/rsync"]) expect(listing).toMatch(new RegExp(`^${f}$`, "m"));
    const b = mf(["installer", "build", "-c", dir, "--json"]);
    const [second] = JSON.parse(b.stdout) as Array<{ digest: string; cached: boolean }>;
    expect(second).toMatchObject({ digest: first!.digest, cached: true });
  });

  it("names an unknown image", () => {
    const r = mf(["installer", "build", "-c", dir, "--image", "nope"]);
    expect(r.status).toBe(1);
    expect(r.stderr).toContain('no image "nope" in the configuration');
  });
});
