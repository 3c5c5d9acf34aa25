// The Redfish power driver: power state from the ComputerSystem's PowerState, power
// through its #ComputerSystem.Reset action (On, ForceOff, PowerCycle or
// ForceRestart), the next boot through a PATCH of Boot.BootSourceOverride*. Every
// operation is one short conversation: service root, session login, the system's
// resource, the action, session logout. Node's https client over a socket whose
// certificate was checked first (tls.ts says why not fetch).
import type { BmcTls, RedfishAuth } from "../../config/types.js";
import { nullLogger, type Logger } from "../../util/log.js";
import { PowerError, type BootDevice, type BootDeviceOptions, type PowerDriver, type PowerState } from "../driver.js";
import {
  AnswerError,
  bootOverrideBody,
  checkBootTarget,
  checkReset,
  cycleReset,
  readSystem,
  resetBody,
  serviceLinks,
  systemPath,
  type ResetType,
  type SystemView,
} from "./protocol.js";
import { RedfishSession } from "./session.js";
import type { TlsTarget } from "./tls.js";

export interface RedfishDriverOptions {
  /** BMC address (IPv4, IPv6 or host name). */
  host: string;
  /** HTTPS port; default 443. */
  port?: number;
  user: string;
  /** The resolved password; it travels only in the session login body (or the Basic header). */
  password: string;
  /** Default "session". */
  auth?: RedfishAuth;
  /** Id of the member of /redfish/v1/Systems; default: the only member. */
  system?: string;
  /** Certificate check; default: the system's CA store. */
  tls?: BmcTls;
  /** Bound of one request (connect, TLS, answer); default 20 s (BMCs are slow). */
  timeoutMs?: number;
  logger?: Logger;
}

export class RedfishDriver implements PowerDriver {
  readonly kind = "redfish";
  private readonly target: TlsTarget;
  private readonly o: RedfishDriverOptions;
  private readonly log: Logger;
  /** The system's path, found once per driver. */
  private path: string | undefined;

  constructor(options: RedfishDriverOptions) {
    const port = options.port ?? 443;
    const label = port === 443 ? options.host : `${options.host}:${port}`;
    if (!options.host || /[\s/]/.test(options.host)) throw new PowerError("config", `invalid BMC address ${JSON.stringify(options.host)}`);
    if (!Number.isInteger(port) || port < 1 || port > 65535) throw new PowerError("config", `invalid BMC port ${port} for ${options.host}`);
    if (!options.user) throw new PowerError("config", `BMC at ${label}: no user name configured`);
    this.o = options;
    this.log = options.logger ?? nullLogger;
    this.target = { host: options.host, port, label, timeoutMs: options.timeoutMs ?? 20_000, ...(options.tls ? { tls: options.tls } : {}) };
    if (options.tls && "insecure" in options.tls) {
      this.log.warn("redfish-tls-insecure", {
        bmc: label,
        message: `the certificate of the BMC at ${label} is not checked (bmc.tls.insecure): its password goes to whoever answers`,
      });
    }
  }

  async status(): Promise<PowerState> {
    return this.conversation(async (s) => (await this.system(s)).view.power);
  }

  async on(): Promise<void> {
    await this.conversation(async (s) => this.reset(s, (await this.system(s)).view, "On"));
  }

  async off(): Promise<void> {
    await this.conversation(async (s) => this.reset(s, (await this.system(s)).view, "ForceOff"));
  }

  async cycle(): Promise<void> {
    await this.conversation(async (s) => {
      const { view } = await this.system(s);
      // A system that is off cannot restart: it is switched on.
      await this.reset(s, view, view.power === "off" ? "On" : cycleReset(view));
    });
  }

  async setBootDevice(device: BootDevice, opts: BootDeviceOptions = {}): Promise<void> {
    await this.conversation(async (s) => {
      const { view, etag } = await this.system(s);
      checkBootTarget(view, device);
      // If-Match: the BMC refuses (412) when the resource changed since it was read.
      await s.call({ method: "PATCH", path: view.path, body: bootOverrideBody(device, opts), ...(etag ? { headers: { "If-Match": etag } } : {}) });
      this.log.info("redfish-boot-override", { bmc: this.target.label, device, once: !opts.persistent, ...(opts.efi !== undefined ? { efi: opts.efi } : {}) });
    });
  }

  private async reset(s: RedfishSession, view: SystemView, type: ResetType): Promise<void> {
    checkReset(view, type);
    await s.call({ method: "POST", path: view.resetTarget, body: resetBody(type) });
    this.log.info("redfish-reset", { bmc: this.target.label, system: view.path, type, was: view.powerState });
  }

  /** The system's resource (and its ETag), finding its path in the Systems collection the first time. */
  private async system(s: RedfishSession): Promise<{ view: SystemView; etag?: string }> {
    if (!this.path) {
      const collection = await s.call({ method: "GET", path: serviceLinks(s.root).systems });
      this.path = systemPath(collection.body, this.o.system);
    }
    const res = await s.call({ method: "GET", path: this.path });
    const etag = typeof res.headers.etag === "string" ? res.headers.etag : undefined;
    return { view: readSystem(res.body, this.path), ...(etag ? { etag } : {}) };
  }

  /** Opens a session, runs `work`, closes the session whatever happened; answers of the wrong shape become PowerError. */
  private async conversation<T>(work: (s: RedfishSession) => Promise<T>): Promise<T> {
    let session: RedfishSession | undefined;
    try {
      session = await RedfishSession.open(this.target, { user: this.o.user, password: this.o.password, auth: this.o.auth ?? "session" }, this.log);
      return await work(session);
    } catch (e) {
      if (e instanceof AnswerError) throw new PowerError("failed", `BMC at ${this.target.label}: ${e.message}`);
      throw e;
    } finally {
      await session?.close();
    }
  }
}
