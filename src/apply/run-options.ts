// What `metalform apply` is asked to do (ApplyRunOptions, filled by the CLI or a
// test) and its refusal (ApplyRefused: nothing was applied, the message says why).
import type { EventSink } from "./events.js";
import type { Plan } from "../plan/types.js";
import type { Phase } from "../progress/phases.js";
import type { Logger } from "../util/log.js";

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
  /** Upper bound of one install attempt and its credentials (default 2 h; docs/security.md). */
  installWindowMs?: number;
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
