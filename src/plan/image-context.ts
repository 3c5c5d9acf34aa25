// What `metalform image …` works on: the snapshot store of a configuration, its state
// (which nodes run what) and, when it loads, the configuration itself (sources, pins).
import { dirname } from "node:path";
import { defaultConfigPath, loadCluster } from "../config/load.js";
import type { Diagnostic } from "../config/diagnostics.js";
import type { DesiredCluster } from "../config/types.js";
import { openStateStore } from "./inputs.js";
import { LocalStateStore } from "../state/local.js";
import { defaultCacheDir, defaultStatePath } from "../state/paths.js";
import type { ClusterState } from "../state/types.js";
import { catalogRows, type SnapshotRow } from "../images/catalog.js";
import { appliedImages, nodeImageRecords } from "./images-in-use.js";
import { imageStoreDir } from "../images/store-location.js";
import { SnapshotStore } from "../images/store.js";

export interface ImageContextOptions {
  config?: string;
  state?: string;
  stateUrl?: string;
  imageStore?: string;
}

export interface ImageContext {
  configPath: string;
  cluster?: DesiredCluster;
  diagnostics: Diagnostic[];
  state?: ClusterState;
  store: SnapshotStore;
  cacheDir: string;
}

export async function openImageContext(o: ImageContextOptions): Promise<ImageContext> {
  const configPath = defaultConfigPath(o.config);
  const loaded = await loadCluster(configPath, { requirePaths: false });
  const stateStore = await openStateStore({ ...(o.config ? { config: o.config } : {}), ...(o.state ? { state: o.state } : {}), ...(o.stateUrl ? { stateUrl: o.stateUrl } : {}) });
  try {
    const localDir = stateStore instanceof LocalStateStore ? dirname(stateStore.path) : dirname(defaultStatePath(configPath));
    const state = await stateStore.read();
    return {
      configPath,
      ...(loaded.cluster ? { cluster: loaded.cluster } : {}),
      diagnostics: loaded.diagnostics,
      ...(state ? { state } : {}),
      store: new SnapshotStore(imageStoreDir({ localDir, ...(o.imageStore ? { flag: o.imageStore } : {}) })),
      cacheDir: defaultCacheDir(configPath),
    };
  } finally {
    await stateStore.close?.();
  }
}

/** Every snapshot of the store (of `only` when given) as catalogue rows. */
export function contextRows(c: ImageContext, only?: string): SnapshotRow[] {
  const names = only ? [only] : [...new Set([...c.store.images(), ...(c.cluster?.images.keys() ?? [])])];
  const pins = new Map([...(c.cluster?.images.values() ?? [])].filter((i) => i.pin).map((i) => [i.name, i.pin!]));
  return catalogRows({ snapshots: new Map(names.map((n) => [n, c.store.list(n)])), nodes: nodeImageRecords(c.state), applied: appliedImages(c.state), pins });
}
