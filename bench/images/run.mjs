#!/usr/bin/env node
// Benchmark: how long images take to become snapshots, on the Debian 12 lab recipe's
// root (≈700 MB, ≈30,000 files; built or taken from the recipe cache first). Needs
// `npm run build` and root (the recipe build and owners in the copies).
//
//   node bench/images/run.mjs [--keep]
//
// Measured, each through the code plan/apply use (images/resolve.ts):
//   recipe     the recipe image itself: hard links from the cache + digest
//   directory  the root as a directory source: digest in place (plan), rsync copy + digest (apply)
//   resnap     the same directory after one file changed: rsync --link-dest + digest
//   replan     plan of the unchanged directory (digest cache warm)
//   tarball    the root as a .tar.zst: unpack + digest
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";

const dist = new URL("../../dist/", import.meta.url);
const { buildRecipe } = await import(new URL("images/recipe-build.js", dist));
const { DEBIAN_LAB_RECIPE, defaultRecipeCache } = await import(new URL("images/recipe.js", dist));
const { resolveImages } = await import(new URL("images/resolve.js", dist));
const { SnapshotStore } = await import(new URL("images/store.js", dist));

const work = mkdtempSync("/var/tmp/mf-bench-images-");
const store = new SnapshotStore(join(work, "store"));
const ctx = { store, cacheDir: join(work, "cache"), recipeCache: defaultRecipeCache() };
const rows = [];
const pos = { file: "bench", line: 1, col: 1 };

async function timed(label, images, snapshot) {
  const cluster = { images: new Map(images.map((i) => [i.name, { kernelArgs: [], excludeSync: [], excludeFull: [], pos, ...i }])) };
  const t0 = process.hrtime.bigint();
  const r = await resolveImages(cluster, { ...ctx, snapshot });
  const s = Number(process.hrtime.bigint() - t0) / 1e9;
  const d = [...r.digests.values()][0];
  rows.push([label, `${s.toFixed(1)} s`, `${(d.size / 2 ** 20).toFixed(0)} MiB`, d.digest.slice(7, 19)]);
}

try {
  const t0 = Date.now();
  const b = await buildRecipe(DEBIAN_LAB_RECIPE, { cacheDir: defaultRecipeCache() });
  rows.push(["recipe build", b.cached ? "cached" : `${((Date.now() - t0) / 1000).toFixed(0)} s`, "", b.digest.slice(7, 19)]);
  await timed("recipe snapshot", [{ name: "rec", root: "", rootType: "directory", kernel: "", source: { kind: "recipe", recipe: DEBIAN_LAB_RECIPE }, bootInImage: {} }], false);
  const src = join(work, "src");
  execFileSync("cp", ["-a", b.root, src]);
  const dirImage = { name: "dir", root: src, rootType: "directory", kernel: join(src, b.boot.kernel), initrd: join(src, b.boot.initrd) };
  await timed("directory plan (cold digest)", [dirImage], false);
  await timed("directory replan (warm)", [dirImage], false);
  await timed("directory snapshot (apply)", [dirImage], true);
  writeFileSync(join(src, "etc/motd"), "changed\n");
  await timed("resnapshot, 1 file changed", [dirImage], true);
  execFileSync("tar", ["--zstd", "-cf", join(work, "root.tar.zst"), "-C", src, "."]);
  await timed(
    "tarball .tar.zst import",
    [{ name: "tar", root: join(work, "root.tar.zst"), rootType: "tarball", kernel: "", source: { kind: "tarball", path: join(work, "root.tar.zst") }, bootInImage: {} }],
    false,
  );
  await timed(
    "tarball again (source key)",
    [{ name: "tar", root: join(work, "root.tar.zst"), rootType: "tarball", kernel: "", source: { kind: "tarball", path: join(work, "root.tar.zst") }, bootInImage: {} }],
    false,
  );
  const w = [0, 1, 2, 3].map((i) => Math.max(...rows.map((r) => r[i].length)));
  for (const r of rows) console.log(r.map((c, i) => c.padEnd(w[i])).join("  "));
} finally {
  if (!process.argv.includes("--keep")) rmSync(work, { recursive: true, force: true });
}
