// The imperative edge of planning: load the configuration, read the state and
// compute image digests; then the pure planner runs on what this returns. `plan`
// uses it, and so can `apply` (which must re-check a saved plan against the same
// inputs).
import { existsSync } from "node:fs";
import { dirname } from "node:path";
import { defaultConfigPath, loadCluster } from "../config/load.js";
import type { Diagnostic } from "../config/diagnostics.js";
import type { DesiredCluster } from "../config/types.js";
import { defaultRecipeCache } from "../images/recipe.js";
import { resolveImages, type ResolvedDigest } from "../images/resolve.js";
import { imageStoreDir } from "../images/store-location.js";
import { SnapshotStore } from "../images/store.js";
import { digestsInUse } from "./images-in-use.js";
import { StateError } from "../state/errors.js";
import { LocalStateStore } from "../state/local.js";
import { defaultCacheDir, defaultStatePath } from "../state/paths.js";
import { isPostgresUrl } from "../state/pgurl.js";
import { PostgresStateStore } from "../state/postgres.js";
import { selectStateStore, storeForTarget } from "../state/select.js";
import type { ImportableStore } from "../state/store.js";
import type { ClusterState } from "../state/types.js";
import type { Logger } from "../util/log.js";

export interface PlanInputOptions {
  /** --config (default: ./cluster.yaml, ./cluster/ or $METALFORM_CONFIG). */
  config?: string;
  /** --state: a file or a postgres:// URL (default: the configuration's `backend:`, else .metalform/state.json beside it). */
  state?: string;
  /** --state-url (a postgres:// URL; $METALFORM_STATE_URL is the same). */
  stateUrl?: string;
  /** Digest cache directory (default: .metalform/cache beside the configuration). */
  cacheDir?: string;
  strict?: boolean;
  /** Snapshot every image before returning (apply, serve); plan snapshots only what it must unpack or build. */
  snapshot?: boolean;
  /** The snapshot store (default $METALFORM_IMAGE_STORE, else images/ beside the local state). */
  imageStore?: string;
  /** Says what takes long: recipe builds, imports, snapshots. */
  logger?: Logger;
}

export interface PlanInputs {
  configPath: string;
  cluster: DesiredCluster;
  store: ImportableStore;
  state: ClusterState | undefined;
  /** Where this machine keeps its own files (work and cache directories): .metalform beside the configuration, or the local state file's directory. */
  localDir: string;
  imageDigests: Map<string, ResolvedDigest>;
  /** Where the image snapshots are. */
  imageStore: string;
  /** Inline secrets by id (config/secrets.ts); never serialized. */
  inlineSecrets: Map<string, string>;
}

/**
 * The state store the commands use (see state/select.ts for the order of choice).
 * The configuration is read only for its `backend:` section; its other errors do not matter here.
 */
export async function openStateStore(opts: { config?: string; state?: string; stateUrl?: string }): Promise<ImportableStore> {
  const configPath = defaultConfigPath(opts.config);
  if (opts.state || opts.stateUrl || process.env.METALFORM_STATE_URL || !existsSync(configPath)) {
    return selectStateStore({ configPath, ...(opts.state ? { state: opts.state } : {}), ...(opts.stateUrl ? { stateUrl: opts.stateUrl } : {}) });
  }
  const loaded = await loadCluster(configPath, { requirePaths: false });
  if (loaded.backendBroken) {
    throw new StateError("io", `the configuration's "backend:" section has errors (run metalform validate); or name the state with --state or --state-url`);
  }
  return selectStateStore({ configPath, ...(loaded.backend ? { backend: loaded.backend } : {}) });
}

/**
 * The target of `state migrate`: a file, or a postgres:// URL whose state name is
 * its #fragment, else the configuration's `backend.name`, else "default".
 */
export async function openMigrationTarget(target: string, opts: { config?: string }): Promise<ImportableStore> {
  if (!isPostgresUrl(target) || target.includes("#")) return storeForTarget(target);
  const configPath = defaultConfigPath(opts.config);
  const backend = existsSync(configPath) ? (await loadCluster(configPath, { requirePaths: false })).backend : undefined;
  return backend?.type === "postgres" && backend.name ? new PostgresStateStore(target, { name: backend.name }) : storeForTarget(target);
}

/** Loads everything a plan is made from; `inputs` is absent when the configuration has errors. */
export async function loadPlanInputs(opts: PlanInputOptions): Promise<{ inputs?: PlanInputs; diagnostics: Diagnostic[]; configPath: string }> {
  const configPath = defaultConfigPath(opts.config);
  const loaded = await loadCluster(configPath, { strict: opts.strict ?? false, requirePaths: true });
  if (!loaded.cluster) return { diagnostics: loaded.diagnostics, configPath };
  const store = selectStateStore({
    configPath,
    ...(opts.state ? { state: opts.state } : {}),
    ...(opts.stateUrl ? { stateUrl: opts.stateUrl } : {}),
    ...(loaded.cluster.backend ? { backend: loaded.cluster.backend } : {}),
  });
  const localDir = store instanceof LocalStateStore ? dirname(store.path) : dirname(defaultStatePath(configPath));
  const state = await store.read();
  const imageStore = imageStoreDir({ localDir, ...(opts.imageStore ? { flag: opts.imageStore } : {}) });
  // Nodes are served snapshots: from here on the cluster's images point into the store.
  const { cluster, digests: imageDigests } = await resolveImages(loaded.cluster, {
    store: new SnapshotStore(imageStore),
    cacheDir: opts.cacheDir ?? defaultCacheDir(configPath),
    recipeCache: defaultRecipeCache(),
    snapshot: opts.snapshot ?? false,
    inUse: digestsInUse(state),
    ...(opts.logger ? { logger: opts.logger } : {}),
  });
  return { inputs: { configPath, cluster, store, state, localDir, imageDigests, imageStore, inlineSecrets: loaded.inlineSecrets }, diagnostics: loaded.diagnostics, configPath };
}
