// Making a snapshot of one image in the store: copy or unpack its source into a
// temporary directory, find its kernel and initrd, compute the content digest of what
// was copied, and rename the directory into place under that digest. A directory
// source is copied with rsync, unchanged files hard-linked from the image's newest
// snapshot; a tarball or OCI image is unpacked; a recipe is built (cached) and linked.
import { createHash } from "node:crypto";
import { createReadStream, existsSync, statSync } from "node:fs";
import { copyFile, mkdir, rm } from "node:fs/promises";
import { basename, isAbsolute, join, relative } from "node:path";
import type { Image, ImageSourceSpec } from "../config/types.js";
import { nullLogger, type Logger } from "../util/log.js";
import { findBootFiles } from "./boot-files.js";
import { computeImageDigest, type ImageDigestResult } from "./digest.js";
import { unpackOci } from "./import-oci.js";
import { unpackTarball } from "./import-tar.js";
import { buildRecipe } from "./recipe-build.js";
import { recipeDigest } from "./recipe.js";
import { SnapshotError, type SnapshotMeta, type SnapshotStore } from "./store.js";
import { runTool, toolError } from "./tool.js";

export interface SnapshotContext {
  store: SnapshotStore;
  /** Digest cache directory (images/cache.ts). */
  cacheDir: string;
  /** Recipe build cache. */
  recipeCache: string;
  logger?: Logger;
}

/** The source as it shows in `image list` and snapshot descriptions. */
export function describeSource(s: ImageSourceSpec): string {
  if (s.kind === "recipe") return `recipe ${recipeDigest(s.recipe).slice(7, 19)} (${s.recipe.suite}/${s.recipe.variant}, ${s.recipe.packages.length} packages)`;
  return `${s.kind} ${s.path}${s.kind === "oci" && s.ref ? `:${s.ref}` : ""}`;
}

export function sourceOf(img: Image): ImageSourceSpec {
  return img.source ?? { kind: img.rootType, path: img.root };
}

async function sha256File(path: string): Promise<string> {
  const h = createHash("sha256");
  for await (const c of createReadStream(path, { highWaterMark: 1 << 20 })) h.update(c as Buffer);
  return h.digest("hex");
}

/** What names a source's content without unpacking it: the archive's bytes, an OCI layout's index, a recipe's digest. */
export async function sourceKey(s: ImageSourceSpec, img: Image): Promise<string> {
  const boot = JSON.stringify([img.bootInImage?.kernel ?? null, img.bootInImage?.initrd ?? null]);
  if (s.kind === "recipe") return `recipe ${recipeDigest(s.recipe)} ${boot}`;
  if (s.kind === "directory") throw new SnapshotError(`image ${img.name}: a directory source has no source key`);
  const isDir = statSync(s.path).isDirectory();
  const bytes = await sha256File(isDir ? join(s.path, "index.json") : s.path);
  return `${s.kind} ${bytes} ${s.kind === "oci" ? (s.ref ?? "") : ""} ${boot}`;
}

/** Copies the source into work/root (and kernel/initrd from outside it into work/boot). */
async function fill(img: Image, s: ImageSourceSpec, work: string, ctx: SnapshotContext): Promise<void> {
  const root = join(work, "root");
  if (s.kind === "directory") {
    const prev = ctx.store.list(img.name)[0];
    const linkDest = prev ? ["--link-dest", join(ctx.store.snapshotDir(img.name, prev.digest), "root")] : [];
    // Nanosecond times: a same-size rewrite within a second must not be linked from the old snapshot.
    const r = await runTool(["rsync", "-a", "--hard-links", "--numeric-ids", "--modify-window=-1", ...linkDest, `${s.path}/`, `${root}/`]);
    if (r.code !== 0) throw new SnapshotError(`image ${img.name}: copying ${s.path} failed: ${toolError(r)}`);
    return;
  }
  if (s.kind === "tarball") {
    await mkdir(root, { mode: 0o755 });
    await unpackTarball(s.path, root);
    return;
  }
  if (s.kind === "oci") {
    await unpackOci(s.path, s.ref, work);
    return;
  }
  const built = await buildRecipe(s.recipe, { cacheDir: ctx.recipeCache, label: img.name, ...(ctx.logger ? { logger: ctx.logger } : {}) });
  // Hard links to the recipe cache (nothing writes there again); a copy across file systems.
  let r = await runTool(["cp", "-a", "-l", built.root, root]);
  if (r.code !== 0) r = await runTool(["cp", "-a", built.root, root]);
  if (r.code !== 0) throw new SnapshotError(`image ${img.name}: copying the recipe build ${built.root} failed: ${toolError(r)}`);
}

/** Kernel and initrd relative to the snapshot directory; copies them in when they live outside the root. */
async function bootFiles(img: Image, s: ImageSourceSpec, work: string): Promise<{ kernel: string; initrd?: string }> {
  if (s.kind === "directory" && img.kernel) {
    const place = async (p: string) => {
      const rel = relative(s.path, p);
      if (rel && !rel.startsWith("..") && !isAbsolute(rel)) return `root/${rel}`;
      await mkdir(join(work, "boot"), { recursive: true });
      await copyFile(p, join(work, "boot", basename(p)));
      return `boot/${basename(p)}`;
    };
    return { kernel: await place(img.kernel), ...(img.initrd ? { initrd: await place(img.initrd) } : {}) };
  }
  const root = join(work, "root");
  const named = img.bootInImage ?? {};
  for (const [what, p] of [
    ["kernel", named.kernel],
    ["initrd", named.initrd],
  ] as const) {
    if (p && !existsSync(join(root, p))) throw new SnapshotError(`image ${img.name}: the ${what} /${p} is not in the image`);
  }
  if (named.kernel) return { kernel: `root/${named.kernel}`, ...(named.initrd ? { initrd: `root/${named.initrd}` } : {}) };
  const found = findBootFiles(root);
  if (!found) throw new SnapshotError(`image ${img.name}: the image has no kernel (no /boot/vmlinuz-* or /boot/vmlinuz); install one in it, or name it with "kernel:"`);
  const initrd = named.initrd ?? found.initrd;
  return { kernel: `root/${found.kernel}`, ...(initrd ? { initrd: `root/${initrd}` } : {}) };
}

export interface MadeSnapshot {
  meta: SnapshotMeta;
  digest: ImageDigestResult;
}

/** Makes a snapshot of `img` from its source; `expect` (a directory source's planned digest) must match what was copied. */
export async function makeSnapshot(img: Image, ctx: SnapshotContext, expect?: string): Promise<MadeSnapshot> {
  const log = ctx.logger ?? nullLogger;
  const s = sourceOf(img);
  await ctx.store.sweep(img.name);
  const work = await ctx.store.tempDir(img.name);
  const t0 = Date.now();
  try {
    await fill(img, s, work, ctx);
    const boot = await bootFiles(img, s, work);
    const probe: Image = { ...img, root: join(work, "root"), rootType: "directory", kernel: join(work, boot.kernel), ...(boot.initrd ? { initrd: join(work, boot.initrd) } : {}) };
    const digest = await computeImageDigest({ ...probe, name: `.snapshot-${img.name}` }, { cacheDir: ctx.cacheDir, byInode: true });
    if (expect && digest.digest !== expect) {
      throw new SnapshotError(
        `image ${img.name} changed while it was being copied (the plan saw ${expect.slice(0, 19)}, the copy is ${digest.digest.slice(0, 19)}): run again once ${s.kind === "directory" ? s.path : "the source"} is stable`,
      );
    }
    const meta: SnapshotMeta = {
      image: img.name,
      digest: digest.digest,
      size: digest.size,
      files: digest.files,
      createdAt: new Date().toISOString(),
      source: describeSource(s),
      kernel: boot.kernel,
      ...(boot.initrd ? { initrd: boot.initrd } : {}),
    };
    const kept = await ctx.store.commit(work, meta);
    log.info("snapshot.made", { image: img.name, digest: kept.digest.slice(0, 19), size: kept.size, ms: Date.now() - t0 });
    return { meta: kept, digest };
  } catch (e) {
    await rm(work, { recursive: true, force: true });
    throw e;
  }
}
