// Discovery in the head's services (issue 19): what a host the configuration does not
// know gets — the inventory iPXE script, the discovery image's kernel and the
// installer, nothing else — and how its inventory becomes a record for the state.
// Access (docs/security.md): a discovered host's script fetch opens its one
// inventory session (services/installer-api/discovery.ts); file access is granted to
// the address that fetched it, for the discovery kernel and installer roots only.
import { basename, dirname } from "node:path";
import { renderIpxeInventory } from "../boot/ipxe.js";
import type { DesiredCluster, Node } from "../config/types.js";
import type { InventoryReport } from "../services/installer-api/api.js";
import { discoveryApiUrl } from "../services/installer-api/api.js";
import { DiscoverySessions } from "../services/installer-api/discovery.js";
import { filePath } from "../services/http/server.js";
import type { InventoryRecord } from "../state/inventory.js";
import type { Logger } from "../util/log.js";
import { kernelRoot } from "./node-boot.js";

export type { InventoryRecord } from "../state/inventory.js";

/** The HTTP root the discovery installer is served from. */
export const DISCOVERY_INSTALLER_ROOT = "installer-discovery";

/** What discovery reads of the services: the configuration being served and its nodes by MAC. */
export interface ServedCluster {
  readonly config: DesiredCluster;
  nodeByMac(mac: string): Node | undefined;
}

export interface DiscoveryBootOptions {
  /** The installer initramfs discovered hosts boot (built for the discovery image). */
  installer?: string | undefined;
  logger: Logger;
}

/** Hosts that fetched an inventory script, by address: at most this many are remembered. */
const MAX_CLIENTS = 1024;

export class DiscoveryBoot {
  readonly sessions = new DiscoverySessions();
  private readonly clients = new Set<string>();

  constructor(
    private readonly served: ServedCluster,
    private readonly opts: DiscoveryBootOptions,
  ) {}

  /** Whether unknown MACs are served at all: discovery on, and an installer to boot. */
  get enabled(): boolean {
    return Boolean(this.served.config.network.discovery && this.opts.installer);
  }

  /** HTTP roots discovery adds. */
  roots(): Record<string, string> {
    return this.enabled && this.opts.installer ? { [DISCOVERY_INSTALLER_ROOT]: dirname(this.opts.installer) } : {};
  }

  /** The inventory script of an unknown MAC (undefined: discovery off, 404). */
  script(mac: string, httpBase: string): string | undefined {
    const settings = this.served.config.network.discovery;
    const image = settings?.image ? this.served.config.images.get(settings.image) : undefined;
    if (!this.enabled || !settings || !image || !this.opts.installer) return undefined;
    return renderIpxeInventory({
      mac,
      image,
      kernelUrl: httpBase + filePath(kernelRoot(image.name), basename(image.kernel)),
      initrdUrl: httpBase + filePath(DISCOVERY_INSTALLER_ROOT, basename(this.opts.installer)),
      discoveryUrl: discoveryApiUrl(httpBase, mac),
      then: settings.then,
    });
  }

  /** An iPXE script was served: for an unknown MAC that opens its inventory session. */
  scriptServed(mac: string, remote: string): void {
    if (!this.enabled || this.served.nodeByMac(mac)) return;
    const ip = remote.replace(/^::ffff:/, "");
    if (!this.sessions.open(mac, ip)) {
      this.opts.logger.warn("discovery-rate-limited", { mac, remote: ip });
      return;
    }
    if (this.clients.size >= MAX_CLIENTS) this.clients.delete(this.clients.values().next().value!);
    this.clients.add(ip);
    this.opts.logger.info("discovery-boot", { mac, remote: ip });
  }

  /** A discovered host may fetch the discovery image's kernel and the discovery installer. */
  mayFetch(remote: string, root: string): boolean {
    const settings = this.served.config.network.discovery;
    if (!this.enabled || !settings?.image || !this.clients.has(remote.replace(/^::ffff:/, ""))) return false;
    return root === encodeURIComponent(DISCOVERY_INSTALLER_ROOT) || root === encodeURIComponent(kernelRoot(settings.image));
  }

  /** An inventory came: its state record (a configured node's keyed by its MAC too) goes to `emit`. */
  received(p: InventoryReport, emit: (r: InventoryRecord) => void): void {
    const r = this.record(p);
    if (r) emit(r);
  }

  record(p: InventoryReport): InventoryRecord | undefined {
    const node = p.node !== undefined ? this.served.config.nodes.find((n) => n.name === p.node) : p.mac !== undefined ? this.served.nodeByMac(p.mac) : undefined;
    const mac = node?.mac ?? p.mac;
    if (mac === undefined) return undefined;
    this.opts.logger.info("inventory", { mac, node: node?.name, address: p.address, disks: p.facts.disks.length, nics: p.facts.nics.length });
    return { mac, ...(node ? { node: node.name } : {}), address: p.address, time: p.time, facts: p.facts };
  }
}
