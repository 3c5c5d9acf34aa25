// `metalform serve` (the head's role) as a function: load the configuration, refuse
// beside live provisioners, start the control socket and the services, serve until
// told to stop. The CLI only parses flags and chooses the log format.
import { join } from "node:path";
import { summarizeDiagnostics, type Diagnostic } from "../config/diagnostics.js";
import { loadPlanInputs } from "../plan/inputs.js";
import type { Logger } from "../util/log.js";
import { checkHello, type Reloaded } from "./control-hello.js";
import { controlSocketPath } from "./control-protocol.js";
import { ControlServer, ControlServerError } from "./control-server.js";
import { HeadServices } from "./head-services.js";

/** serve will not run (bad configuration, provisioners registered): the message says why. */
export class ServeWillNotRun extends Error {}

export interface ServeRunOptions {
  config?: string;
  state?: string;
  bindAddress?: string;
  /** null: DHCP binds to no interface. */
  bindInterface?: string | null;
  tftpRoot?: string;
  /** Upper bound of one install attempt and its credentials (default 2 h; docs/security.md). */
  installWindowMs?: number;
  logger: Logger;
  /** Resolves when serve should stop. */
  until: Promise<void>;
  /** Registers what to run when serve is told to reload its configuration (the CLI: SIGHUP). */
  onReload?: (reload: () => Promise<void>) => void;
  onDiagnostics?: (d: Diagnostic[]) => void;
  /** Names of live provisioners for this state (their DHCP would fight ours). */
  liveProvisioners: (store: unknown) => Promise<string[]>;
}

async function load(o: Pick<ServeRunOptions, "config" | "state">) {
  // Snapshots of every image: what serve hands out cannot change while it runs.
  return loadPlanInputs({ ...(o.config ? { config: o.config } : {}), ...(o.state ? { state: o.state } : {}), snapshot: true });
}

export async function runServe(o: ServeRunOptions): Promise<void> {
  const loaded = await load(o);
  if (loaded.diagnostics.length) o.onDiagnostics?.(loaded.diagnostics);
  if (!loaded.inputs) throw new ServeWillNotRun(`${loaded.configPath}: ${summarizeDiagnostics(loaded.diagnostics)}; not serving`);
  const { cluster, store, imageDigests, inlineSecrets, localDir } = loaded.inputs;
  const live = await o.liveProvisioners(store);
  if (live.length) {
    // Two DHCP servers on one network would fight; the provisioners elect theirs.
    throw new ServeWillNotRun(
      `provisioners are registered for this state (${live.join(", ")}): they answer DHCP and serve the installs. ` +
        "To serve from this machine too, run `metalform serve --role provisioner` here; or stop them first.",
    );
  }
  const services = new HeadServices({
    cluster,
    inlineSecrets,
    workDir: join(localDir, "serve"),
    imageDigests,
    // Serving alone never starts an installation: an apply hands over its installers.
    installerFor: () => undefined,
    ...(o.tftpRoot ? { tftpRoot: o.tftpRoot } : {}),
    ...(o.bindAddress ? { address: o.bindAddress } : {}),
    ...(o.bindInterface !== undefined ? { bindInterface: o.bindInterface } : {}),
    ...(o.installWindowMs ? { installWindowMs: o.installWindowMs } : {}),
    logger: o.logger,
  });
  services.on("observation", (obs) => o.logger.info("node", { ...obs }));
  const control = controlServer(o, services, { socket: controlSocketPath(localDir), configPath: loaded.configPath });
  await startAll(control, services, o.logger);
  let reloads = Promise.resolve(); // one reload at a time, in the order asked
  o.onReload?.(() => (reloads = reloads.then(() => reloadServe(o, services))));
  await o.until;
  o.logger.info("stopping", {});
  await control.stop();
  await services.stop();
}

/** An apply for this cluster talks to serve here instead of starting services of its own. */
function controlServer(o: ServeRunOptions, services: HeadServices, where: { socket: string; configPath: string }): ControlServer {
  const reload = async (): Promise<Reloaded | { error: string }> => {
    const again = await load(o);
    if (!again.inputs) return { error: `${again.configPath}: ${summarizeDiagnostics(again.diagnostics)}` };
    return { cluster: again.inputs.cluster, imageDigests: again.inputs.imageDigests, inlineSecrets: again.inputs.inlineSecrets };
  };
  return new ControlServer({
    path: where.socket,
    target: services,
    knowsNode: (n) => services.knowsNode(n),
    accept: (hello) => checkHello(hello, { services, configPath: where.configPath, reload, logger: o.logger }),
    logger: o.logger.child("control"),
  });
}

/** The socket first: a second serve for this cluster stops there, before it fights for the ports. */
async function startAll(control: ControlServer, services: HeadServices, log: Logger): Promise<void> {
  try {
    await control.start();
  } catch (e) {
    if (e instanceof ControlServerError) throw e;
    // E.g. a path longer than a Unix socket allows: serve anyway; apply then cannot hand over.
    log.warn("control-socket-unavailable", { path: control.path, error: (e as Error).message });
  }
  try {
    await services.start();
  } catch (e) {
    await control.stop();
    throw e;
  }
}

/**
 * Reads the configuration again and serves it (reservations, images, rsync modules,
 * secrets); a configuration with errors is logged and the running one kept.
 */
export async function reloadServe(o: Pick<ServeRunOptions, "config" | "state" | "logger" | "onDiagnostics">, services: HeadServices): Promise<void> {
  try {
    const again = await load(o);
    if (again.diagnostics.length) o.onDiagnostics?.(again.diagnostics);
    if (!again.inputs) {
      o.logger.error("reload-refused", { config: again.configPath, problems: summarizeDiagnostics(again.diagnostics), keeping: services.config.digest });
      return;
    }
    const { cluster, imageDigests, inlineSecrets } = again.inputs;
    await services.reconfigure(cluster, { imageDigests, inlineSecrets });
    o.logger.info("reloaded", { config: again.configPath, digest: cluster.digest, nodes: cluster.nodes.length });
  } catch (e) {
    o.logger.error("reload-failed", { error: (e as Error).message, keeping: services.config.digest });
  }
}
