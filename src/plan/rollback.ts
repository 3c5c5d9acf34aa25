// Rollbacks: an image pinned to one of its earlier snapshots. The plan says so in
// words people look for on a pull request ("rollback to 3f2a1c"), on the image and on
// every node that goes back to it. Pure: it reads the digests plan was given.
import type { ImageDigest } from "./desired.js";
import { shortDigest } from "./format.js";
import type { ImageChange, NodeChange, Reason } from "./types.js";

export function rollbackReason(d: ImageDigest): Reason {
  const when = d.createdAt ? ` (snapshot of ${d.createdAt.slice(0, 16).replace("T", " ")} UTC)` : "";
  return { code: "image-rollback", message: `rollback to ${shortDigest(d.digest)}${when}` };
}

/** Adds the rollback reason to image updates and node changes whose image is pinned to another digest. */
export function markRollbacks(images: ImageChange[], nodes: NodeChange[], digests: ReadonlyMap<string, ImageDigest>): void {
  for (const c of images) {
    const d = digests.get(c.image);
    if (d?.pinned && c.kind === "update" && c.before?.digest !== d.digest) c.reasons.unshift(rollbackReason(d));
  }
  for (const c of nodes) {
    const img = c.after?.image;
    const d = img ? digests.get(img.name) : undefined;
    if (!d?.pinned || !c.before || c.before.image.digest === d.digest) continue;
    if (c.reasons.some((r) => r.code === "image-changed")) c.reasons.push(rollbackReason(d));
  }
}
