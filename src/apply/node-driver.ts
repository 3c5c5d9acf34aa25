// What the executor needs from the world to move one node (NodeDriver), and the
// failure a driver or the executor raises when an attempt goes wrong (NodeFailure,
// which says whether another attempt may help).
import type { NodeChange } from "../plan/types.js";
import type { Phase } from "../progress/phases.js";

export interface NodeDriver {
  /** Point the services at the installer for this node (boot script, reservation). */
  begin(change: NodeChange): Promise<void>;
  /**
   * Make the node network-boot: power-cycle it through its BMC, or ask a person.
   * Runs while the "power" phase timer runs; `signal` aborts when the executor
   * stops waiting (timeout, interruption, or the node already showed up), so a
   * trigger that waits for a person must give up then.
   */
  trigger(change: NodeChange, attempt: number, signal: AbortSignal): Promise<void>;
  /** The node finished (ok or not): restore its normal boot configuration. */
  end(change: NodeChange, how: { ok: boolean }): Promise<void>;
  /** In-place update: new boot script, reservation, kernel arguments. No reboot. */
  update(change: NodeChange): Promise<void>;
  /** Remove: take the reservation and boot files away. Disks are never touched. */
  remove(change: NodeChange): Promise<void>;
  /**
   * This driver's own default for a phase's timeout (e.g. a person needs longer
   * than a BMC to power-cycle a node); undefined: the executor's default. A
   * timeout the operator gave (ApplyOptions.phaseTimeouts) always wins.
   */
  phaseTimeout?(change: NodeChange, phase: Phase): number | undefined;
}

/** An attempt failed; `retryable` says whether booting the node again may help. */
export class NodeFailure extends Error {
  readonly retryable: boolean;
  constructor(message: string, opts: { retryable: boolean }) {
    super(message);
    this.retryable = opts.retryable;
  }
}

/** The apply stopped waiting for the node (second interrupt, or the serve went away). */
export class Interrupted extends Error {}

/** The install moved elsewhere: start the node's attempt over (not a failure). */
export class Requeued extends Error {}
