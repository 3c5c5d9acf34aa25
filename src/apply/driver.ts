// The real NodeDriver: points the provisioning services at the installer for a
// node, makes the node network-boot through its BMC (next boot from the network,
// then power cycle or power on) or asks a person to, and restores local boot when
// the node is done.
import type { DesiredCluster, Node } from "../config/types.js";
import type { NodeChange } from "../plan/types.js";
import { createPowerDriver, PowerError, type DriverFactoryOptions, type PowerDriver } from "../power/index.js";
import type { Provisioner } from "../serve/provisioner.js";
import type { NodeObservation } from "../serve/tracker.js";
import { nullLogger, type Logger } from "../util/log.js";
import { NodeFailure, type NodeDriver } from "./executor.js";

export interface ProvisioningDriverOptions {
  cluster: DesiredCluster;
  provisioner: Provisioner;
  /** Resolves a node's BMC password (never logged). */
  password: (node: Node) => string | undefined;
  power?: DriverFactoryOptions;
  /** Shown to a person for nodes without a BMC. */
  ask: (node: string, message: string) => void;
  /** How long a person has to power-cycle a node without BMC; default 30 min. */
  manualTimeoutMs?: number;
  logger?: Logger;
}

export class ProvisioningDriver implements NodeDriver {
  private readonly nodes: Map<string, Node>;
  private readonly log: Logger;

  constructor(private readonly o: ProvisioningDriverOptions) {
    this.nodes = new Map(o.cluster.nodes.map((n) => [n.name, n]));
    this.log = o.logger ?? nullLogger;
  }

  private node(name: string): Node {
    const n = this.nodes.get(name);
    if (!n) throw new Error(`${name} is not in the configuration`);
    return n;
  }

  async begin(change: NodeChange): Promise<void> {
    this.o.provisioner.setBootMode(change.node, {
      mode: "install",
      reason: `${change.kind}: ${change.reasons.map((r) => r.message).join("; ")}`,
      // The plan only carries a protected node's wipe when the operator allowed it.
      allowWipe: change.protected && change.wipesDisks,
    });
  }

  private driverFor(node: Node): PowerDriver {
    return createPowerDriver(node, node.bmc?.password ? this.o.password(node) : undefined, {
      ...this.o.power,
      manual: {
        ...this.o.power?.manual,
        notify: (req) => this.o.ask(node.name, req.message),
        waitFor: (_req, signal) => this.firstSign(node.name, signal),
        timeoutMs: this.o.manualTimeoutMs ?? 30 * 60_000,
      },
      logger: this.log,
    });
  }

  /** Resolves when the services first see the node (its DHCP request): the person did it. */
  private firstSign(node: string, signal: AbortSignal): Promise<void> {
    return new Promise((resolve) => {
      const on = (o: NodeObservation) => {
        if (o.node !== node) return;
        this.o.provisioner.off("observation", on);
        resolve();
      };
      this.o.provisioner.on("observation", on);
      signal.addEventListener("abort", () => {
        this.o.provisioner.off("observation", on);
        resolve();
      });
    });
  }

  async trigger(change: NodeChange, attempt: number): Promise<void> {
    const node = this.node(change.node);
    let driver: PowerDriver;
    try {
      driver = this.driverFor(node);
    } catch (e) {
      throw new Error((e as Error).message);
    }
    try {
      await driver.setBootDevice("pxe", { persistent: false });
      const state = await driver.status();
      if (state === "on" || state === "unknown") await driver.cycle();
      else await driver.on();
      this.log.info("power-triggered", { node: node.name, attempt, was: state });
    } catch (e) {
      if (e instanceof PowerError) {
        // An unreachable BMC may come back; wrong credentials will not.
        throw new NodeFailure(e.message, e.kind === "unreachable" || e.kind === "failed");
      }
      throw e;
    }
  }

  async end(change: NodeChange): Promise<void> {
    this.o.provisioner.setBootMode(change.node, { mode: "local" });
  }

  async update(): Promise<void> {
    // The services already answer with the new configuration (reservation, boot
    // script); nothing runs on the node.
  }

  async remove(change: NodeChange): Promise<void> {
    this.o.provisioner.removeNode(change.node);
  }
}
