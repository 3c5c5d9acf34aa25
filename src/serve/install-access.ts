// Who may install from the head right now — the install-attempt access control of
// docs/security.md, kept apart from the services it guards so that the rules can be
// read in one place. An attempt opens when a node set to install fetches its boot
// configuration from its own address; its credentials (installer API, rsync) are
// claimed once by the installer and end with the attempt (local boot, a failed step,
// UP, removal, or the install window running out). Image modules admit only the
// nodes installing that image. HeadServices owns one and wires its services to it.
import type { DesiredCluster, Node } from "../config/types.js";
import type { Logger } from "../util/log.js";
import type { InstallerApiOptions } from "../services/installer-api/api.js";
import { NodeCredentials } from "../services/installer-api/node-credentials.js";
import { InstallSessions } from "../services/installer-api/sessions.js";
import type { RsyncModule } from "../services/rsync/config.js";
import type { RsyncDaemon } from "../services/rsync/daemon.js";
import type { BootMode } from "./boot-control.js";
import { imageModuleName, imageModules } from "./image-modules.js";

export interface InstallAccessOptions {
  /** Upper bound of one install attempt and its credentials. */
  windowMs: number;
  /** The configuration being served (it changes with reconfigure and removeNode). */
  cluster: () => DesiredCluster;
  nodeByMac: (mac: string) => Node | undefined;
  bootMode: (node: string) => BootMode;
  /** The rsync daemon whose modules follow the attempts (undefined until started). */
  rsync: () => RsyncDaemon | undefined;
  logger: Logger;
}

/** The installer API's part of the access control (sessions, credentials, the claim). */
export type ApiAccess = Pick<InstallerApiOptions, "sessions" | "nodeCredentials" | "claimed">;

export class InstallAccess {
  private readonly sessions: InstallSessions;
  private nodeCredentials = new NodeCredentials();
  /** The node credential issued to each running attempt, for its plan (memory only). */
  private readonly issued = new Map<string, string>();
  private expiryTimer?: NodeJS.Timeout;
  /** rsync reloads in order: a later one must not be overtaken by an earlier one. */
  private accessChain: Promise<unknown> = Promise.resolve();

  constructor(private readonly opts: InstallAccessOptions) {
    this.sessions = new InstallSessions({ windowMs: opts.windowMs });
  }

  /** Keeps the node credentials' hashes in this file, so installed nodes' UP reporters survive restarts. */
  persistCredentials(file: string): void {
    this.nodeCredentials = new NodeCredentials(file);
  }

  /** What the installer API checks and calls; read once the credentials persist. */
  apiAccess(): ApiAccess {
    return {
      sessions: this.sessions,
      nodeCredentials: this.nodeCredentials,
      // A new node credential for every attempt; the plan carries it into the installed system.
      claimed: async (name) => {
        this.issued.set(name, await this.nodeCredentials.issue(name));
      },
    };
  }

  /** The node credential of a node's claimed attempt (undefined: none claimed, so no plan). */
  credential(node: string): string | undefined {
    return this.issued.get(node);
  }

  /**
   * An install attempt opens when a node set to install fetches its boot
   * configuration from its own address; from elsewhere it is only logged.
   */
  bootConfigFetched(mac: string, remote: string): void {
    const node = this.opts.nodeByMac(mac);
    if (!node || this.opts.bootMode(node.name).mode !== "install") return;
    if (remote.replace(/^::ffff:/, "") !== node.ip) {
      this.opts.logger.warn("script-from-elsewhere", { node: node.name, remote, expected: node.ip });
      return;
    }
    this.sessions.open(node.name, node.ip);
    this.issued.delete(node.name);
    this.opts.logger.info("install-attempt", { node: node.name, address: node.ip });
    this.refreshAccess();
  }

  /** Ends a node's attempt (the API may have ended it already: UP, a failed step) and its image access. */
  endAttempt(node: string): void {
    this.issued.delete(node);
    this.sessions.close(node);
    this.refreshAccess();
  }

  /** The rsync modules, each readable only by the nodes installing its image right now. */
  rsyncModules(): RsyncModule[] {
    const cluster = this.opts.cluster();
    const active = this.sessions.active();
    return imageModules(cluster.images.values()).map((m) => ({
      ...m,
      access: active
        .filter((a) => cluster.nodes.some((n) => n.name === a.node && imageModuleName(n.image) === m.name))
        .map((a) => ({ user: a.rsyncUser, password: a.rsyncPassword, host: a.ip })),
    }));
  }

  /** The images changed: the rsync modules follow before this resolves. */
  async imagesChanged(): Promise<void> {
    this.refreshAccess();
    await this.accessChain;
  }

  /** Rewrites the rsync daemon's modules and secrets (in order; rsync rereads them per connection). */
  private refreshAccess(): void {
    const rsync = this.opts.rsync();
    if (!rsync) return;
    this.accessChain = this.accessChain.then(() => rsync.reload(this.rsyncModules())).catch((e: Error) => this.opts.logger.error("rsync-access", { error: e.message }));
  }

  /** Attempts past their upper bound end every few seconds from now on. */
  startExpiry(): void {
    this.expiryTimer = setInterval(() => this.expireAttempts(), 5_000).unref();
  }

  /** No more expiry checks (stopping); settled() waits for the rsync reloads. */
  stopExpiry(): void {
    clearInterval(this.expiryTimer);
  }

  /** Resolves when every queued rsync reload has run. */
  async settled(): Promise<void> {
    await this.accessChain;
  }

  /** Attempts past their upper bound end, with their credentials and image access. */
  private expireAttempts(): void {
    const gone = this.sessions.expire();
    for (const node of gone) {
      this.issued.delete(node);
      this.opts.logger.warn("install-attempt-expired", { node });
    }
    if (gone.length) this.refreshAccess();
  }
}
