// `metalform serve --role provisioner` as a function: load the configuration, find
// the PostgreSQL state it shares with the head node, run the agent until told to stop.
import { join } from "node:path";
import { summarizeDiagnostics, type Diagnostic } from "../config/diagnostics.js";
import { loadPlanInputs } from "../plan/inputs.js";
import { PostgresStateStore } from "../state/postgres.js";
import type { Logger } from "../util/log.js";
import { ProvisionerAgent } from "./agent.js";
import { ProvisioningDb } from "./db.js";

export class ProvisionerRefused extends Error {}

export interface ProvisionerRunOptions {
  config?: string;
  state?: string;
  name: string;
  address: string;
  bindInterface?: string | null;
  slots: number;
  categories: string[];
  nodePatterns: string[];
  dhcpCandidate: boolean;
  heartbeatMs: number;
  /** An apply silent this long died: its nodes go back to local boot. */
  applyTimeoutMs?: number;
  /** Where copies of images, installers and the services' files live (default .metalform/provisioner-NAME beside the configuration). */
  workDir?: string;
  tftpRoot?: string;
  /** Upper bound of one install attempt and its credentials (default 2 h; docs/security.md). */
  installWindowMs?: number;
  logger: Logger;
  /** Resolves when the provisioner should stop. */
  until: Promise<void>;
  /** Called once serving (tests, readiness). */
  onReady?: (agent: ProvisionerAgent) => void;
  onDiagnostics?: (d: Diagnostic[]) => void;
}

const NAME_RE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/;

export async function runProvisioner(o: ProvisionerRunOptions): Promise<void> {
  if (!NAME_RE.test(o.name)) throw new ProvisionerRefused(`--name ${JSON.stringify(o.name)}: letters, digits, ".", "_" and "-" only`);
  if (!Number.isInteger(o.slots) || o.slots < 1) throw new ProvisionerRefused(`--slots ${o.slots}: a whole number of at least 1`);
  const load = async () => {
    const loaded = await loadPlanInputs({ ...(o.config ? { config: o.config } : {}), ...(o.state ? { state: o.state } : {}) });
    if (loaded.diagnostics.length) o.onDiagnostics?.(loaded.diagnostics);
    if (!loaded.inputs) throw new ProvisionerRefused(`${loaded.configPath}: ${summarizeDiagnostics(loaded.diagnostics)}; not serving`);
    return { inputs: loaded.inputs, configPath: loaded.configPath };
  };
  const first = await load();
  const store = first.inputs.store;
  if (!(store instanceof PostgresStateStore)) {
    throw new ProvisionerRefused(
      "a provisioner shares the state with the head node in PostgreSQL: give --state postgres://… (or METALFORM_STATE_URL, or backend: {type: postgres} in the configuration)",
    );
  }
  const db = new ProvisioningDb(store.database, `metalform-provisioner-${o.name}`);
  let reloads = 0;
  const agent = new ProvisionerAgent({
    db,
    name: o.name,
    address: o.address,
    ...(o.bindInterface !== undefined ? { bindInterface: o.bindInterface } : {}),
    slots: o.slots,
    categories: o.categories,
    nodePatterns: o.nodePatterns,
    dhcpCandidate: o.dhcpCandidate,
    heartbeatMs: o.heartbeatMs,
    ...(o.applyTimeoutMs ? { applyTimeoutMs: o.applyTimeoutMs } : {}),
    workDir: o.workDir ?? join(first.inputs.localDir, `provisioner-${o.name}`),
    ...(o.tftpRoot ? { tftpRoot: o.tftpRoot } : {}),
    ...(o.installWindowMs ? { installWindowMs: o.installWindowMs } : {}),
    load: async () => {
      const { inputs } = reloads++ === 0 ? first : await load();
      return { cluster: inputs.cluster, inlineSecrets: inputs.inlineSecrets };
    },
    logger: o.logger,
  });
  try {
    await agent.start();
  } catch (e) {
    await agent.stop().catch(() => {});
    throw e;
  }
  o.onReady?.(agent);
  await o.until;
  o.logger.info("stopping", { name: o.name });
  await agent.stop();
}
