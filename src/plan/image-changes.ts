// What changes for images: created when the state has none, updated when their
// content digest or size differs, deleted when the configuration dropped them.
import type { DesiredCluster } from "../config/types.js";
import type { ClusterState } from "../state/types.js";
import { PlanError, type ImageDigest } from "./desired.js";
import { shortDigest } from "./format.js";
import type { FieldChange, ImageChange, ImageSummary } from "./types.js";

/**
 * Image changes in name order, and how many images stay as they are. With
 * `only` (a --target plan), just those images, and no deletions.
 */
export function planImages(
  desired: DesiredCluster,
  state: ClusterState | undefined,
  opts: { imageDigests: ReadonlyMap<string, ImageDigest>; only?: ReadonlySet<string> },
): { imageChanges: ImageChange[]; imagesUnchanged: number } {
  const imageChanges: ImageChange[] = [];
  let imagesUnchanged = 0;
  const stImages = state?.images ?? {};
  for (const name of [...desired.images.keys()].sort()) {
    if (opts.only && !opts.only.has(name)) continue;
    const d = opts.imageDigests.get(name);
    if (!d) throw new PlanError("missing-image-digest", `no content digest was computed for image "${name}"`);
    const before = Object.hasOwn(stImages, name) ? stImages[name]! : undefined;
    const change = changeForImage(name, before, { digest: d.digest, size: d.size });
    if (change) imageChanges.push(change);
    else imagesUnchanged++;
  }
  if (!opts.only) {
    for (const name of Object.keys(stImages).sort()) {
      if (!desired.images.has(name)) imageChanges.push(imageDeleted(name, stImages[name]!));
    }
  }
  return { imageChanges, imagesUnchanged };
}

function changeForImage(image: string, before: ImageSummary | undefined, after: ImageSummary): ImageChange | undefined {
  if (!before) {
    return {
      image,
      kind: "create",
      actions: ["create"],
      reasons: [{ code: "new-image", message: "new image: not in the state" }],
      before: null,
      after,
      fields: summaryFields({ before: null, after }),
    };
  }
  if (before.digest === after.digest && before.size === after.size) return undefined;
  const fields: FieldChange[] = [];
  if (before.digest !== after.digest) fields.push({ field: "digest", before: before.digest, after: after.digest, forcesReimage: false });
  if (before.size !== after.size) fields.push({ field: "size", before: before.size, after: after.size, forcesReimage: false });
  return {
    image,
    kind: "update",
    actions: ["update"],
    reasons: [{ code: "image-content-changed", message: `content changed: ${shortDigest(before.digest)} → ${shortDigest(after.digest)}` }],
    before: { digest: before.digest, size: before.size },
    after,
    fields,
  };
}

function imageDeleted(image: string, b: ImageSummary): ImageChange {
  const before = { digest: b.digest, size: b.size };
  return {
    image,
    kind: "delete",
    actions: ["delete"],
    reasons: [{ code: "image-removed", message: "not in the configuration: its exported files go" }],
    before,
    after: null,
    fields: summaryFields({ before, after: null }),
  };
}

/** Digest and size as fields of an image that appears or goes. */
function summaryFields(s: { before: ImageSummary; after: null } | { before: null; after: ImageSummary }): FieldChange[] {
  return (["digest", "size"] as const).map((field) => ({ field, before: s.before?.[field] ?? null, after: s.after?.[field] ?? null, forcesReimage: false }));
}
