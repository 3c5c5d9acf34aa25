// Content digests of software images: sha256 over the kernel, the initrd and the root
// tree (walked in sorted order; each entry contributes its path, type, mode, owner
// and size, plus its content's sha256 or its symlink target). A tarball root is hashed
// as bytes. Changing any file, mode, owner or link changes the digest; touching a
// file without changing it does not (only the cache entry is refreshed).
import { createHash } from "node:crypto";
import { createReadStream } from "node:fs";
import { lstat, readdir, readlink, stat } from "node:fs/promises";
import { join } from "node:path";
import type { Image } from "../config/types.js";
import { DigestCache } from "./cache.js";

export interface ImageDigestResult {
  /** "sha256:<hex>" */
  digest: string;
  /** Bytes of the kernel, initrd and root (files of a tree, or the tarball). */
  size: number;
  /** Regular files considered. */
  files: number;
  /** Files whose content had to be read (not in the cache). */
  read: number;
}

export type ImageSource = Pick<Image, "name" | "root" | "rootType" | "kernel" | "initrd">;

export class ImageDigestError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ImageDigestError";
  }
}

async function hashFile(path: string): Promise<string> {
  const h = createHash("sha256");
  for await (const chunk of createReadStream(path, { highWaterMark: 1 << 20 })) h.update(chunk as Buffer);
  return h.digest("hex");
}

class Walker {
  files = 0;
  size = 0;
  constructor(
    private readonly cache: DigestCache,
    private readonly out: ReturnType<typeof createHash>,
  ) {}

  /** sha256 of a regular file, from the cache when its stat is unchanged. */
  async fileSha(path: string, st: { size: bigint; mtimeNs: bigint; ino: bigint }): Promise<string> {
    const hit = this.cache.lookup(path, st.size, st.mtimeNs, st.ino);
    if (hit) return hit;
    const sha = await hashFile(path);
    this.cache.store(path, st.size, st.mtimeNs, st.ino, sha);
    return sha;
  }

  async single(label: string, path: string): Promise<void> {
    let st;
    try {
      st = await stat(path, { bigint: true });
    } catch (e) {
      throw new ImageDigestError(`${label} ${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
    }
    if (!st.isFile()) throw new ImageDigestError(`${label} ${path} is not a regular file`);
    this.files++;
    this.size += Number(st.size);
    this.out.update(`${label} ${st.size} ${await this.fileSha(path, st)}\n`);
  }

  /** The tree under root, or under its subdirectory `rel` when the walk recurses. */
  async tree(root: string, rel = ""): Promise<void> {
    const dir = rel ? join(root, rel) : root;
    const names = (await readdir(dir)).sort();
    for (const name of names) {
      const r = rel ? `${rel}/${name}` : name;
      const p = join(root, r);
      const st = await lstat(p, { bigint: true });
      const meta = `${(Number(st.mode) & 0o7777).toString(8)} ${st.uid}:${st.gid}`;
      const key = JSON.stringify(r);
      if (st.isDirectory()) {
        this.out.update(`d ${meta} ${key}\n`);
        await this.tree(root, r);
      } else if (st.isFile()) {
        this.files++;
        this.size += Number(st.size);
        this.out.update(`f ${meta} ${st.size} ${await this.fileSha(p, st)} ${key}\n`);
      } else if (st.isSymbolicLink()) {
        this.out.update(`l ${meta} ${JSON.stringify(await readlink(p))} ${key}\n`);
      } else {
        // Device nodes, fifos, sockets: their identity is type and device number.
        this.out.update(`o ${meta} ${Number(st.mode) >> 12} ${st.rdev} ${key}\n`);
      }
    }
  }
}

/** Computes an image's content digest, using and refreshing the cache under `cacheDir`. */
export async function computeImageDigest(image: ImageSource, opts: { cacheDir: string; byInode?: boolean }): Promise<ImageDigestResult> {
  const cache = await DigestCache.open(opts.cacheDir, image.name, { byInode: opts.byInode ?? false });
  const h = createHash("sha256");
  h.update("metalform-image-digest 1\n");
  const w = new Walker(cache, h);
  await w.single("kernel", image.kernel);
  if (image.initrd) await w.single("initrd", image.initrd);
  if (image.rootType === "tarball") {
    await w.single("root-tarball", image.root);
  } else {
    let st;
    try {
      st = await stat(image.root);
    } catch (e) {
      throw new ImageDigestError(`image ${image.name}: root ${image.root}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
    }
    if (!st.isDirectory()) throw new ImageDigestError(`image ${image.name}: root ${image.root} is not a directory`);
    h.update("root-tree\n");
    await w.tree(image.root);
  }
  await cache.save();
  return { digest: "sha256:" + h.digest("hex"), size: w.size, files: w.files, read: cache.misses };
}

/** Digests of several images, one after the other (they share disks; parallel reads would not help). */
export async function computeImageDigests(images: Iterable<ImageSource>, opts: { cacheDir: string }): Promise<Map<string, ImageDigestResult>> {
  const out = new Map<string, ImageDigestResult>();
  for (const img of images) {
    try {
      out.set(img.name, await computeImageDigest(img, opts));
    } catch (e) {
      if (e instanceof ImageDigestError && !e.message.startsWith(`image ${img.name}`)) throw new ImageDigestError(`image ${img.name}: ${e.message}`);
      throw e;
    }
  }
  return out;
}
