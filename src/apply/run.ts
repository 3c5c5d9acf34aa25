// `metalform apply` as a function: lock, plan (or check a saved plan), ask,
// build what nodes fetch, serve, execute, write state, stop. The CLI only parses
// flags and chooses the output.
import type { InventoryRecord } from "../state/inventory.js";
import { hostname, userInfo } from "node:os";
import { join, resolve } from "node:path";
import type { Diagnostic } from "../config/diagnostics.js";
import type { Image } from "../config/types.js";
import { loadPlanInputs, type PlanInputs } from "../plan/inputs.js";
import { planChanges } from "../plan/planner.js";
import { checkPlanFresh, readPlanFile } from "../plan/saved.js";
import { hasChanges, type Plan } from "../plan/types.js";
import type { BootControl } from "../serve/boot-control.js";
import { connectServe, type ServeSession } from "../serve/control-client.js";
import { controlSocketPath } from "../serve/control-protocol.js";
import { HeadServices } from "../serve/head-services.js";
import { defaultCacheDir } from "../state/paths.js";
import { nullLogger, type Logger } from "../util/log.js";
import { buildInstallers } from "./boot-images.js";
import { execute } from "./execute.js";
import type { ApplyResult } from "./results.js";
import { ApplyRefused, type ApplyRunOptions } from "./run-options.js";
import { openFleet, runWithProvisioners } from "./through-provisioners.js";

export { ApplyRefused, type ApplyRunOptions } from "./run-options.js";

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

/** Shows the plan and asks, unless a saved plan or --auto-approve says so already. */
async function approve(plan: Plan, o: ApplyRunOptions): Promise<void> {
  if (o.planFile) return;
  o.showPlan(plan);
  if (o.autoApprove) return;
  if (!o.interactive) {
    throw new ApplyRefused("not applying: no terminal to ask in. Use --auto-approve, or save a plan with `metalform plan --out FILE` and run `metalform apply FILE`.");
  }
  if (!(await o.confirm(plan))) throw new ApplyRefused("Apply cancelled.");
}

export async function runApply(o: ApplyRunOptions): Promise<ApplyOutcome> {
  const log = o.logger ?? nullLogger;
  // Snapshots of every image: what the nodes are served cannot change under the apply.
  const loaded = await loadPlanInputs({ config: o.config, state: o.state, snapshot: true, logger: log.child("images") });
  if (!loaded.inputs) return { diagnostics: loaded.diagnostics };
  const inputs = loaded.inputs;
  const { diagnostics } = loaded;
  const lock = await inputs.store.lock({ operation: "apply", owner: `${safeUser()}@${hostname()}` }, o.lockTimeoutMs);
  try {
    // What another writer may have done before we held the lock counts.
    inputs.state = await inputs.store.read();
    const plan = await planFor(inputs, o);
    if (!hasChanges(plan)) return { diagnostics, plan, noChanges: true };
    await approve(plan, o);
    const fleet = await openFleet(inputs.store, o, log);
    if (fleet) return { diagnostics, plan, result: await runWithProvisioners({ fleet, inputs, plan, run: o, log }) };
    const installers = await buildInstallers(plan, inputs.cluster, { cacheDir: defaultCacheDir(loaded.configPath), log });
    return { diagnostics, plan, result: await runHere({ inputs, plan, installers, configPath: loaded.configPath, run: o, log }) };
  } finally {
    await lock.release();
  }
}

/** An apply served from this machine: through a running serve, or services of its own. */
interface HereApply {
  inputs: PlanInputs;
  plan: Plan;
  /** Image name → installer initramfs. */
  installers: Map<string, string>;
  configPath: string;
  run: ApplyRunOptions;
  log: Logger;
}

async function runHere(x: HereApply): Promise<ApplyResult> {
  // The apply ends early (as if interrupted twice) when a serve it relies on goes away.
  const lost = new AbortController();
  const session = x.run.useServe !== false ? await openServeSession(x, lost) : undefined;
  let services: HeadServices | undefined;
  try {
    let control: BootControl;
    if (session) control = session;
    else {
      services = ownServices(x);
      await services.start();
      control = services;
    }
    const o = x.run;
    return await execute({
      inputs: x.inputs,
      plan: x.plan,
      control,
      run: o,
      log: x.log,
      ...(services ? { onInventory: (fn: (r: InventoryRecord) => void) => void services!.on("inventory", fn) } : {}),
      stop: AbortSignal.any([lost.signal, ...(o.stopSignal ? [o.stopSignal] : [])]),
      interrupt: AbortSignal.any([lost.signal, ...(o.interruptSignal ? [o.interruptSignal] : [])]),
    });
  } finally {
    // Released by serve anyway when the connection ends; asking first is tidier.
    await session?.release().catch(() => undefined);
    await services?.stop();
  }
}

/** A session with the `metalform serve` of this cluster, when one listens. */
async function openServeSession(x: HereApply, lost: AbortController): Promise<ServeSession | undefined> {
  const { cluster, imageDigests, localDir } = x.inputs;
  const socketPath = controlSocketPath(localDir);
  const session = await connectServe(socketPath, {
    pid: process.pid,
    cluster: cluster.name,
    configPath: resolve(x.configPath),
    configDigest: cluster.digest,
    imageDigests: Object.fromEntries([...imageDigests].map(([name, d]) => [name, d.digest])),
    installers: Object.fromEntries(x.installers),
  });
  if (!session) return undefined;
  x.run.say(`Using the running metalform serve (pid ${session.servePid}) through ${socketPath}${session.reconfigured ? "; it reloaded the configuration" : ""}.`);
  session.on("close", ({ unexpected }) => {
    if (!unexpected) return;
    x.run.say("metalform serve went away: no node can be followed any more; stopping.");
    lost.abort();
  });
  return session;
}

/** The head's services in this process, for the length of the apply. */
function ownServices(x: HereApply): HeadServices {
  const o = x.run;
  return new HeadServices({
    cluster: x.inputs.cluster,
    inlineSecrets: x.inputs.inlineSecrets,
    workDir: join(x.inputs.localDir, "serve"),
    imageDigests: x.inputs.imageDigests,
    installerFor: (img: Image) => x.installers.get(img.name),
    ...(o.tftpRoot ? { tftpRoot: o.tftpRoot } : {}),
    ...(o.bindAddress ? { address: o.bindAddress } : {}),
    ...(o.bindInterface !== undefined ? { bindInterface: o.bindInterface } : {}),
    ...(o.installWindowMs ? { installWindowMs: o.installWindowMs } : {}),
    logger: x.log.child("serve"),
  });
}

function safeUser(): string {
  try {
    return userInfo().username;
  } catch {
    return "unknown";
  }
}
