// How images are offered over rsync: one read-only module per image, named after it.
// Nodes sync from these modules; provisioners copy from the head's.
import type { Image } from "../config/types.js";
import type { RsyncModule } from "../services/rsync/config.js";

/** The rsync module that serves an image. */
export function imageModuleName(image: string): string {
  return `img-${image}`;
}

/** One read-only rsync module per image. */
export function imageModules(images: Iterable<Image>): RsyncModule[] {
  return [...images].map((i) => ({ name: imageModuleName(i.name), path: i.root, comment: `metalform image ${i.name}` }));
}
