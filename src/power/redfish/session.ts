// An authenticated conversation with one Redfish service: a session (POST the
// credentials to the Sessions collection once, send X-Auth-Token afterwards, DELETE
// the session at the end — DSP0266 §13.3) or HTTP Basic on every request. Statuses
// the BMC answers with an error become PowerError messages carrying what it said.
import { STATUS_CODES } from "node:http";
import type { RedfishAuth } from "../../config/types.js";
import type { Logger } from "../../util/log.js";
import { PowerError } from "../driver.js";
import { send, type RedfishRequest, type RedfishResponse } from "./http.js";
import { errorText, serviceLinks, SERVICE_ROOT } from "./protocol.js";
import type { TlsTarget } from "./tls.js";

export interface Credentials {
  user: string;
  password: string;
  auth: RedfishAuth;
}

export class RedfishSession {
  private token: string | undefined;
  private location: string | undefined;
  /** The service root (read once, unauthenticated as DSP0266 allows). */
  root: unknown;

  private constructor(
    private readonly target: TlsTarget,
    private readonly creds: Credentials,
    private readonly log: Logger,
  ) {}

  /** Reads the service root and, for session authentication, logs in. */
  static async open(target: TlsTarget, creds: Credentials, log: Logger): Promise<RedfishSession> {
    const s = new RedfishSession(target, creds, log);
    s.root = (await s.call({ method: "GET", path: SERVICE_ROOT }, { anonymous: true })).body;
    if (creds.auth === "session") await s.login();
    return s;
  }

  private async login(): Promise<void> {
    const { sessions } = serviceLinks(this.root);
    const res = await this.call({ method: "POST", path: sessions, body: { UserName: this.creds.user, Password: this.creds.password } }, { anonymous: true });
    const token = res.headers["x-auth-token"];
    if (typeof token !== "string" || !token) throw new PowerError("failed", `BMC at ${this.target.label}: the session login answered without an X-Auth-Token`);
    this.token = token;
    const loc = res.headers.location;
    if (typeof loc === "string" && loc) this.location = new URL(loc, "https://bmc").pathname;
  }

  /** Ends the session; a failure here only gets logged (the power action itself is done). */
  async close(): Promise<void> {
    if (!this.token || !this.location) return;
    try {
      await this.call({ method: "DELETE", path: this.location });
    } catch (e) {
      this.log.debug("redfish-logout-failed", { bmc: this.target.label, message: (e as Error).message });
    }
    this.token = undefined;
  }

  /** One request with the session's credentials; throws PowerError for any status ≥ 400. */
  async call(req: RedfishRequest, how: { anonymous?: boolean } = {}): Promise<RedfishResponse> {
    const headers = { ...req.headers, ...(how.anonymous ? {} : this.authHeaders()) };
    const started = Date.now();
    const res = await send(this.target, { ...req, headers });
    this.log.debug("redfish", { bmc: this.target.label, method: req.method, path: req.path, status: res.status, ms: Date.now() - started });
    if (res.status >= 400) throw this.failure(req, res);
    return res;
  }

  private authHeaders(): Record<string, string> {
    if (this.token) return { "X-Auth-Token": this.token };
    const basic = Buffer.from(`${this.creds.user}:${this.creds.password}`).toString("base64");
    return { Authorization: `Basic ${basic}` };
  }

  private failure(req: RedfishRequest, res: RedfishResponse): PowerError {
    const said = scrub(errorText(res.body) ?? "", this.creds.password);
    const status = `HTTP ${res.status} ${STATUS_CODES[res.status] ?? ""}`.trim();
    const why = said ? `${status}: ${said}` : status;
    const label = this.target.label;
    const told = said || undefined;
    if (res.status === 401) return new PowerError("auth", `BMC at ${label} refused the credentials for user ${this.creds.user} (${why})`, why, told);
    if (res.status === 403) return new PowerError("privilege", `BMC at ${label}: user ${this.creds.user} may not ${req.method} ${req.path} (${why})`, why, told);
    return new PowerError("failed", `BMC at ${label}: ${req.method} ${req.path} answered ${why}`, why, told);
  }
}

function scrub(text: string, secret: string): string {
  return secret.length >= 3 ? text.split(secret).join("********") : text;
}
