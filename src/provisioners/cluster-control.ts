// The apply's side of scale-out: a BootControl that, instead of serving nodes
// itself, hands each node's install to a provisioner through the assignments table
// (least loaded with the image, within its slots, affinity first), reads back what
// the provisioners saw of the node, and moves the installs of a provisioner that
// stopped heart-beating (or refused) to another within the failover timeout.
import { EventEmitter } from "node:events";
import type { DesiredCluster } from "../config/types.js";
import type { BootControl, BootMode } from "../serve/boot-control.js";
import { parseObservationBody, type NodeObservation } from "../progress/observation.js";
import { nullLogger, type Logger } from "../util/log.js";
import { chooseProvisioner, type Candidate } from "./choose.js";
import type { ProvisionerInfo, ProvisioningDb } from "./db.js";

export interface ClusterControlOptions {
  db: ProvisioningDb;
  applyId: string;
  cluster: DesiredCluster;
  imageDigests: ReadonlyMap<string, { digest: string }>;
  /** A provisioner silent this long is dead: its installs move. Default 60 s. */
  failoverTimeoutMs?: number;
  /** How often observations are read and heartbeats checked; default 300 ms. */
  pollMs?: number;
  /** How long a node may wait for a free slot or an image copy; default 30 min. */
  queueTimeoutMs?: number;
  logger?: Logger;
}

interface Active {
  provisioner: string;
  generation: number;
  mode: Extract<BootMode, { mode: "install" }>;
  /** Placement finished (the watch leaves nodes being placed alone). */
  settled: boolean;
}

export class ClusterControlError extends Error {}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export class ClusterBootControl extends EventEmitter<{ observation: [NodeObservation] }> implements BootControl {
  private readonly log: Logger;
  private readonly failoverMs: number;
  private readonly pollMs: number;
  private readonly queueMs: number;
  private readonly active = new Map<string, Active>();
  private readonly nodes: Map<string, DesiredCluster["nodes"][number]>;
  private placing: Promise<unknown> = Promise.resolve();
  private lastId = 0;
  private timer: NodeJS.Timeout | undefined;
  private ticking = false;
  private closed = false;
  private lastWatch = 0;

  constructor(private readonly o: ClusterControlOptions) {
    super();
    this.log = o.logger ?? nullLogger;
    this.failoverMs = o.failoverTimeoutMs ?? 60_000;
    this.pollMs = o.pollMs ?? 300;
    this.queueMs = o.queueTimeoutMs ?? 30 * 60_000;
    this.nodes = new Map(o.cluster.nodes.map((n) => [n.name, n]));
  }

  private liveCache: { at: number; list: ProvisionerInfo[] } | undefined;

  /** Live provisioners: heart-beating within the failover timeout (read at most every 200 ms). */
  async live(): Promise<ProvisionerInfo[]> {
    if (this.liveCache && Date.now() - this.liveCache.at < 200) return this.liveCache.list;
    const list = await this.o.db.liveProvisioners(this.failoverMs);
    this.liveCache = { at: Date.now(), list };
    return list;
  }

  async start(): Promise<void> {
    await this.o.db.ensure();
    // Only one apply holds the state lock: what others left is from applies that died.
    const stale = await this.o.db.releaseOthers(this.o.applyId);
    if (stale) this.log.warn("stale-assignments-released", { count: stale });
    await this.o.db.applyHeartbeat(this.o.applyId, this.o.cluster.digest);
    this.timer = setInterval(() => void this.tick(), this.pollMs);
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.timer) clearInterval(this.timer);
    await this.placing.catch(() => {});
    await this.o.db.releaseApply(this.o.applyId).catch(() => {});
    await this.o.db.endApply(this.o.applyId).catch(() => {});
    await this.o.db.dropObservations(this.o.applyId).catch(() => {});
    await this.o.db.close();
  }

  private say(node: string, o: Omit<NodeObservation, "node">): void {
    this.emit("observation", { node, ...o });
  }

  private candidates(live: ProvisionerInfo[], exclude: ReadonlySet<string>): Candidate[] {
    const load = new Map<string, number>();
    for (const a of this.active.values()) load.set(a.provisioner, (load.get(a.provisioner) ?? 0) + 1);
    return live
      .filter((p) => !exclude.has(p.name))
      .map((p) => ({ name: p.name, slots: p.slots, load: load.get(p.name) ?? 0, images: p.images, categories: p.categories, nodePatterns: p.nodePatterns }));
  }

  /** Places a node (one placement at a time, first come first served); resolves once assigned. */
  private async place(node: string, mode: Active["mode"], exclude: string[] = []): Promise<Active> {
    const excluded = new Set(exclude);
    for (;;) {
      // Choosing and assigning one node at a time keeps the loads right; waiting for
      // the acknowledgement is done by all at once.
      const run = this.placing.then(() => this.placeNow(node, mode, excluded));
      this.placing = run.catch(() => undefined);
      const a = await run;
      const refused = await this.waitSeen(node, a.generation);
      if (!refused) {
        a.settled = true;
        this.log.info("assigned", { node, provisioner: a.provisioner, generation: a.generation });
        return a;
      }
      this.say(node, { message: `provisioner ${a.provisioner} refused it: ${refused}` });
      excluded.add(a.provisioner);
    }
  }

  private async placeNow(node: string, mode: Active["mode"], exclude: Set<string>): Promise<Active> {
    const n = this.nodes.get(node);
    if (!n) throw new ClusterControlError(`${node} is not in the configuration`);
    const digest = this.o.imageDigests.get(n.image)?.digest;
    if (!digest) throw new ClusterControlError(`image ${n.image} has no digest`);
    const t0 = Date.now();
    let said = "";
    for (;;) {
      if (this.closed) throw new ClusterControlError("the apply is ending");
      const choice = chooseProvisioner({ name: node, category: n.category, image: n.image, digest }, this.candidates(await this.live(), exclude));
      if (choice.kind === "chosen") {
        const generation = await this.o.db.assign({
          node,
          applyId: this.o.applyId,
          provisioner: choice.provisioner,
          image: n.image,
          digest,
          configDigest: this.o.cluster.digest,
          reason: mode.reason,
          allowWipe: mode.allowWipe,
        });
        const a: Active = { provisioner: choice.provisioner, generation, mode, settled: false };
        this.active.set(node, a);
        return a;
      }
      if (choice.kind === "none") throw new ClusterControlError(choice.why);
      if (Date.now() - t0 > this.queueMs) throw new ClusterControlError(`waited ${Math.round(this.queueMs / 1000)} s for a provisioner: ${choice.why}`);
      if (choice.why !== said) {
        said = choice.why;
        this.say(node, { message: `queued: ${choice.why}` });
      }
      await sleep(Math.min(1000, this.pollMs * 2));
    }
  }

  /**
   * Waits until the provisioner and the DHCP authority acted on an assignment, so the
   * node's boot finds it; returns why the provisioner refused it, if it did. Gives up
   * waiting after 15 s (a dead provisioner is the failover watch's business).
   */
  private async waitSeen(node: string, generation: number): Promise<string | undefined> {
    const t0 = Date.now();
    while (!this.closed && Date.now() - t0 < 15_000) {
      const s = await this.o.db.assignmentSeen(node, generation);
      if (!s) return undefined;
      if (s.rejected) return s.rejected;
      if (s.seen) return undefined;
      await sleep(100);
    }
    this.log.warn("assignment-not-acknowledged", { node, generation });
    return undefined;
  }

  async setBootMode(node: string, mode: BootMode): Promise<void> {
    if (mode.mode === "local") {
      this.active.delete(node);
      await this.o.db.release(node, this.o.applyId);
      return;
    }
    const a = await this.place(node, mode);
    this.say(node, { message: `assigned to provisioner ${a.provisioner}` });
  }

  /** Nothing to take away here: provisioners follow the configuration the next apply runs. */
  async removeNode(node: string): Promise<void> {
    this.active.delete(node);
    await this.o.db.release(node, this.o.applyId);
  }

  /** Which provisioner has a node now (tests, progress). */
  assignedTo(node: string): string | undefined {
    return this.active.get(node)?.provisioner;
  }

  private async tick(): Promise<void> {
    if (this.ticking || this.closed) return;
    this.ticking = true;
    try {
      for (;;) {
        const rows = await this.o.db.observationsSince(this.o.applyId, this.lastId);
        for (const r of rows) {
          this.lastId = r.id;
          const a = this.active.get(r.node);
          // Reports of an earlier assignment (a provisioner the node was moved away from) are history.
          if (!a || a.generation !== r.generation) continue;
          // A row is JSON another process wrote: checked like any message from outside.
          const body = parseObservationBody(r.body);
          if (body) this.say(r.node, body);
          else this.log.warn("observation-malformed", { node: r.node, provisioner: r.provisioner });
        }
        if (rows.length < 1000) break;
      }
      if (Date.now() - this.lastWatch >= 1000) {
        this.lastWatch = Date.now();
        // Provisioners give up the assignments of an apply that stops heart-beating.
        await this.o.db.applyHeartbeat(this.o.applyId, this.o.cluster.digest);
        await this.watch();
      }
    } catch (e) {
      this.log.warn("poll-failed", { error: (e as Error).message });
    } finally {
      this.ticking = false;
    }
  }

  /** Moves the installs of dead provisioners, and of those that refused them. */
  private async watch(): Promise<void> {
    if (!this.active.size) return;
    const all = await this.o.db.provisioners();
    const byName = new Map(all.map((p) => [p.name, p]));
    const rejected = new Map((await this.o.db.assignments()).filter((a) => a.applyId === this.o.applyId && a.rejected).map((a) => [a.node, a]));
    for (const [node, a] of [...this.active]) {
      if (!a.settled) continue;
      const p = byName.get(a.provisioner);
      const rej = rejected.get(node);
      let why: string | undefined;
      if (!p) why = `provisioner ${a.provisioner} deregistered`;
      else if (p.ageMs >= this.failoverMs) why = `provisioner ${a.provisioner} stopped heart-beating ${Math.round(p.ageMs / 1000)} s ago`;
      else if (rej && rej.generation === a.generation) why = rej.rejected!;
      if (!why) continue;
      void this.move(node, a, why);
    }
  }

  private async move(node: string, from: Active, why: string): Promise<void> {
    // Marked first, so the next watch does not move it twice.
    const pending: Active = { ...from, generation: -1, settled: false };
    this.active.set(node, pending);
    try {
      const to = await this.place(node, from.mode, [from.provisioner]);
      this.log.warn("moved", { node, from: from.provisioner, to: to.provisioner, why });
      this.say(node, { message: `${why}; moved to provisioner ${to.provisioner}`, requeue: `${why}; moved from ${from.provisioner} to ${to.provisioner}` });
    } catch (e) {
      this.active.delete(node);
      this.say(node, { failed: `${why}, and no other provisioner can take it: ${(e as Error).message}` });
    }
  }
}
