// The real NodeDriver: points the provisioning services at the installer for a
// node, makes the node network-boot through its BMC (next boot from the network,
// then power cycle or power on) or asks a person to, and restores local boot when
// the node is done.
import type { DesiredCluster, Node } from "../config/types.js";
import type { NodeChange } from "../plan/types.js";
import { createPowerDriver, PowerError, type DriverFactoryOptions, type PowerDriver } from "../power/index.js";
import type { BootControl } from "../serve/boot-control.js";
import type { NodeObservation } from "../progress/observation.js";
import { nullLogger, type Logger } from "../util/log.js";
import { NodeFailure, type NodeDriver } from "./executor.js";
import type { Phase } from "../progress/phases.js";

export interface ProvisioningDriverOptions {
  cluster: DesiredCluster;
  /** The services: HeadServices in this process, a `metalform serve` session, or the provisioners. */
  control: BootControl;
  /** Resolves a node's BMC password (never logged). */
  password: (node: Node) => string | undefined;
  power?: DriverFactoryOptions;
  /** Shown to a person for nodes without a BMC. */
  ask: (node: string, message: string) => void;
  /**
   * How long a person has to power-cycle a node without BMC before it is asked
   * again (the "power" phase timeout of such nodes unless the operator set one);
   * default 30 min.
   */
  manualTimeoutMs?: number;
  logger?: Logger;
}

export class ProvisioningDriver implements NodeDriver {
  private readonly nodes: Map<string, Node>;
  private readonly log: Logger;
  /** Nodes whose first sign (a DHCP request) someone is waiting for. */
  private readonly waitingForSign = new Map<string, Set<() => void>>();
  private readonly onObservation = (o: NodeObservation) => {
    const waiters = this.waitingForSign.get(o.node);
    if (!waiters) return;
    this.waitingForSign.delete(o.node);
    for (const w of waiters) w();
  };

  constructor(private readonly o: ProvisioningDriverOptions) {
    this.nodes = new Map(o.cluster.nodes.map((n) => [n.name, n]));
    this.log = o.logger ?? nullLogger;
    // One listener for every node: applies with many nodes without a BMC wait on many at once.
    o.control.on("observation", this.onObservation);
  }

  /** Stops listening to the services. */
  close(): void {
    this.o.control.off("observation", this.onObservation);
  }

  private node(name: string): Node {
    const n = this.nodes.get(name);
    if (!n) throw new Error(`${name} is not in the configuration`);
    return n;
  }

  private isManual(node: Node): boolean {
    return !node.bmc || node.bmc.driver === "manual";
  }

  phaseTimeout(change: NodeChange, phase: Phase): number | undefined {
    if (phase !== "power") return undefined;
    const node = this.nodes.get(change.node);
    return node && this.isManual(node) ? (this.o.manualTimeoutMs ?? 30 * 60_000) : undefined;
  }

  async begin(change: NodeChange): Promise<void> {
    await this.o.control.setBootMode(change.node, {
      mode: "install",
      reason: `${change.kind}: ${change.reasons.map((r) => r.message).join("; ")}`,
      // The plan only carries a protected node's wipe when the operator allowed it.
      allowWipe: change.protected && change.wipesDisks,
    });
  }

  private driverFor(node: Node, stop: AbortSignal): PowerDriver {
    return createPowerDriver(node, node.bmc?.password ? this.o.password(node) : undefined, {
      ...this.o.power,
      manual: {
        ...this.o.power?.manual,
        notify: (req) => this.o.ask(node.name, req.message),
        waitFor: (_req, signal) => this.firstSign(node.name, signal, stop),
        // No timer of its own: the executor's power phase timeout ends the wait (through `stop`).
      },
      logger: this.log,
    });
  }

  /**
   * Resolves when the services first see the node (its DHCP request): the person
   * did it. Rejects when the executor stops waiting.
   */
  private firstSign(node: string, settled: AbortSignal, stop: AbortSignal): Promise<void> {
    return new Promise((resolve, reject) => {
      const waiters = this.waitingForSign.get(node) ?? new Set();
      this.waitingForSign.set(node, waiters);
      const finish = (err?: Error) => {
        waiters.delete(seen);
        if (!waiters.size && this.waitingForSign.get(node) === waiters) this.waitingForSign.delete(node);
        settled.removeEventListener("abort", onSettled);
        stop.removeEventListener("abort", onStop);
        if (err) reject(err);
        else resolve();
      };
      const seen = () => finish();
      const onSettled = () => finish();
      const onStop = () => finish(new Error("the apply stopped waiting for it"));
      if (stop.aborted) return onStop();
      waiters.add(seen);
      settled.addEventListener("abort", onSettled, { once: true });
      stop.addEventListener("abort", onStop, { once: true });
    });
  }

  async trigger(change: NodeChange, attempt: number, signal: AbortSignal): Promise<void> {
    const node = this.node(change.node);
    let driver: PowerDriver;
    try {
      driver = this.driverFor(node, signal);
    } catch (e) {
      throw new Error((e as Error).message, { cause: e });
    }
    try {
      // UEFI nodes must be told so (options=efiboot), or many BMCs boot them in legacy mode.
      await driver.setBootDevice("pxe", { persistent: node.firmware.persistentBootDevice, efi: node.firmware.mode === "uefi" });
      const state = await driver.status();
      if (state === "on" || state === "unknown") await driver.cycle();
      else await driver.on();
      this.log.info("power-triggered", { node: node.name, attempt, was: state });
    } catch (e) {
      if (e instanceof PowerError) {
        // An unreachable BMC may come back; wrong credentials will not.
        throw new NodeFailure(e.message, { retryable: e.kind === "unreachable" || e.kind === "failed" });
      }
      throw e;
    }
  }

  async end(change: NodeChange): Promise<void> {
    await this.o.control.setBootMode(change.node, { mode: "local" });
  }

  async update(): Promise<void> {
    // The services already answer with the new configuration (reservation, boot
    // script); nothing runs on the node.
  }

  async remove(change: NodeChange): Promise<void> {
    await this.o.control.removeNode(change.node);
  }
}
