// `metalform serve --role provisioner`: one of several provisioning servers sharing
// a cluster's installs through PostgreSQL. It registers itself and heart-beats;
// copies the images an apply publishes (rsync) and advertises the digests it holds;
// serves the nodes assigned to it (boot script, installer, install plan, rsync of
// its own copy); posts what it sees of assigned nodes for the apply to read; and
// competes for its network's DHCP authority (a lease row), answering DHCP only while
// it holds it, pointing each node at the provisioner installing it.
import { hostname } from "node:os";
import { join } from "node:path";
import type { DesiredCluster, Image } from "../config/types.js";
import { buildImageInstaller } from "../installer/for-image.js";
import { HeadServices } from "../serve/head-services.js";
import type { NodeObservation } from "../progress/observation.js";
import { nullLogger, type Logger } from "../util/log.js";
import { networkKey, type Assignment, type ProvisionerInfo, type ProvisioningDb } from "./db.js";
import { copyImage, imageAt } from "./image-copy.js";

export interface LoadedConfig {
  cluster: DesiredCluster;
  inlineSecrets?: ReadonlyMap<string, string>;
}

export interface AgentOptions {
  db: ProvisioningDb;
  name: string;
  /** The provisioning address nodes reach this provisioner at. */
  address: string;
  bindInterface?: string | null;
  slots: number;
  categories?: string[];
  nodePatterns?: string[];
  /** May answer DHCP when no one else does (default true). */
  dhcpCandidate?: boolean;
  /** Heartbeat interval; the DHCP authority's lease is three of them. Default 5 s. */
  heartbeatMs?: number;
  /** How often assignments are read and observations posted; default 500 ms. */
  pollMs?: number;
  /**
   * An apply silent this long has died: its nodes go back to local boot (a node that
   * reboots later is not reinstalled by nobody's apply). Default 30 s.
   */
  applyTimeoutMs?: number;
  workDir: string;
  tftpRoot?: string;
  /** Upper bound of one install attempt and its credentials (default 2 h; docs/security.md). */
  installWindowMs?: number;
  /** (Re)loads the configuration from disk. */
  load: () => Promise<LoadedConfig>;
  logger?: Logger;
}

interface Accepted {
  applyId: string;
  generation: number;
}

export class ProvisionerAgent {
  private readonly log: Logger;
  private readonly heartbeatMs: number;
  private readonly pollMs: number;
  private cluster!: DesiredCluster;
  private inlineSecrets: ReadonlyMap<string, string> | undefined;
  private services!: HeadServices;
  /** Image name → the copy served (image with local paths) and its digest. */
  private readonly copies = new Map<string, { image: Image; digest: string }>();
  private readonly installers = new Map<string, string>();
  /** "IMAGE@DIGEST" → why its copy failed, posted with the heartbeat. */
  private readonly copyErrors = new Map<string, string>();
  private readonly accepted = new Map<string, Accepted>();
  /** Every assignment of the cluster (observations are tagged with theirs; DHCP points nodes at theirs). */
  private assignments = new Map<string, Assignment>();
  private peers = new Map<string, ProvisionerInfo>();
  private outbox: Array<{ applyId: string; node: string; generation: number; provisioner: string; body: Record<string, unknown> }> = [];
  private timers: NodeJS.Timeout[] = [];
  private copying: Promise<void> | undefined;
  private stopped = false;
  /** Ends a running image copy when the provisioner stops. */
  private readonly stopping = new AbortController();
  private isAuthority = false;
  private lastClaimOk = 0;
  private beating = false;
  private polling = false;
  /** Configuration digests of applies this provisioner already tried to follow. */
  private readonly triedDigests = new Set<string>();

  constructor(private readonly o: AgentOptions) {
    this.log = o.logger ?? nullLogger;
    this.heartbeatMs = o.heartbeatMs ?? 5000;
    this.pollMs = o.pollMs ?? 500;
  }

  get name(): string {
    return this.o.name;
  }

  get httpBase(): string {
    return this.services.httpBase;
  }

  /** Whether this provisioner answers DHCP now. */
  get dhcpAuthority(): boolean {
    return this.isAuthority;
  }

  /** The configuration as this provisioner serves it: images at its own copies. */
  private served(): DesiredCluster {
    const images = new Map<string, Image>();
    for (const [name, img] of this.cluster.images) images.set(name, this.copies.get(name)?.image ?? img);
    return { ...this.cluster, images };
  }

  private digests(): Map<string, { digest: string }> {
    return new Map([...this.copies].map(([n, c]) => [n, { digest: c.digest }]));
  }

  private imagesHeld(): Record<string, string> {
    return Object.fromEntries([...this.copies].map(([n, c]) => [n, c.digest]));
  }

  async start(): Promise<void> {
    const loaded = await this.o.load();
    this.cluster = loaded.cluster;
    this.inlineSecrets = loaded.inlineSecrets;
    await this.o.db.ensure();
    this.services = new HeadServices({
      cluster: this.served(),
      ...(this.inlineSecrets ? { inlineSecrets: this.inlineSecrets } : {}),
      workDir: join(this.o.workDir, "serve"),
      imageDigests: this.digests(),
      installerFor: (img) => this.installers.get(img.name),
      address: this.o.address,
      ...(this.o.bindInterface !== undefined ? { bindInterface: this.o.bindInterface } : {}),
      ...(this.o.tftpRoot ? { tftpRoot: this.o.tftpRoot } : {}),
      ...(this.o.installWindowMs ? { installWindowMs: this.o.installWindowMs } : {}),
      dhcp: false,
      scriptUrlFor: (node, own) => {
        const a = this.assignments.get(node.name);
        const peer = a && a.provisioner !== this.o.name ? this.peers.get(a.provisioner) : undefined;
        return peer ? `${peer.httpUrl}/boot/${node.mac}.ipxe` : own;
      },
      logger: this.log,
    });
    this.services.on("observation", (o) => this.onObservation(o));
    await this.services.start();
    await this.o.db.register(this.registration());
    this.log.info("registered", { name: this.o.name, address: this.o.address, http: this.httpBase, slots: this.o.slots });
    await this.heartbeat();
    await this.poll();
    this.timers.push(setInterval(() => void this.heartbeat(), this.heartbeatMs));
    this.timers.push(setInterval(() => void this.poll(), this.pollMs));
  }

  private registration() {
    return {
      name: this.o.name,
      address: this.o.address,
      httpUrl: this.httpBase,
      rsyncUrl: `rsync://${this.o.address}:${this.cluster.network.ports.rsync}`,
      slots: this.o.slots,
      categories: this.o.categories ?? [],
      nodePatterns: this.o.nodePatterns ?? [],
      images: this.imagesHeld(),
      configDigest: this.cluster.digest,
      host: hostname(),
      pid: process.pid,
    };
  }

  private onObservation(o: NodeObservation): void {
    const a = this.assignments.get(o.node);
    if (!a) return;
    const { node, ...body } = o;
    this.outbox.push({ applyId: a.applyId, node, generation: a.generation, provisioner: this.o.name, body: body });
  }

  /** Heartbeat, DHCP authority, image copies. */
  private async heartbeat(): Promise<void> {
    if (this.beating || this.stopped) return;
    this.beating = true;
    try {
      if (!(await this.o.db.heartbeat(this.o.name, this.imagesHeld(), this.cluster.digest, Object.fromEntries(this.copyErrors)))) {
        this.log.warn("re-registering", { name: this.o.name, why: "the registration was removed" });
        await this.o.db.register(this.registration());
      }
      await this.claimDhcp();
      this.copying ??= this.copyImages()
        .catch((e: unknown) => this.log.warn("image-sources-unreadable", { error: (e as Error).message }))
        .finally(() => (this.copying = undefined));
    } catch (e) {
      this.log.warn("heartbeat-failed", { error: (e as Error).message });
      // Without the database we cannot know whether another took the lease over: stop
      // answering DHCP once ours would have run out.
      if (this.isAuthority && Date.now() - this.lastClaimOk > 3 * this.heartbeatMs) await this.setAuthority(false);
    } finally {
      this.beating = false;
    }
  }

  private async claimDhcp(): Promise<void> {
    if (this.o.dhcpCandidate === false) return;
    const network = networkKey(this.cluster);
    const held = await this.o.db.claimAuthority(network, this.o.name, 3 * this.heartbeatMs);
    if (held) this.lastClaimOk = Date.now();
    await this.setAuthority(held);
  }

  private async setAuthority(on: boolean): Promise<void> {
    if (on === this.isAuthority) return;
    try {
      await this.services.setDhcp(on);
      this.isAuthority = on;
      this.log.info(on ? "dhcp-authority" : "dhcp-authority-lost", { name: this.o.name, network: networkKey(this.cluster) });
    } catch (e) {
      this.log.error("dhcp-failed", { error: (e as Error).message });
      // Let another take the lease rather than hold it without answering.
      if (on) await this.o.db.releaseAuthority(networkKey(this.cluster), this.o.name).catch(() => {});
    }
  }

  /** Copies every published image whose digest we do not hold, one at a time. */
  private async copyImages(): Promise<void> {
    const sources = await this.o.db.imageSources();
    for (const s of sources) {
      if (this.stopped) return;
      if (this.copies.get(s.image)?.digest === s.digest) continue;
      let img = this.cluster.images.get(s.image);
      if (!img) {
        await this.reload();
        img = this.cluster.images.get(s.image);
        if (!img) {
          this.copyErrors.set(`${s.image}@${s.digest}`, `image ${s.image} is not in provisioner ${this.o.name}'s configuration`);
          continue;
        }
      }
      const t0 = Date.now();
      try {
        const copy = await copyImage(img, s.url, s.digest, join(this.o.workDir, "images"), {
          cacheDir: join(this.o.workDir, "cache"),
          signal: this.stopping.signal,
          ...(s.auth ? { auth: s.auth } : {}),
        });
        const built = await buildImageInstaller(copy.image, join(this.o.workDir, "cache"), this.log.child("installer"));
        this.installers.set(s.image, built.path);
        this.copies.set(s.image, { image: copy.image, digest: copy.digest });
        await this.services.reconfigure(this.served(), { imageDigests: this.digests() });
        this.services.setInstaller(s.image, built.path);
        this.copyErrors.delete(`${s.image}@${s.digest}`);
        await this.o.db.heartbeat(this.o.name, this.imagesHeld(), this.cluster.digest, Object.fromEntries(this.copyErrors));
        this.log.info("image-copied", { image: s.image, digest: s.digest, ms: Date.now() - t0 });
      } catch (e) {
        // Said with the next heartbeats (the apply stops waiting for this copy); tried again on each.
        const key = `${s.image}@${s.digest}`;
        const msg = (e as Error).message;
        // Retried every heartbeat: the same failure is logged once, not every few seconds.
        if (this.copyErrors.get(key) !== msg) this.log.error("image-copy-failed", { image: s.image, from: s.url, error: msg });
        this.copyErrors.set(key, msg);
      }
    }
  }

  /** Reads the configuration again (the apply runs a newer one); keeps the old one on errors. */
  private async reload(): Promise<void> {
    try {
      const loaded = await this.o.load();
      if (loaded.cluster.digest === this.cluster.digest) return;
      this.cluster = loaded.cluster;
      this.inlineSecrets = loaded.inlineSecrets;
      // Copies of images the configuration describes differently are kept by digest.
      for (const [name, c] of this.copies) {
        const img = this.cluster.images.get(name);
        if (!img) this.copies.delete(name);
        else this.copies.set(name, { image: imageAt(img, c.image.root), digest: c.digest });
      }
      await this.services.reconfigure(this.served(), { imageDigests: this.digests(), ...(this.inlineSecrets ? { inlineSecrets: this.inlineSecrets } : {}) });
      this.log.info("configuration-reloaded", { digest: this.cluster.digest });
    } catch (e) {
      this.log.error("configuration-reload-failed", { error: (e as Error).message });
    }
  }

  /** Assignments in, observations out. */
  private async poll(): Promise<void> {
    if (this.polling || this.stopped) return;
    this.polling = true;
    try {
      const [snap, peers, applies] = await Promise.all([this.o.db.assignmentsSnapshot(), this.o.db.provisioners(), this.o.db.applies()]);
      const applyTimeout = this.o.applyTimeoutMs ?? 30_000;
      const alive = [...applies].filter(([, a]) => a.ageMs < applyTimeout);
      const all = snap.rows.filter((a) => alive.some(([id]) => id === a.applyId));
      // A running apply applies a newer configuration (a node removed, an address
      // changed): read the checkout again, once per digest.
      for (const [, a] of alive) {
        if (a.configDigest && a.configDigest !== this.cluster.digest && !this.triedDigests.has(a.configDigest)) {
          this.triedDigests.add(a.configDigest);
          await this.reload();
          if (this.cluster.digest !== a.configDigest) {
            this.log.error("configuration-differs", { mine: this.cluster.digest, apply: a.configDigest, note: "update this provisioner's copy of the configuration" });
          }
        }
      }
      this.assignments = new Map(all.map((a) => [a.node, a]));
      this.peers = new Map(peers.map((p) => [p.name, p]));
      for (const a of all) {
        if (a.provisioner !== this.o.name || a.rejected) continue;
        const had = this.accepted.get(a.node);
        if (had && had.generation === a.generation && had.applyId === a.applyId) continue;
        const problem = await this.check(a);
        if (problem) {
          this.log.warn("assignment-rejected", { node: a.node, why: problem });
          await this.o.db.reject(a.node, a.generation, problem);
          continue;
        }
        this.services.setBootMode(a.node, { mode: "install", reason: a.reason, allowWipe: a.allowWipe });
        this.accepted.set(a.node, { applyId: a.applyId, generation: a.generation });
        this.log.info("assignment-accepted", { node: a.node, apply: a.applyId, generation: a.generation });
      }
      for (const [node] of this.accepted) {
        const a = this.assignments.get(node);
        if (a && a.provisioner === this.o.name) continue;
        this.accepted.delete(node);
        this.services.setBootMode(node, { mode: "local" });
      }
      // The apply waits for this before it boots a node (and its DHCP answer points the right way).
      await this.o.db.markSeen(this.o.name, snap.at);
      const out = this.outbox;
      this.outbox = [];
      try {
        await this.o.db.postObservations(out);
      } catch (e) {
        this.outbox = out.concat(this.outbox).slice(-10_000);
        throw e;
      }
    } catch (e) {
      this.log.warn("poll-failed", { error: (e as Error).message });
    } finally {
      this.polling = false;
    }
  }

  /** Why this provisioner cannot install the node as assigned; undefined when it can. */
  private async check(a: Assignment): Promise<string | undefined> {
    if (a.configDigest !== this.cluster.digest) await this.reload();
    if (a.configDigest !== this.cluster.digest) {
      return `provisioner ${this.o.name} runs configuration ${this.cluster.digest.slice(0, 19)}, the apply ${a.configDigest.slice(0, 19)}: update its copy of the configuration`;
    }
    if (!this.cluster.nodes.some((n) => n.name === a.node)) return `provisioner ${this.o.name} does not know node ${a.node}`;
    if (this.copies.get(a.image)?.digest !== a.digest) return `provisioner ${this.o.name} does not hold image ${a.image} at ${a.digest.slice(0, 19)}`;
    if (!this.installers.has(a.image)) return `provisioner ${this.o.name} has no installer for image ${a.image}`;
    return undefined;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.stopping.abort();
    for (const t of this.timers) clearInterval(t);
    this.timers = [];
    await this.copying?.catch(() => {});
    if (!this.cluster) return this.o.db.close();
    const network = networkKey(this.cluster);
    if (this.isAuthority) await this.o.db.releaseAuthority(network, this.o.name).catch(() => {});
    await this.o.db.postObservations(this.outbox).catch(() => {});
    await this.o.db.deregister(this.o.name).catch(() => {});
    await this.services?.stop();
    await this.o.db.close();
  }
}
