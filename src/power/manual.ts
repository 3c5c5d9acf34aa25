// The manual driver: for nodes without a BMC, metalform asks a person to press the
// button and waits until it is told the node was power-cycled (by the operator, or
// by the apply layer when it sees the node's first DHCP request).

import { EventEmitter } from "node:events";
import { nullLogger, type Logger } from "../util/log.js";
import { PowerError, type BootDevice, type PowerDriver } from "./driver.js";

export type ManualAction = "on" | "off" | "cycle";

export interface ManualRequest {
  node: string;
  action: ManualAction;
  /** e.g. "power-cycle node01 now (it must boot from the network)". */
  message: string;
}

export interface ManualDriverOptions {
  node: string;
  /** Shows the request to a person; default: a warn-level log record `manual-power`. */
  notify?: (req: ManualRequest) => void;
  /**
   * Resolves when the action can be taken as done (e.g. the node's DHCP request
   * was seen). The signal aborts when confirm()/cancel() settles the request first.
   */
  waitFor?: (req: ManualRequest, signal: AbortSignal) => Promise<void>;
  /** Give up (PowerError "cancelled") after this long; default: wait forever. */
  timeoutMs?: number;
  logger?: Logger;
}

export interface ManualDriverEvents {
  request: [ManualRequest];
  done: [ManualRequest];
}

export class ManualDriver implements PowerDriver {
  readonly kind = "manual";
  /** `request` when a person is asked, `done` when the action is confirmed. (Not the driver itself: on/off are power verbs here.) */
  readonly events = new EventEmitter<ManualDriverEvents>();
  private readonly o: ManualDriverOptions;
  private readonly log: Logger;
  private bootDevice: BootDevice | undefined;
  private pending: { req: ManualRequest; resolve: () => void; reject: (e: Error) => void } | undefined;

  constructor(options: ManualDriverOptions) {
    this.o = options;
    this.log = options.logger ?? nullLogger;
  }

  /** Nobody can tell without a BMC. */
  async status(): Promise<"unknown"> {
    return "unknown";
  }

  on(): Promise<void> {
    return this.ask("on");
  }

  off(): Promise<void> {
    return this.ask("off");
  }

  cycle(): Promise<void> {
    return this.ask("cycle");
  }

  /** Remembered and named in the next request: the person must choose the boot device. */
  async setBootDevice(device: BootDevice): Promise<void> {
    this.bootDevice = device;
  }

  /** The request waiting for a person, if any. */
  get waiting(): ManualRequest | undefined {
    return this.pending?.req;
  }

  /** Declares the pending action done. Returns false when nothing was waiting. */
  confirm(): boolean {
    const p = this.pending;
    if (!p) return false;
    p.resolve();
    return true;
  }

  /** Abandons the pending action: its promise rejects with PowerError "cancelled". */
  cancel(reason = "cancelled"): boolean {
    const p = this.pending;
    if (!p) return false;
    p.reject(new PowerError("cancelled", `${p.req.action} of ${p.req.node}: ${reason}`));
    return true;
  }

  private ask(action: ManualAction): Promise<void> {
    if (this.pending) this.cancel("superseded by a new request");
    const node = this.o.node;
    const verb = action === "cycle" ? "power-cycle" : action === "on" ? "power on" : "power off";
    const hint = action === "off" ? "" : this.bootDevice === "pxe" ? " (it must boot from the network)" : this.bootDevice === "disk" ? " (it must boot from its disk)" : "";
    const req: ManualRequest = { node, action, message: `${verb} ${node} now${hint}` };
    const abort = new AbortController();
    const settled = new Promise<void>((resolve, reject) => {
      let timer: NodeJS.Timeout | undefined;
      const finish = (err?: Error) => {
        if (this.pending?.req !== req) return;
        this.pending = undefined;
        if (timer) clearTimeout(timer);
        abort.abort();
        if (err) return reject(err);
        this.log.info("manual-power-done", { node, action });
        this.events.emit("done", req);
        resolve();
      };
      this.pending = { req, resolve: () => finish(), reject: (e) => finish(e) };
      if (this.o.timeoutMs !== undefined) {
        timer = setTimeout(() => finish(new PowerError("cancelled", `nobody confirmed "${req.message}" within ${formatDuration(this.o.timeoutMs!)}`)), this.o.timeoutMs);
      }
      this.o.waitFor?.(req, abort.signal).then(
        () => finish(),
        (e: Error) => finish(e instanceof PowerError ? e : new PowerError("cancelled", `${req.message}: ${e.message}`)),
      );
    });
    if (this.o.notify) this.o.notify(req);
    else this.log.warn("manual-power", { node, action, message: req.message });
    this.events.emit("request", req);
    return settled;
  }
}

function formatDuration(ms: number): string {
  return ms >= 1000 ? `${Math.round(ms / 1000)} s` : `${ms} ms`;
}
