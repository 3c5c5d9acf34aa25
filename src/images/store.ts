// The snapshot store: immutable copies of images, one directory per image and
// content digest. Nodes are served a snapshot, never the source, so editing the
// source during an apply changes nothing that apply serves. Layout:
//   <store>/<image>/<hex>/root/…      the root tree (unchanged files hard-linked between snapshots)
//   <store>/<image>/<hex>/boot/…      kernel and initrd when they live outside the root
//   <store>/<image>/<hex>.json        what the snapshot is (SnapshotMeta)
//   <store>/<image>/sources.json      source key (tarball or OCI bytes, recipe digest) → digest
//   <store>/<image>/.tmp-*            snapshots being made (renamed into place when complete)
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { mkdir, rename, rm } from "node:fs/promises";
import { join } from "node:path";
import type { Image } from "../config/types.js";
import { writeFileAtomic } from "../util/fs.js";
import { lockDir } from "./dir-lock.js";

export interface SnapshotMeta {
  image: string;
  /** "sha256:<hex>": the content digest (images/digest.ts) of root, kernel and initrd. */
  digest: string;
  size: number;
  files: number;
  /** ISO time the snapshot was made. */
  createdAt: string;
  /** Where it came from, for people: "directory /srv/img", "recipe sha256:…", "oci app.tar:latest". */
  source: string;
  /** Kernel and initrd, relative to the snapshot's directory (e.g. "root/boot/vmlinuz-6.1.0-28-amd64"). */
  kernel: string;
  initrd?: string;
}

export class SnapshotError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "SnapshotError";
  }
}

export const DEFAULT_KEEP = 3;

export const hexOf = (digest: string) => digest.replace(/^sha256:/, "");

export class SnapshotStore {
  constructor(readonly dir: string) {}

  imageDir(image: string): string {
    return join(this.dir, image);
  }

  snapshotDir(image: string, digest: string): string {
    return join(this.dir, image, hexOf(digest));
  }

  /** Images that have snapshots. */
  images(): string[] {
    if (!existsSync(this.dir)) return [];
    return readdirSync(this.dir, { withFileTypes: true })
      .filter((d) => d.isDirectory() && !d.name.startsWith("."))
      .map((d) => d.name)
      .sort();
  }

  /** The complete snapshots of an image, newest first. */
  list(image: string): SnapshotMeta[] {
    const dir = this.imageDir(image);
    if (!existsSync(dir)) return [];
    const out: SnapshotMeta[] = [];
    for (const n of readdirSync(dir)) {
      if (!/^[0-9a-f]{64}\.json$/.test(n) || !existsSync(join(dir, n.slice(0, -5)))) continue;
      try {
        out.push(JSON.parse(readFileSync(join(dir, n), "utf8")) as SnapshotMeta);
      } catch {
        // A damaged description: the snapshot is not offered (`image rm` still removes it by digest).
      }
    }
    return out.sort((a, b) => (a.createdAt < b.createdAt ? 1 : a.createdAt > b.createdAt ? -1 : a.digest < b.digest ? 1 : -1));
  }

  get(image: string, digest: string): SnapshotMeta | undefined {
    return this.list(image).find((m) => m.digest === digest);
  }

  /** The snapshot whose digest starts with `prefix` (hex, with or without "sha256:"). */
  find(image: string, prefix: string): SnapshotMeta {
    const hex = hexOf(prefix).toLowerCase();
    const hits = this.list(image).filter((m) => hexOf(m.digest).startsWith(hex));
    if (hits.length === 1) return hits[0]!;
    const have = this.list(image).map((m) => hexOf(m.digest).slice(0, 12));
    if (!hits.length) throw new SnapshotError(`image ${image} has no snapshot ${hex} in ${this.imageDir(image)} (it has: ${have.join(", ") || "none"})`);
    throw new SnapshotError(`image ${image}: ${hex} matches ${hits.length} snapshots (${hits.map((m) => hexOf(m.digest).slice(0, 12)).join(", ")}): give more digits`);
  }

  /** The image as served from a snapshot: root, kernel and initrd inside it. */
  imageOf(img: Image, meta: SnapshotMeta): Image {
    const dir = this.snapshotDir(img.name, meta.digest);
    const { initrd: _drop, ...rest } = img;
    return { ...rest, root: join(dir, "root"), rootType: "directory", kernel: join(dir, meta.kernel), ...(meta.initrd ? { initrd: join(dir, meta.initrd) } : {}) };
  }

  /** A fresh directory to build a snapshot in. */
  async tempDir(image: string): Promise<string> {
    const dir = join(this.imageDir(image), `.tmp-${process.pid}-${Date.now().toString(36)}`);
    await rm(dir, { recursive: true, force: true });
    await mkdir(dir, { recursive: true, mode: 0o755 });
    return dir;
  }

  /** Moves a finished temp directory into place under its digest (an existing one wins). */
  async commit(tmp: string, meta: SnapshotMeta): Promise<SnapshotMeta> {
    // Another run may commit the same digest at the same time: one at a time per image.
    const unlock = await lockDir(join(this.imageDir(meta.image), ".lock"));
    try {
      const final = this.snapshotDir(meta.image, meta.digest);
      const existing = this.get(meta.image, meta.digest);
      if (existing) {
        await rm(tmp, { recursive: true, force: true });
        return existing;
      }
      // A directory without its description is a removal or a commit that was cut short.
      await rm(final, { recursive: true, force: true });
      await rename(tmp, final);
      await writeFileAtomic(`${final}.json`, JSON.stringify(meta, null, 2) + "\n", 0o644);
      return meta;
    } finally {
      await unlock();
    }
  }

  sourceDigest(image: string, key: string): string | undefined {
    const d = this.sources(image)[key];
    return d && this.get(image, d) ? d : undefined;
  }

  async rememberSource(image: string, key: string, digest: string): Promise<void> {
    const all = this.sources(image);
    all[key] = digest;
    // Only keys whose snapshot is still there.
    const kept = Object.fromEntries(Object.entries(all).filter(([, d]) => existsSync(this.snapshotDir(image, d))));
    await writeFileAtomic(join(this.imageDir(image), "sources.json"), JSON.stringify(kept, null, 2) + "\n", 0o644);
  }

  private sources(image: string): Record<string, string> {
    try {
      return JSON.parse(readFileSync(join(this.imageDir(image), "sources.json"), "utf8")) as Record<string, string>;
    } catch {
      return {};
    }
  }

  /** Removes one snapshot (its description first, so a half-removed one is never offered). */
  async remove(image: string, digest: string): Promise<void> {
    const dir = this.snapshotDir(image, digest);
    await rm(`${dir}.json`, { force: true });
    await rm(dir, { recursive: true, force: true });
  }

  /** Removes temp directories left by killed runs (not this process's). */
  async sweep(image: string): Promise<void> {
    const dir = this.imageDir(image);
    if (!existsSync(dir)) return;
    for (const n of readdirSync(dir)) {
      const m = /^\.tmp-(\d+)-/.exec(n);
      if (m && Number(m[1]) !== process.pid && !existsSync(`/proc/${m[1]}`)) await rm(join(dir, n), { recursive: true, force: true });
    }
  }
}

/**
 * Which snapshots retention removes: all but the newest `keep`, never one in
 * `protect` (digests nodes run, the pinned one, the one being served).
 */
export function snapshotsToPrune(snapshots: readonly SnapshotMeta[], keep: number, protect: ReadonlySet<string>): SnapshotMeta[] {
  const newestFirst = [...snapshots].sort((a, b) => (a.createdAt < b.createdAt ? 1 : a.createdAt > b.createdAt ? -1 : 0));
  return newestFirst.slice(Math.max(0, keep)).filter((m) => !protect.has(m.digest));
}
