// `metalform apply` as a function: lock, plan (or check a saved plan), ask,
// build what nodes fetch, serve, execute, write state, stop. The CLI only parses
// flags and chooses the output.
import { randomUUID } from "node:crypto";
import { hostname, userInfo } from "node:os";
import { join, resolve } from "node:path";
import type { DesiredCluster, Image } from "../config/types.js";
import { resolveSecret } from "../config/secrets.js";
import { buildImageInstaller } from "../installer/for-image.js";
import { loadPlanInputs, type PlanInputs } from "../plan/inputs.js";
import { planChanges } from "../plan/planner.js";
import { checkPlanFresh, readPlanFile } from "../plan/saved.js";
import { hasChanges, type Plan } from "../plan/types.js";
import { newState } from "../state/codec.js";
import { defaultCacheDir } from "../state/paths.js";
import { imageModuleName, imageModules, Provisioner } from "../serve/provisioner.js";
import { reapOrphanRsync } from "../serve/orphans.js";
import { RsyncDaemon } from "../services/rsync/daemon.js";
import { PostgresStateStore } from "../state/postgres.js";
import { ClusterBootControl } from "../provisioners/cluster-control.js";
import { networkKey, ProvisioningDb } from "../provisioners/db.js";
import type { BootControl } from "../serve/boot-control.js";
import { connectServe, type ServeSession } from "../serve/control-client.js";
import { controlSocketPath } from "../serve/control-protocol.js";
import { nullLogger, type Logger } from "../util/log.js";
import type { Diagnostic } from "../config/diagnostics.js";
import { ProvisioningDriver } from "./driver.js";
import type { EventSink } from "./events.js";
import { Executor, type ApplyResult } from "./executor.js";
import type { Phase } from "../progress/phases.js";

export class ApplyRefused extends Error {}

export interface ApplyRunOptions {
  config?: string;
  state?: string;
  /** Apply exactly this saved plan (no question asked; refused when stale). */
  planFile?: string;
  autoApprove: boolean;
  /** Standard input and output are a terminal: the question may be asked. */
  interactive: boolean;
  target: string[];
  allowWipe: string[];
  parallelism: number;
  canary: number;
  retries: number;
  lockTimeoutMs: number;
  phaseTimeouts?: Partial<Record<Phase, number>>;
  /** Override where the services bind (tests, the lab); default network.address / interface. */
  bindAddress?: string;
  bindInterface?: string | null;
  tftpRoot?: string;
  /** Shows the plan before the question (terminal renderer chosen by the CLI). */
  showPlan: (plan: Plan) => void;
  /** Asks "apply?"; true to go on. */
  confirm: (plan: Plan) => Promise<boolean>;
  /** A line for a person (manual power-cycles, notes). */
  say: (line: string) => void;
  events: EventSink;
  stopSignal?: AbortSignal;
  interruptSignal?: AbortSignal;
  logger?: Logger;
  /**
   * Use a running `metalform serve` for this cluster when its control socket
   * answers (default true); false always starts the services here.
   */
  useServe?: boolean;
  /**
   * With a PostgreSQL state: hand installs to registered provisioners (`serve --role
   * provisioner`). "auto" (default) when any is alive, "required" refuses without one,
   * "none" serves from here.
   */
  provisioners?: "auto" | "none" | "required";
  /** A provisioner silent this long is dead and its installs move (default 60 s). */
  failoverTimeoutMs?: number;
  /** How long installs wait for every live provisioner to copy the images (default 30 min). */
  copyTimeoutMs?: number;
}

export interface ApplyOutcome {
  diagnostics: Diagnostic[];
  plan?: Plan;
  result?: ApplyResult;
  /** Nothing to do. */
  noChanges?: boolean;
}

async function planFor(inputs: PlanInputs, o: ApplyRunOptions): Promise<Plan> {
  if (!o.planFile) {
    return planChanges(inputs.cluster, inputs.state, { imageDigests: inputs.imageDigests, target: o.target, allowWipe: o.allowWipe });
  }
  const saved = await readPlanFile(o.planFile);
  const fresh = checkPlanFresh(saved, inputs.state, inputs.cluster.digest);
  if (!fresh.fresh) {
    throw new ApplyRefused(`the saved plan ${o.planFile} is stale: ${fresh.problems.map((p) => p.message).join("; ")}. Run metalform plan again.`);
  }
  // The plan was made from these image contents; refuse if an image moved on since.
  for (const c of saved.imageChanges) {
    const now = inputs.imageDigests.get(c.image);
    if (c.after && now && c.after.digest !== now.digest) {
      throw new ApplyRefused(`the saved plan ${o.planFile} is stale: image ${c.image} changed since it was made. Run metalform plan again.`);
    }
  }
  return saved;
}

export async function runApply(o: ApplyRunOptions): Promise<ApplyOutcome> {
  const log = o.logger ?? nullLogger;
  const loaded = await loadPlanInputs({ config: o.config, state: o.state });
  if (!loaded.inputs) return { diagnostics: loaded.diagnostics };
  const inputs = loaded.inputs;
  const { cluster, store } = inputs;
  const lock = await store.lock({ operation: "apply", owner: `${safeUser()}@${hostname()}` }, o.lockTimeoutMs);
  let provisioner: Provisioner | undefined;
  let session: ServeSession | undefined;
  try {
    // What another writer may have done before we held the lock counts.
    inputs.state = await store.read();
    const plan = await planFor(inputs, o);
    if (!hasChanges(plan)) return { diagnostics: loaded.diagnostics, plan, noChanges: true };
    if (!o.planFile) {
      o.showPlan(plan);
      if (!o.autoApprove) {
        if (!o.interactive) {
          throw new ApplyRefused("not applying: no terminal to ask in. Use --auto-approve, or save a plan with `metalform plan --out FILE` and run `metalform apply FILE`.");
        }
        if (!(await o.confirm(plan))) throw new ApplyRefused("Apply cancelled.");
      }
    }
    const fleet = await openFleet(store, o, log);
    if (fleet) {
      return { diagnostics: loaded.diagnostics, plan, result: await runWithProvisioners(fleet, inputs, plan, o, log) };
    }
    const cacheDir = defaultCacheDir(loaded.configPath);
    const workDir = join(inputs.localDir, "serve");
    // The installer runs on the image's own kernel, so its modules come from the image.
    const installers = new Map<string, string>();
    const needed = imagesToBoot(plan, cluster);
    for (const img of cluster.images.values()) {
      if (!needed.has(img.name)) continue;
      const built = await buildImageInstaller(img, cacheDir, log.child("installer"));
      log.info("installer-ready", { image: img.name, path: built.path, bytes: built.bytes, cached: built.cached, missingModules: built.missingModules });
      installers.set(img.name, built.path);
    }
    // The apply ends early (as if interrupted twice) when a serve it relies on goes away.
    const lost = new AbortController();
    let control: BootControl;
    if (o.useServe !== false) {
      const socketPath = controlSocketPath(inputs.localDir);
      session = await connectServe(socketPath, {
        pid: process.pid,
        cluster: cluster.name,
        configPath: resolve(loaded.configPath),
        configDigest: cluster.digest,
        imageDigests: Object.fromEntries([...inputs.imageDigests].map(([name, d]) => [name, d.digest])),
        installers: Object.fromEntries(installers),
      });
      if (session) {
        o.say(`Using the running metalform serve (pid ${session.servePid}) through ${socketPath}${session.reconfigured ? "; it reloaded the configuration" : ""}.`);
        session.on("close", ({ unexpected }) => {
          if (!unexpected) return;
          o.say("metalform serve went away: no node can be followed any more; stopping.");
          lost.abort();
        });
      }
    }
    if (session) {
      control = session;
    } else {
      provisioner = new Provisioner({
        cluster,
        inlineSecrets: inputs.inlineSecrets,
        workDir,
        imageDigests: inputs.imageDigests,
        installerFor: (img: Image) => installers.get(img.name),
        ...(o.tftpRoot ? { tftpRoot: o.tftpRoot } : {}),
        ...(o.bindAddress ? { address: o.bindAddress } : {}),
        ...(o.bindInterface !== undefined ? { bindInterface: o.bindInterface } : {}),
        logger: log.child("serve"),
      });
      await provisioner.start();
      control = provisioner;
    }
    const result = await execute(inputs, plan, control, o, log, {
      stop: AbortSignal.any([lost.signal, ...(o.stopSignal ? [o.stopSignal] : [])]),
      interrupt: AbortSignal.any([lost.signal, ...(o.interruptSignal ? [o.interruptSignal] : [])]),
    });
    return { diagnostics: loaded.diagnostics, plan, result };
  } finally {
    // Released by serve anyway when the connection ends; asking first is tidier.
    await session?.release().catch(() => undefined);
    await provisioner?.stop();
    await lock.release();
  }
}

/** Boots the plan's nodes through `control` (this process's services, a serve, or the provisioners). */
async function execute(
  inputs: PlanInputs,
  plan: Plan,
  control: BootControl,
  o: ApplyRunOptions,
  log: Logger,
  signals: { stop?: AbortSignal; interrupt?: AbortSignal },
): Promise<ApplyResult> {
  const { cluster } = inputs;
  const driver = new ProvisioningDriver({
    cluster,
    provisioner: control,
    password: (node) => (node.bmc?.password ? resolveSecret(node.bmc.password, inputs.inlineSecrets) : undefined),
    ask: (node, message) => o.say(`${node}: ${message}`),
    logger: log.child("power"),
  });
  try {
    const state = inputs.state ?? newState(cluster.name);
    const exec = new Executor({ plan, desired: cluster, store: inputs.store, state, driver, events: o.events }, {
      parallelism: o.parallelism,
      canary: o.canary,
      retries: o.retries,
      ...(o.phaseTimeouts ? { phaseTimeouts: o.phaseTimeouts } : {}),
      ...(signals.stop ? { stopSignal: signals.stop } : {}),
      ...(signals.interrupt ? { interruptSignal: signals.interrupt } : {}),
    });
    control.on("observation", (obs) => exec.observe(obs.node, obs));
    return await exec.run();
  } finally {
    driver.close();
  }
}

/**
 * The provisioners to hand installs to, when the state is in PostgreSQL and some are
 * alive (or required); undefined: serve from here.
 */
async function openFleet(store: unknown, o: ApplyRunOptions, log: Logger): Promise<{ db: ProvisioningDb; live: number } | undefined> {
  const mode = o.provisioners ?? "auto";
  if (mode === "none") return undefined;
  if (!(store instanceof PostgresStateStore)) {
    if (mode === "required") throw new ApplyRefused("--provisioners required needs the state in PostgreSQL (provisioners register there)");
    return undefined;
  }
  const db = new ProvisioningDb(store.database, "metalform-apply");
  const failover = o.failoverTimeoutMs ?? 60_000;
  let live = 0;
  try {
    live = (await db.liveProvisioners(failover)).length;
  } catch (e) {
    await db.close();
    throw e;
  }
  if (!live) {
    await db.close();
    if (mode === "required") throw new ApplyRefused("no provisioner is alive: start `metalform serve --role provisioner` on the provisioning servers");
    log.info("no-provisioners", {});
    return undefined;
  }
  return { db, live };
}

/** Apply through the provisioners: publish the images, hand out installs, follow them. */
async function runWithProvisioners(fleet: { db: ProvisioningDb; live: number }, inputs: PlanInputs, plan: Plan, o: ApplyRunOptions, log: Logger): Promise<ApplyResult> {
  const { cluster } = inputs;
  const applyId = randomUUID();
  const address = o.bindAddress ?? cluster.network.address;
  // The head's images are the source the provisioners copy from.
  const source = new RsyncDaemon({
    runDir: join(inputs.localDir, "image-source"),
    address,
    port: cluster.network.ports.rsync,
    modules: imageModules(cluster.images.values()),
    logger: log.child("image-source"),
  });
  const control = new ClusterBootControl({
    db: fleet.db,
    applyId,
    cluster,
    imageDigests: inputs.imageDigests,
    ...(o.failoverTimeoutMs !== undefined ? { failoverTimeoutMs: o.failoverTimeoutMs } : {}),
    logger: log.child("provisioners"),
  });
  try {
    await reapOrphanRsync(join(inputs.localDir, "image-source", "rsyncd.conf"), log);
    await source.start();
    const needed = imagesToBoot(plan, cluster);
    await fleet.db.publishImages(
      [...cluster.images.values()]
        .filter((i) => needed.has(i.name) && inputs.imageDigests.has(i.name))
        .map((i) => ({ image: i.name, digest: inputs.imageDigests.get(i.name)!.digest, url: `rsync://${address}:${cluster.network.ports.rsync}/${imageModuleName(i.name)}/` })),
      applyId,
    );
    await waitForCopies(fleet.db, [...needed], inputs.imageDigests, o, log);
    await control.start();
    const authority = await fleet.db.authority(networkKey(cluster));
    o.say(
      `Handing installs to ${fleet.live} provisioner${fleet.live === 1 ? "" : "s"}; ` +
        (authority && authority.remainingMs > 0 ? `DHCP on ${networkKey(cluster)} is answered by ${authority.holder}.` : `no provisioner answers DHCP on ${networkKey(cluster)} yet.`),
    );
    return await execute(inputs, plan, control, o, log, { ...(o.stopSignal ? { stop: o.stopSignal } : {}), ...(o.interruptSignal ? { interrupt: o.interruptSignal } : {}) });
  } finally {
    await control.close();
    await source.stop().catch(() => undefined);
  }
}

/**
 * Before any node is handed out, the live provisioners copy the images (so the
 * installs spread over all of them); a provisioner still copying after `copyTimeoutMs`
 * is left out until it has them.
 */
async function waitForCopies(db: ProvisioningDb, images: string[], digests: ReadonlyMap<string, { digest: string }>, o: ApplyRunOptions, log: Logger): Promise<void> {
  const timeoutMs = o.copyTimeoutMs ?? 30 * 60_000;
  const failover = o.failoverTimeoutMs ?? 60_000;
  const t0 = Date.now();
  let said = "";
  for (;;) {
    const live = await db.liveProvisioners(failover);
    const failed = live.flatMap((p) =>
      images.flatMap((i) => {
        const why = p.copyErrors[`${i}@${digests.get(i)?.digest}`];
        return why && p.images[i] !== digests.get(i)?.digest ? [`${p.name} (${i}: ${why})`] : [];
      }),
    );
    const missing = live.flatMap((p) =>
      images.filter((i) => p.images[i] !== digests.get(i)?.digest && !p.copyErrors[`${i}@${digests.get(i)?.digest}`]).map((i) => `${p.name} (${i})`),
    );
    if (!missing.length || o.stopSignal?.aborted || Date.now() - t0 > timeoutMs) {
      if (missing.length) {
        log.warn("copies-incomplete", { missing });
        o.say(`Going on without ${missing.join(", ")}: still copying after ${Math.round((Date.now() - t0) / 1000)} s.`);
      }
      if (failed.length) o.say(`Going on without ${failed.join("; ")}: the copy failed.`);
      // Somebody must hold every image the plan installs.
      for (const i of images) {
        if (!live.some((p) => p.images[i] === digests.get(i)?.digest)) {
          throw new ApplyRefused(`no live provisioner holds image ${i} at ${digests.get(i)?.digest}${failed.length ? `: ${failed.join("; ")}` : ""}`);
        }
      }
      return;
    }
    const line = `Waiting for provisioners to copy images: ${missing.join(", ")}`;
    if (line !== said) o.say((said = line));
    await new Promise((r) => setTimeout(r, 250));
  }
}

/** The images of the nodes this plan boots into the installer (removes and updates boot nothing). */
function imagesToBoot(plan: Plan, cluster: DesiredCluster): Set<string> {
  const imageOf = new Map(cluster.nodes.map((n) => [n.name, n.image]));
  return new Set(plan.nodeChanges.filter((c) => c.kind !== "remove" && c.kind !== "update").flatMap((c) => imageOf.get(c.node) ?? []));
}

function safeUser(): string {
  try {
    return userInfo().username;
  } catch {
    return "unknown";
  }
}
