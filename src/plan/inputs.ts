// The imperative edge of planning: load the configuration, read the state and
// compute image digests; then the pure planner runs on what this returns. `plan`
// uses it, and so can `apply` (which must re-check a saved plan against the same
// inputs).
import { defaultConfigPath, loadCluster } from "../config/load.js";
import type { Diagnostic } from "../config/diagnostics.js";
import type { DesiredCluster } from "../config/types.js";
import { computeImageDigests, type ImageDigestResult } from "../images/digest.js";
import { LocalStateStore } from "../state/local.js";
import { defaultCacheDir, defaultStatePath } from "../state/paths.js";
import type { ClusterState } from "../state/types.js";

export interface PlanInputOptions {
  /** --config (default: ./cluster.yaml, ./cluster/ or $METALFORM_CONFIG). */
  config?: string;
  /** --state (default: .metalform/state.json beside the configuration). */
  state?: string;
  /** Digest cache directory (default: .metalform/cache beside the configuration). */
  cacheDir?: string;
  strict?: boolean;
}

export interface PlanInputs {
  configPath: string;
  cluster: DesiredCluster;
  store: LocalStateStore;
  state: ClusterState | undefined;
  imageDigests: Map<string, ImageDigestResult>;
  /** Inline secrets by id (config/secrets.ts); never serialized. */
  inlineSecrets: Map<string, string>;
}

export function openStateStore(opts: { config?: string; state?: string }): LocalStateStore {
  return new LocalStateStore(opts.state ?? defaultStatePath(defaultConfigPath(opts.config)));
}

/** Loads everything a plan is made from; `inputs` is absent when the configuration has errors. */
export async function loadPlanInputs(opts: PlanInputOptions): Promise<{ inputs?: PlanInputs; diagnostics: Diagnostic[]; configPath: string }> {
  const configPath = defaultConfigPath(opts.config);
  const loaded = await loadCluster(configPath, { strict: opts.strict ?? false, requirePaths: true });
  if (!loaded.cluster) return { diagnostics: loaded.diagnostics, configPath };
  const store = new LocalStateStore(opts.state ?? defaultStatePath(configPath));
  const state = await store.read();
  const imageDigests = await computeImageDigests(loaded.cluster.images.values(), { cacheDir: opts.cacheDir ?? defaultCacheDir(configPath) });
  return { inputs: { configPath, cluster: loaded.cluster, store, state, imageDigests, inlineSecrets: loaded.inlineSecrets }, diagnostics: loaded.diagnostics, configPath };
}
