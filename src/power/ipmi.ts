// The IPMI power driver: chassis power and boot device through ipmitool (lanplus).

import { nullLogger, type Logger } from "../util/log.js";
import { PowerError, type BootDevice, type BootDeviceOptions, type PowerDriver, type PowerState } from "./driver.js";
import { answerBoundSec, bmcLabel, MAX_PASSWORD_BYTES, runIpmitool, type IpmiInterface, type IpmiPrivilege, type IpmiTarget } from "./ipmitool.js";

export interface IpmiDriverOptions {
  /** BMC address (IPv4, IPv6 or host name). */
  host: string;
  /** UDP port; default 623. */
  port?: number;
  user: string;
  /** The resolved password (from src/config/secrets.ts); passed to ipmitool via the environment only. */
  password: string;
  /** ipmitool interface: "lanplus" (IPMI 2.0, default) or "lan" (IPMI 1.5, for old BMCs). */
  interface?: IpmiInterface;
  /** RMCP+ cipher suite; default 3 (HMAC-SHA1/AES, supported by nearly every BMC). "auto" asks the BMC. */
  cipherSuite?: number | "auto";
  /** Seconds ipmitool waits for one answer; default 2. */
  timeoutSec?: number;
  /**
   * Times ipmitool resends an unanswered request, at least 1; default 2. An
   * unreachable BMC is reported after timeoutSec × retries × (retries + 1) s
   * (ipmitool backs off): 12 s with the defaults.
   */
  retries?: number;
  /** Session privilege to ask for; ipmitool's default is ADMINISTRATOR. Power control needs OPERATOR. */
  privilege?: IpmiPrivilege;
  /** Runs of ipmitool for failures that may be transient (not auth, not unreachable); default 2. */
  attempts?: number;
  /** Pause between attempts; default 500 ms. */
  retryDelayMs?: number;
  /** The ipmitool binary; default "ipmitool" from PATH. */
  ipmitoolPath?: string;
  logger?: Logger;
  /** Called with the pid of each ipmitool process (diagnostics, tests). */
  onSpawn?: (pid: number) => void;
}

// Failures a second try cannot fix.
const FINAL = new Set(["auth", "unreachable", "privilege", "cipher", "missing-tool", "config"]);

export class IpmiDriver implements PowerDriver {
  readonly kind = "ipmi";
  private readonly target: IpmiTarget;
  private readonly o: IpmiDriverOptions;
  private readonly log: Logger;

  constructor(options: IpmiDriverOptions) {
    const port = options.port ?? 623;
    const label = bmcLabel({ host: options.host, port });
    if (!options.host || options.host.startsWith("-")) throw new PowerError("config", `invalid BMC address ${JSON.stringify(options.host)}`);
    if (!Number.isInteger(port) || port < 1 || port > 65535) throw new PowerError("config", `invalid BMC port ${port} for ${options.host}`);
    if (!options.user) throw new PowerError("config", `BMC at ${label}: no user name configured`);
    if (Buffer.byteLength(options.password) > MAX_PASSWORD_BYTES) {
      throw new PowerError("config", `BMC at ${label}: the password for user ${options.user} is longer than ${MAX_PASSWORD_BYTES} bytes (the IPMI 2.0 limit)`);
    }
    if (options.password.includes("\0")) throw new PowerError("config", `BMC at ${label}: the password contains a NUL byte`);
    const timeoutSec = options.timeoutSec ?? 2;
    const retries = options.retries ?? 2;
    if (!Number.isInteger(timeoutSec) || timeoutSec < 1) throw new PowerError("config", `BMC at ${label}: timeout must be a whole number of seconds ≥ 1`);
    // ipmitool reads -R 0 as "use the default" (4 retries, 20 s), so 0 is refused.
    if (!Number.isInteger(retries) || retries < 1 || retries > 10) throw new PowerError("config", `BMC at ${label}: retries must be 1..10`);
    this.o = options;
    this.log = options.logger ?? nullLogger;
    const cipherSuite = options.cipherSuite ?? 3;
    if (cipherSuite !== "auto" && (!Number.isInteger(cipherSuite) || cipherSuite < 0 || cipherSuite > 255))
      throw new PowerError("config", `BMC at ${label}: cipher suite must be 0..255 or "auto"`);
    this.target = {
      ...(options.interface ? { interface: options.interface } : {}),
      host: options.host,
      port,
      user: options.user,
      password: options.password,
      cipherSuite,
      timeoutSec,
      retries,
      ...(options.privilege ? { privilege: options.privilege } : {}),
    };
  }

  async status(): Promise<PowerState> {
    const out = await this.run(["power", "status"]);
    const m = /Chassis Power is (on|off)/i.exec(out);
    if (!m) throw new PowerError("failed", `BMC at ${bmcLabel(this.target)}: unexpected answer to "power status": ${out.trim().slice(0, 200)}`);
    return m[1]!.toLowerCase() as PowerState;
  }

  async on(): Promise<void> {
    await this.run(["power", "on"]);
  }

  async off(): Promise<void> {
    await this.run(["power", "off"]);
  }

  async cycle(): Promise<void> {
    // Many BMCs refuse "power cycle" while the chassis is off.
    if ((await this.status()) === "off") return this.on();
    await this.run(["power", "cycle"]);
  }

  async setBootDevice(device: BootDevice, opts: BootDeviceOptions = {}): Promise<void> {
    const flags = [...(opts.persistent ? ["persistent"] : []), ...(opts.efi ? ["efiboot"] : [])];
    await this.run(["chassis", "bootdev", device, ...(flags.length ? [`options=${flags.join(",")}`] : [])]);
  }

  private async run(command: string[]): Promise<string> {
    const attempts = Math.max(1, this.o.attempts ?? 2);
    const t = this.target;
    // ipmitool's own bound plus a margin for session setup and process start.
    const deadlineMs = (answerBoundSec(t) + 3) * 1000;
    for (let i = 1; ; i++) {
      const started = Date.now();
      try {
        const out = await runIpmitool(t, command, { ipmitoolPath: this.o.ipmitoolPath ?? "ipmitool", deadlineMs, onSpawn: this.o.onSpawn });
        this.log.debug("ipmi", { bmc: bmcLabel(t), command: command.join(" "), ms: Date.now() - started });
        return out;
      } catch (err) {
        const e = err as PowerError;
        this.log.warn("ipmi-failed", { bmc: bmcLabel(t), command: command.join(" "), kind: e.kind, attempt: i, message: e.message });
        if (FINAL.has(e.kind) || i >= attempts) throw e;
        await new Promise((r) => setTimeout(r, this.o.retryDelayMs ?? 500));
      }
    }
  }
}
