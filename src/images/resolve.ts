// From the configuration's images to what is planned and served: each image's content
// digest, and (when a snapshot of it exists or is made) the image as served from the
// snapshot store. Plan reads directory sources in place (their digest only) and makes
// snapshots of the others (a tarball must be unpacked, a recipe built, to know what
// they hold); apply and serve snapshot everything, then prune each image to its
// `keep` newest snapshots, never one a node runs or the configuration pins.
import type { DesiredCluster, Image } from "../config/types.js";
import { nullLogger, type Logger } from "../util/log.js";
import { computeImageDigest, ImageDigestError, type ImageDigestResult } from "./digest.js";
import { ArchiveError } from "./import-tar.js";
import { RecipeBuildError } from "./recipe-build.js";
import { makeSnapshot, sourceKey, sourceOf, type SnapshotContext } from "./snapshot.js";
import { DEFAULT_KEEP, SnapshotError, snapshotsToPrune, type SnapshotMeta } from "./store.js";

/** An image's digest as plan and apply see it. */
export interface ResolvedDigest extends ImageDigestResult {
  /** Served from a pinned snapshot (the plan calls a change to it a rollback). */
  pinned?: boolean;
  /** When the snapshot was made, if there is one. */
  createdAt?: string;
}

export interface ResolveImagesOptions extends SnapshotContext {
  /** Make snapshots of directory sources too and prune (apply, serve); plan leaves them. */
  snapshot: boolean;
  /** Per image, the digests nodes run (from the state): retention keeps them. */
  inUse?: ReadonlyMap<string, ReadonlySet<string>>;
}

export interface ResolvedImages {
  /** The configuration with each snapshotted image pointing into the store. */
  cluster: DesiredCluster;
  digests: Map<string, ResolvedDigest>;
}

/** An error about an image, said with where the configuration defines it. */
export class ImageSourceError extends Error {
  constructor(img: Image, message: string) {
    const where = `${img.pos.file}:${img.pos.line}:${img.pos.col}`;
    super(`${message.startsWith(`image ${img.name}`) ? message : `image ${img.name}: ${message}`} (${where})`);
    this.name = "ImageSourceError";
  }
}

const fromMeta = (m: SnapshotMeta, extra: Partial<ResolvedDigest> = {}): ResolvedDigest => ({
  digest: m.digest,
  size: m.size,
  files: m.files,
  read: 0,
  createdAt: m.createdAt,
  ...extra,
});

async function resolveOne(img: Image, o: ResolveImagesOptions): Promise<{ digest: ResolvedDigest; meta?: SnapshotMeta }> {
  if (img.pin) {
    const meta = o.store.find(img.name, img.pin);
    return { digest: fromMeta(meta, { pinned: true }), meta };
  }
  const s = sourceOf(img);
  if (s.kind === "directory") {
    const d = await computeImageDigest(img, { cacheDir: o.cacheDir });
    const have = o.store.get(img.name, d.digest);
    if (have) return { digest: { ...d, createdAt: have.createdAt }, meta: have };
    if (!o.snapshot) return { digest: d };
    const made = await makeSnapshot(img, o, d.digest);
    return { digest: { ...d, createdAt: made.meta.createdAt }, meta: made.meta };
  }
  const key = await sourceKey(s, img);
  const known = o.store.sourceDigest(img.name, key);
  const meta = known ? o.store.get(img.name, known)! : (await makeSnapshot(img, o)).meta;
  // The source may have changed while it was unpacked: its key must still be the same.
  if (!known && (await sourceKey(s, img)) !== key)
    throw new SnapshotError(`image ${img.name}: ${s.kind === "recipe" ? "the recipe" : s.path} changed while it was being unpacked; run again`);
  if (!known) await o.store.rememberSource(img.name, key, meta.digest);
  return { digest: fromMeta(meta), meta };
}

async function prune(img: Image, current: string, o: ResolveImagesOptions, log: Logger): Promise<void> {
  const protect = new Set([current, ...(o.inUse?.get(img.name) ?? [])]);
  for (const m of snapshotsToPrune(o.store.list(img.name), img.keep ?? DEFAULT_KEEP, protect)) {
    await o.store.remove(img.name, m.digest);
    log.info("snapshot.pruned", { image: img.name, digest: m.digest.slice(0, 19), createdAt: m.createdAt });
  }
}

const KNOWN = [SnapshotError, ArchiveError, RecipeBuildError, ImageDigestError];

/** Resolves every image of `cluster` (one after the other: they share disks). */
export async function resolveImages(cluster: DesiredCluster, o: ResolveImagesOptions): Promise<ResolvedImages> {
  const log = o.logger ?? nullLogger;
  const images = new Map(cluster.images);
  const digests = new Map<string, ResolvedDigest>();
  for (const img of cluster.images.values()) {
    try {
      const r = await resolveOne(img, o);
      digests.set(img.name, r.digest);
      if (r.meta) images.set(img.name, o.store.imageOf(img, r.meta));
      if (o.snapshot) await prune(img, r.digest.digest, o, log);
    } catch (e) {
      if (KNOWN.some((k) => e instanceof k) || (e as NodeJS.ErrnoException).code === "ENOENT") throw new ImageSourceError(img, (e as Error).message);
      throw e;
    }
  }
  return { cluster: { ...cluster, images }, digests };
}
