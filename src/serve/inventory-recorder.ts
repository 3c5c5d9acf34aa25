// Keeps the inventories hosts report in the state (ClusterState.inventory, by MAC).
// serve holds no state lock while it runs: each batch takes the lock briefly, reads,
// merges and writes. While an apply holds the lock (it may run through this very
// serve), reports wait in memory and are written once it lets go; the newest report
// of a MAC wins. Bounded: at most MAX_PENDING MACs wait.
import { newState } from "../state/codec.js";
import type { InventoryRecord } from "../state/inventory.js";
import type { StateStore } from "../state/store.js";
import type { Logger } from "../util/log.js";

const MAX_PENDING = 1024;

export interface InventoryRecorderOptions {
  store: StateStore;
  cluster: string;
  logger: Logger;
  /** How long to wait for the lock per try (default 2 s), and between tries (default 10 s). */
  lockTimeoutMs?: number;
  retryMs?: number;
}

export class InventoryRecorder {
  private readonly pending = new Map<string, InventoryRecord>();
  private chain: Promise<void> = Promise.resolve();
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;

  constructor(private readonly opts: InventoryRecorderOptions) {}

  record(r: InventoryRecord): void {
    this.pending.delete(r.mac);
    this.pending.set(r.mac, r);
    while (this.pending.size > MAX_PENDING) this.pending.delete(this.pending.keys().next().value!);
    this.schedule(0);
  }

  /** Resolves once what was pending is written (or could not be). */
  async flush(): Promise<void> {
    this.chain = this.chain.then(() => this.writeBatch());
    await this.chain;
  }

  /** One last try, then no more. */
  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.flush();
  }

  private schedule(ms: number): void {
    if (this.stopped || this.timer) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.flush();
    }, ms);
    this.timer.unref();
  }

  private async writeBatch(): Promise<void> {
    if (!this.pending.size) return;
    const batch = [...this.pending.values()];
    const { store, logger } = this.opts;
    try {
      const lock = await store.lock({ operation: "serve: inventory" }, this.opts.lockTimeoutMs ?? 2_000);
      try {
        const state = (await store.read()) ?? newState(this.opts.cluster);
        const serial = state.serial;
        state.inventory = { ...state.inventory };
        for (const r of batch) state.inventory[r.mac] = r;
        await store.write(state, serial);
      } finally {
        await lock.release();
      }
      for (const r of batch) if (this.pending.get(r.mac) === r) this.pending.delete(r.mac);
      logger.info("inventory-recorded", { macs: batch.map((r) => r.mac) });
    } catch (e) {
      logger.warn("inventory-not-recorded-yet", { macs: batch.length, error: (e as Error).message, retryInMs: this.opts.retryMs ?? 10_000 });
      this.schedule(this.opts.retryMs ?? 10_000);
    }
  }
}
