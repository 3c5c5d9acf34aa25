// `metalform image build`: makes the snapshots of the configuration's images (all, or
// those named) without planning or applying, so a slow recipe build or a large import
// happens ahead of the apply that needs it. Reports each image's digest and size.
import { formatDiagnostics, summarizeDiagnostics } from "../config/diagnostics.js";
import { formatBytes } from "../config/size.js";
import { createLogger } from "../util/log.js";
import type { ImageContext } from "./image-context.js";
import { digestsInUse } from "./images-in-use.js";
import { resolveImages } from "../images/resolve.js";
import { defaultRecipeCache } from "../images/recipe.js";

export interface BuildOutcome {
  ok: boolean;
  images: { image: string; digest: string; size: number; createdAt?: string }[];
  lines: string[];
}

export async function buildImages(c: ImageContext, o: { images: string[]; say?: (line: string) => void }): Promise<BuildOutcome> {
  if (!c.cluster) {
    return { ok: false, images: [], lines: [formatDiagnostics(c.diagnostics, { color: false }), `${c.configPath}: ${summarizeDiagnostics(c.diagnostics)}; nothing was built`] };
  }
  const unknown = o.images.filter((n) => !c.cluster!.images.has(n));
  if (unknown.length)
    return { ok: false, images: [], lines: [`metalform: no image ${unknown.join(", ")} in ${c.configPath} (images: ${[...c.cluster.images.keys()].join(", ")})`] };
  const chosen = new Map([...c.cluster.images].filter(([n]) => !o.images.length || o.images.includes(n)));
  const logger = o.say
    ? createLogger({
        component: "image",
        sink: (r) =>
          o.say!(
            `${r.event} ${Object.entries(r.fields)
              .map(([k, v]) => `${k}=${String(v)}`)
              .join(" ")}`,
          ),
      })
    : undefined;
  const t0 = Date.now();
  const { digests } = await resolveImages(
    { ...c.cluster, images: chosen },
    { store: c.store, cacheDir: c.cacheDir, recipeCache: defaultRecipeCache(), snapshot: true, inUse: digestsInUse(c.state), ...(logger ? { logger } : {}) },
  );
  const images = [...digests].map(([image, d]) => ({ image, digest: d.digest, size: d.size, ...(d.createdAt ? { createdAt: d.createdAt } : {}) }));
  const lines = images.map((i) => `${i.image}  ${i.digest.slice(7, 19)}  ${formatBytes(i.size)}  ${c.store.snapshotDir(i.image, i.digest)}`);
  lines.push(`${images.length} image${images.length === 1 ? "" : "s"} ready in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  return { ok: true, images, lines };
}
