// The head's provisioning services of one cluster, composed — HeadServices, not to
// be confused with src/provisioners, the scale-out servers that each run one: DHCP
// (reservations, PXE loaders, iPXE script URLs), TFTP (the iPXE loaders), HTTP (iPXE
// scripts, kernels, the installer initramfs, the installer API and the node agents'
// calls) and the rsync daemon (one module per image). Which nodes run the installer on
// their next boot is set by `apply` (setBootMode); everyone else boots the local disk.
// The services know nothing of plans: head-setup.ts turns configuration into their
// options; this file composes them and runs their life cycle. Who may read what
// (docs/security.md): install attempts, their credentials and the image modules'
// access are InstallAccess's (install-access.ts); files only the cluster's nodes.
import { EventEmitter } from "node:events";
import { mkdir } from "node:fs/promises";
import { dirname, join } from "node:path";
import type { DesiredCluster, Image, Node } from "../config/types.js";
import { resolveSecret } from "../config/secrets.js";
import { nullLogger, type Logger } from "../util/log.js";
import { DhcpServer } from "../services/dhcp/server.js";
import { HttpBootServer } from "../services/http/server.js";
import { DEFAULT_PREFIX, createInstallerApi, nodeApiUrl, type InstallerApi } from "../services/installer-api/api.js";
import { DEFAULT_INSTALL_WINDOW_MS } from "../services/installer-api/sessions.js";
import { RsyncDaemon } from "../services/rsync/daemon.js";
import { TftpServer } from "../services/tftp/server.js";
import type { Service } from "../services/service.js";
import type { BootControl, BootMode } from "./boot-control.js";
import { FirmwareBoot, macOfGrubConfig } from "./firmware-boot.js";
import { imageModuleName, imageModules } from "./image-modules.js";
import { InstallAccess } from "./install-access.js";
import { bootScript, initrdRoot, installerRoot, installPlanFor, kernelRoot, rootLabel, type ServingContext } from "./node-boot.js";
import { checkServable, httpRoots, makeDhcp, makeRsync } from "./head-setup.js";
import type { NodeObservation } from "../progress/observation.js";
import { observationsFrom, type ServiceEvent } from "./tracker.js";
import { DiscoveryBoot, type InventoryRecord } from "./discovery.js";
import { AGENTS_FILE, followAgents, NodeAgents } from "./node-agents.js";

/** Where Debian's `ipxe` package puts the loaders. */
export const IPXE_DIR = "/usr/lib/ipxe";

export type { BootMode } from "./boot-control.js";

export interface HeadServicesOptions {
  cluster: DesiredCluster;
  inlineSecrets?: ReadonlyMap<string, string>;
  /** Leases, the node credentials' hashes and generated files live here. */
  workDir: string;
  /** Content digest of every image (what installed nodes will report). */
  imageDigests: ReadonlyMap<string, { digest: string }>;
  /** The installer initramfs to boot for an image (built for that image's kernel). */
  installerFor: (image: Image) => string | undefined;
  /** Directory served over TFTP; default /usr/lib/ipxe (Debian package ipxe). */
  tftpRoot?: string;
  /** Address the services bind to and nodes are told about; default network.address. */
  address?: string;
  /** Socket-level interface binding for DHCP (SO_BINDTODEVICE); default network.interface. */
  bindInterface?: string | null;
  /**
   * Start the DHCP server with the others (default true). A provisioner that is not
   * its network's DHCP authority runs without it until it becomes one (setDhcp).
   */
  dhcp?: boolean;
  /**
   * The iPXE script URL DHCP gives a node (default: this provisioner's own HTTP). The
   * DHCP authority of several provisioners points a node at the one installing it.
   */
  scriptUrlFor?: (node: Node, own: string) => string;
  /** Upper bound of one install attempt and its credentials (default 2 h). */
  installWindowMs?: number;
  /** The installer unknown MACs boot in inventory mode (with `network.discovery`; serve/discovery.ts). */
  discoveryInstaller?: string;
  logger?: Logger;
}

export interface HeadServicesEvents {
  observation: [NodeObservation];
  inventory: [InventoryRecord];
}

export { HeadServicesError } from "./head-setup.js";

export class HeadServices extends EventEmitter<HeadServicesEvents> implements BootControl {
  private cluster: DesiredCluster;
  private readonly modes = new Map<string, BootMode>();
  private readonly byMac = new Map<string, Node>();
  private readonly byIp = new Map<string, Node>();
  private readonly log: Logger;
  private readonly address: string;
  private imageDigests: ReadonlyMap<string, { digest: string }>;
  private inlineSecrets: ReadonlyMap<string, string> | undefined;
  /** Installers handed over while running (serve, on behalf of an apply). */
  private readonly installers = new Map<string, string>();
  private readonly access: InstallAccess;
  private dhcp?: DhcpServer;
  private tftp?: TftpServer;
  private http?: HttpBootServer;
  private rsync?: RsyncDaemon;
  private api?: InstallerApi;
  /** What installed nodes' agents report, and their work (node-agents.ts). */
  readonly agents: NodeAgents;
  private started: Service[] = [];
  private dhcpWanted: boolean;
  private dhcpChain: Promise<unknown> = Promise.resolve();
  private readonly firmwareBoot: FirmwareBoot;
  private readonly discovery: DiscoveryBoot;

  constructor(private readonly opts: HeadServicesOptions) {
    super();
    this.cluster = opts.cluster;
    this.log = opts.logger ?? nullLogger;
    this.address = opts.address ?? opts.cluster.network.address;
    this.imageDigests = opts.imageDigests;
    this.inlineSecrets = opts.inlineSecrets;
    this.agents = new NodeAgents({ file: join(opts.workDir, AGENTS_FILE) });
    this.dhcpWanted = opts.dhcp ?? true;
    this.access = new InstallAccess({
      windowMs: opts.installWindowMs ?? DEFAULT_INSTALL_WINDOW_MS,
      cluster: () => this.cluster,
      nodeByMac: (mac) => this.nodeByMac(mac),
      bootMode: (name) => this.bootMode(name),
      rsync: () => this.rsync,
      logger: this.log,
    });
    this.index();
    this.firmwareBoot = this.makeFirmwareBoot();
    this.discovery = new DiscoveryBoot(this, { installer: opts.discoveryInstaller, logger: this.log.child("discovery") });
  }

  /** Secure Boot's TFTP files and per-node DHCP boot files (src/serve/firmware-boot.ts). */
  private makeFirmwareBoot(): FirmwareBoot {
    return new FirmwareBoot({
      nodeByMac: (mac) => this.nodeByMac(mac),
      nodes: () => this.cluster.nodes,
      image: (name) => this.cluster.images.get(name),
      bootMode: (name) => this.bootMode(name),
      installerFor: (image) => this.installerFor(image),
      apiUrl: (node) => nodeApiUrl(this.httpBase, node.name),
      rootLabel: (node) => rootLabel(this.serving(), node),
      tftpServer: this.address,
      logger: this.log.child("firmware"),
    });
  }

  /** The configuration being served. */
  get config(): DesiredCluster {
    return this.cluster;
  }

  /** The image digests nodes are told to expect. */
  get digests(): ReadonlyMap<string, { digest: string }> {
    return this.imageDigests;
  }

  knowsNode(name: string): boolean {
    return this.cluster.nodes.some((n) => n.name === name);
  }

  private installerFor(image: Image): string | undefined {
    return this.installers.get(image.name) ?? this.opts.installerFor(image);
  }

  /** Serves this installer initramfs for an image from now on. */
  setInstaller(image: string, path: string): void {
    this.installers.set(image, path);
    this.http?.setRoot(installerRoot(image), dirname(path));
  }

  private index(): void {
    this.byMac.clear();
    this.byIp.clear();
    for (const n of this.cluster.nodes) {
      this.byMac.set(n.mac, n);
      this.byIp.set(n.ip, n);
    }
  }

  get httpBase(): string {
    return `http://${this.address}:${this.http?.port || this.cluster.network.ports.http}`;
  }

  /** The rsync module nodes sync an image from. */
  rsyncModule(image: string): string {
    return imageModuleName(image);
  }

  /** What a node boots next: the installer, or its local disk (which ends its install attempt). */
  setBootMode(node: string, mode: BootMode): void {
    this.modes.set(node, mode);
    if (mode.mode === "local") this.access.endAttempt(node);
  }

  /** An install attempt opens when a node set to install fetches its boot configuration (the iPXE script, GRUB's over TFTP) from its own address. */
  bootConfigFetched(mac: string, remote: string): void {
    this.access.bootConfigFetched(mac, remote);
  }

  bootMode(node: string): BootMode {
    return this.modes.get(node) ?? { mode: "local" };
  }

  /** Takes a node away: no reservation, no boot script, no plan. Its disks are not touched. */
  removeNode(name: string): void {
    this.cluster = { ...this.cluster, nodes: this.cluster.nodes.filter((n) => n.name !== name) };
    this.modes.delete(name);
    this.access.endAttempt(name);
    this.index();
    this.dhcp?.setReservations(this.reservations());
  }

  /** Replaces the configuration (nodes, images, their digests) while running: reservations, kernel roots and the rsync modules follow. */
  async reconfigure(cluster: DesiredCluster, update: { imageDigests?: ReadonlyMap<string, { digest: string }>; inlineSecrets?: ReadonlyMap<string, string> } = {}): Promise<void> {
    const before = JSON.stringify(imageModules(this.cluster.images.values()));
    this.cluster = cluster;
    if (update.imageDigests) this.imageDigests = update.imageDigests;
    if (update.inlineSecrets) this.inlineSecrets = update.inlineSecrets;
    this.index();
    this.dhcp?.setReservations(this.reservations());
    for (const img of cluster.images.values()) {
      this.http?.setRoot(kernelRoot(img.name), dirname(img.kernel));
      if (img.initrd) this.http?.setRoot(initrdRoot(img.name), dirname(img.initrd));
    }
    if (this.rsync && JSON.stringify(imageModules(cluster.images.values())) !== before) await this.access.imagesChanged();
    this.log.info("reconfigured", { cluster: cluster.name, digest: cluster.digest, nodes: cluster.nodes.length });
  }

  nodeByMac(mac: string): Node | undefined {
    return this.byMac.get(mac.toLowerCase());
  }

  private reservations() {
    return this.cluster.nodes.map((n) => ({ mac: n.mac, ip: n.ip, hostname: n.name }));
  }

  /** What the node-boot functions need to answer a node. */
  private serving(): ServingContext {
    return {
      cluster: this.cluster,
      httpBase: this.httpBase,
      address: this.address,
      imageDigests: this.imageDigests,
      installerFor: (image) => this.installerFor(image),
      noInstaller: (node, image) => this.log.error("no-installer", { node: node.name, image: image.name }),
    };
  }

  /** The iPXE script a node gets when it asks (undefined: unknown MAC, 404). */
  script(mac: string): string | undefined {
    const node = this.nodeByMac(mac);
    return node ? bootScript(this.serving(), node, this.bootMode(node.name)) : this.discovery.script(mac.toLowerCase(), this.httpBase);
  }

  /** The install plan of a node in a claimed install attempt (undefined: none, 404). */
  private installPlan(name: string) {
    const node = this.cluster.nodes.find((n) => n.name === name);
    const mode = this.bootMode(name);
    const credential = this.access.credential(name);
    if (!node || mode.mode !== "install" || !credential) return undefined;
    return installPlanFor(this.serving(), node, { allowWipe: mode.allowWipe, nodeCredential: credential });
  }

  private makeRsync(): Promise<RsyncDaemon> {
    const ports = this.cluster.network.ports;
    return makeRsync({ workDir: this.opts.workDir, address: this.address, port: ports.rsync, modules: () => this.access.rsyncModules(), logger: this.log });
  }

  private makeApi(): InstallerApi {
    return createInstallerApi({
      ...this.access.apiAccess(),
      addressOf: (name) => this.cluster.nodes.find((n) => n.name === name)?.ip,
      plan: (node) => this.installPlan(node),
      bmcPassword: async (name) => {
        const ref = this.cluster.nodes.find((n) => n.name === name)?.bmc?.password;
        return ref ? resolveSecret(ref, this.inlineSecrets) : undefined;
      },
      ...(this.discovery.enabled ? { discovery: this.discovery.sessions } : {}),
      agentWork: (node) => this.agents.polled(node),
      logger: this.log.child("installer-api"),
    });
  }

  async start(): Promise<void> {
    const c = this.cluster;
    const net = c.network;
    await mkdir(this.opts.workDir, { recursive: true, mode: 0o700 });
    // Installed nodes' UP reporters keep working across restarts: the hashes persist.
    this.access.persistCredentials(join(this.opts.workDir, "node-credentials.json"));
    const tftpRoot = this.opts.tftpRoot ?? IPXE_DIR;
    checkServable(this.cluster, tftpRoot);
    this.rsync = await this.makeRsync();
    this.http = new HttpBootServer({
      address: this.address,
      port: net.ports.http,
      scripts: (mac) => this.script(mac),
      roots: { ...httpRoots(this.cluster, tftpRoot, (image) => this.installerFor(image)), ...this.discovery.roots() },
      fileClients: (remote, root) => this.byIp.has(remote.replace(/^::ffff:/, "")) || this.discovery.mayFetch(remote, root),
      logger: this.log.child("http"),
    });
    this.api = this.makeApi();
    const api = this.api;
    this.http.addRoute("*", DEFAULT_PREFIX, async (ctx) => ((await api.handle(ctx.req, ctx.res)) ? undefined : { status: 404, body: "no such installer endpoint\n" }));
    this.tftp = new TftpServer({ address: this.address, port: net.ports.tftp, root: tftpRoot, provider: this.firmwareBoot.provider, logger: this.log.child("tftp") });
    this.dhcp = this.makeDhcp();
    // GRUB (Secure Boot) fetches its per-node configuration over TFTP: that opens the attempt as the iPXE script does.
    this.tftp.on("transfer-complete", (payload) => {
      const mac = macOfGrubConfig(payload.path);
      if (mac) this.bootConfigFetched(mac, payload.remote.address);
    });
    this.http.on("script-served", (payload) => {
      this.bootConfigFetched(payload.mac, payload.remote);
      this.discovery.scriptServed(payload.mac, payload.remote);
      this.observe({ event: "script-served", payload });
    });
    this.http.on("file-served", (payload) => this.observe({ event: "file-served", payload }));
    this.tftp.on("transfer-complete", (payload) => this.observe({ event: "transfer-complete", payload }));
    followAgents(this.api.events, this.agents, this.log);
    this.api.events.on("plan", (payload) => this.observe({ event: "plan", payload }));
    this.api.events.on("report", (payload) => {
      if (payload.status === "failed") this.access.endAttempt(payload.node);
      this.observe({ event: "report", payload });
    });
    this.api.events.on("inventory", (payload) => this.discovery.received(payload, (r) => this.emit("inventory", r)));
    this.api.events.on("up", (payload) => {
      this.access.endAttempt(payload.node);
      this.observe({ event: "up", payload });
    });
    this.access.startExpiry();
    try {
      for (const s of [this.rsync, this.http, this.tftp, ...(this.dhcpWanted ? [this.dhcp] : [])] as Service[]) {
        await s.start();
        this.started.push(s);
      }
    } catch (e) {
      await this.stop();
      throw e;
    }
    this.log.info("serving", { cluster: c.name, address: this.address, http: this.httpBase, nodes: c.nodes.length });
  }

  private observe(e: ServiceEvent): void {
    const o = observationsFrom(e, { byMac: (m: string) => this.nodeByMac(m)?.name, byIp: (ip: string) => this.byIp.get(ip)?.name });
    if (o) this.emit("observation", o);
  }

  private makeDhcp(): DhcpServer {
    const dhcp = makeDhcp({
      cluster: this.cluster,
      workDir: this.opts.workDir,
      address: this.address,
      httpBase: () => this.httpBase,
      nodeByMac: (mac) => this.nodeByMac(mac),
      ...(this.opts.scriptUrlFor ? { scriptUrlFor: this.opts.scriptUrlFor } : {}),
      bootFile: this.firmwareBoot.bootFile,
      discovering: () => this.discovery.enabled,
      ...(this.opts.bindInterface !== undefined ? { bindInterface: this.opts.bindInterface } : {}),
      logger: this.log,
    });
    for (const event of ["ack", "offer"] as const) dhcp.on(event, (payload) => this.observe({ event, payload }));
    return dhcp;
  }

  /** Whether this provisioner answers DHCP now. */
  get dhcpRunning(): boolean {
    return Boolean(this.dhcp && this.started.includes(this.dhcp));
  }

  /** Starts or stops answering DHCP while the other services run (a provisioner that becomes, or stops being, its DHCP authority). Calls run in order. */
  setDhcp(on: boolean): Promise<void> {
    const run = this.dhcpChain.then(async () => {
      this.dhcpWanted = on;
      if (!this.http) return; // not started: start() follows dhcpWanted
      if (on && !this.dhcpRunning) {
        // A fresh server: the reservations may have changed since the last one ran.
        this.dhcp = this.makeDhcp();
        await this.dhcp.start();
        this.started.push(this.dhcp);
        this.log.info("dhcp-started", { address: this.address });
      } else if (!on && this.dhcpRunning) {
        const d = this.dhcp!;
        this.started = this.started.filter((s) => s !== d);
        await d.stop();
        this.log.info("dhcp-stopped", { address: this.address });
      }
    });
    this.dhcpChain = run.catch(() => undefined);
    return run;
  }

  async stop(): Promise<void> {
    this.access.stopExpiry();
    await this.dhcpChain;
    await this.access.settled();
    await this.agents.close();
    const started = this.started.reverse();
    this.started = [];
    for (const s of started) {
      try {
        await s.stop();
      } catch (e) {
        this.log.warn("stop-failed", { service: s.name, error: (e as Error).message });
      }
    }
  }
}
