// Where the snapshot store is: --image-store, else $METALFORM_IMAGE_STORE, else
// images/ in the directory of the local state (.metalform/images beside the
// configuration). Snapshots are big: put the store on a disk with room, with the
// state or anywhere else, as long as every command of one cluster names the same one.
import { join, resolve } from "node:path";

export function imageStoreDir(o: { localDir: string; flag?: string }): string {
  if (o.flag) return resolve(o.flag);
  if (process.env.METALFORM_IMAGE_STORE) return resolve(process.env.METALFORM_IMAGE_STORE);
  return join(o.localDir, "images");
}
