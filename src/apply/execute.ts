// Boots the plan's nodes through a BootControl — this process's own services, a
// running `metalform serve`, or the provisioners — with the real NodeDriver.
import { resolveSecret } from "../config/secrets.js";
import type { PlanInputs } from "../plan/inputs.js";
import type { Plan } from "../plan/types.js";
import type { BootControl } from "../serve/boot-control.js";
import { newState } from "../state/codec.js";
import type { InventoryRecord } from "../state/inventory.js";
import type { Logger } from "../util/log.js";
import { ProvisioningDriver } from "./driver.js";
import { Executor } from "./executor.js";
import type { ApplyResult } from "./results.js";
import type { ApplyRunOptions } from "./run-options.js";

export interface ExecuteOptions {
  inputs: PlanInputs;
  plan: Plan;
  control: BootControl;
  run: ApplyRunOptions;
  log: Logger;
  /** Inventories the services receive (this process's own services: serve records its own). */
  onInventory?: (listener: (r: InventoryRecord) => void) => void;
  /** Default: the run's own stop and interrupt signals. */
  stop?: AbortSignal;
  interrupt?: AbortSignal;
}

export async function execute(x: ExecuteOptions): Promise<ApplyResult> {
  const { cluster } = x.inputs;
  const o = x.run;
  const driver = new ProvisioningDriver({
    cluster,
    control: x.control,
    password: (node) => (node.bmc?.password ? resolveSecret(node.bmc.password, x.inputs.inlineSecrets) : undefined),
    ask: (node, message) => o.say(`${node}: ${message}`),
    logger: x.log.child("power"),
  });
  const stop = x.stop ?? o.stopSignal;
  const interrupt = x.interrupt ?? o.interruptSignal;
  try {
    const state = x.inputs.state ?? newState(cluster.name);
    const exec = new Executor(
      { plan: x.plan, desired: cluster, store: x.inputs.store, state, driver, events: o.events },
      {
        parallelism: o.parallelism,
        canary: o.canary,
        retries: o.retries,
        ...(o.phaseTimeouts ? { phaseTimeouts: o.phaseTimeouts } : {}),
        ...(stop ? { stopSignal: stop } : {}),
        ...(interrupt ? { interruptSignal: interrupt } : {}),
      },
    );
    x.control.on("observation", (obs) => exec.observe(obs.node, obs));
    x.onInventory?.((r) => exec.recordInventory(r));
    return await exec.run();
  } finally {
    driver.close();
  }
}
