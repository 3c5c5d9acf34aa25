// What apply needs from the provisioning services, wherever they run: in this
// process (HeadServices apply started itself), in a `metalform serve` reached
// through its control socket (a ServeSession), or on the provisioners (ClusterBootControl).
import type { NodeObservation } from "../progress/observation.js";

export type BootMode = { mode: "install"; reason: string; allowWipe: boolean } | { mode: "local" };

export interface BootControl {
  /** What a node boots next: the installer, or its local disk. */
  setBootMode(node: string, mode: BootMode): void | Promise<void>;
  /** Takes a node away: no reservation, no boot script, no plan. Its disks are not touched. */
  removeNode(node: string): void | Promise<void>;
  on(event: "observation", listener: (o: NodeObservation) => void): unknown;
  off(event: "observation", listener: (o: NodeObservation) => void): unknown;
}
