// What the state says about images, in the terms src/images works with (images and
// state are peers and know nothing of each other): which digests nodes run, per
// image, and each node's applied and reported image.
import type { NodeImageRecord } from "../images/catalog.js";
import type { ClusterState } from "../state/types.js";

/** Per image, the digests nodes run (applied or reported): retention keeps them. */
export function digestsInUse(state: ClusterState | undefined): Map<string, Set<string>> {
  const out = new Map<string, Set<string>>();
  for (const n of Object.values(state?.nodes ?? {})) {
    const name = n.applied?.image.name;
    if (!name) continue;
    const set = out.get(name) ?? new Set<string>();
    set.add(n.applied!.image.digest);
    if (n.reported?.imageDigest) set.add(n.reported.imageDigest);
    out.set(name, set);
  }
  return out;
}

export function nodeImageRecords(state: ClusterState | undefined): NodeImageRecord[] {
  return Object.entries(state?.nodes ?? {}).map(([name, n]) => ({
    name,
    ...(n.applied ? { applied: { image: n.applied.image.name, digest: n.applied.image.digest } } : {}),
    ...(n.reported?.imageDigest ? { reported: n.reported.imageDigest } : {}),
  }));
}

/** Image → the digest the last apply served. */
export function appliedImages(state: ClusterState | undefined): Map<string, string> {
  return new Map(Object.entries(state?.images ?? {}).map(([name, i]) => [name, i.digest]));
}
