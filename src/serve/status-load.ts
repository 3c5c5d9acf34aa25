// The imperative edge of `metalform status`: the configuration (its nodes; images are
// not resolved, so status stays fast), the state, and the agents' records serve keeps
// beside the local state (.metalform/serve/agents.json).
import { dirname, join } from "node:path";
import { defaultConfigPath, loadCluster } from "../config/load.js";
import type { Diagnostic } from "../config/diagnostics.js";
import { LocalStateStore } from "../state/local.js";
import { defaultStatePath } from "../state/paths.js";
import { selectStateStore } from "../state/select.js";
import { AGENTS_FILE, readAgentsFile } from "./node-agents.js";
import type { ObservedNode } from "../plan/refresh.js";
import { groupStatuses, nodeStatuses, observedNodes, type NodeStatus, type StatusGroup } from "./status.js";

export interface StatusLoadOptions {
  config?: string;
  state?: string;
  downAfterMs?: number;
  now?: Date;
}

export interface LoadedStatus {
  cluster: string;
  now: Date;
  statuses: NodeStatus[];
  groups: StatusGroup[];
  /** Where the agents' records were read from. */
  agentsFile: string;
}

export async function loadStatus(o: StatusLoadOptions): Promise<{ status?: LoadedStatus; diagnostics: Diagnostic[]; configPath: string }> {
  const configPath = defaultConfigPath(o.config);
  const loaded = await loadCluster(configPath, { requirePaths: false });
  if (!loaded.cluster) return { diagnostics: loaded.diagnostics, configPath };
  const c = loaded.cluster;
  const store = selectStateStore({ configPath, ...(o.state ? { state: o.state } : {}), ...(c.backend ? { backend: c.backend } : {}) });
  const localDir = store instanceof LocalStateStore ? dirname(store.path) : dirname(defaultStatePath(configPath));
  const state = await store.read().finally(() => store.close?.());
  const agentsFile = join(localDir, "serve", AGENTS_FILE);
  const now = o.now ?? new Date();
  const statuses = nodeStatuses(c, state, readAgentsFile(agentsFile), { now, ...(o.downAfterMs ? { downAfterMs: o.downAfterMs } : {}) });
  return { status: { cluster: c.name, now, statuses, groups: groupStatuses(statuses), agentsFile }, diagnostics: loaded.diagnostics, configPath };
}

/** `plan --refresh`: what the agents reported, from serve's agents file beside the local state. */
export function loadObserved(localDir: string, o: { now?: Date; downAfterMs?: number } = {}): Map<string, ObservedNode> {
  const agents = readAgentsFile(join(localDir, "serve", AGENTS_FILE));
  return observedNodes(agents, { now: o.now ?? new Date(), ...(o.downAfterMs ? { downAfterMs: o.downAfterMs } : {}) });
}
