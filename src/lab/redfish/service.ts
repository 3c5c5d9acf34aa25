// One lab BMC's Redfish service, without sockets: which resource a request names,
// whether it is authenticated (a session's X-Auth-Token or HTTP Basic), what it
// answers (status, headers, a JSON document or a Redfish error), and which power
// action it asks of the machine behind it. It keeps the BMC's state: sessions and
// the boot override, which a "Once" override loses when the system boots with it
// (as a real BMC clears it). The machine (machine.ts) is given, so tests can pass
// their own.
import { randomBytes, randomUUID, timingSafeEqual } from "node:crypto";
import * as R from "./resources.js";

/** The VM behind the BMC. */
export interface Machine {
  power(): Promise<"On" | "Off">;
  /** Carries out a reset; `boot` is the device the firmware boots first if the system (re)starts. */
  reset(type: R.LabResetType, boot: "network" | "disk"): Promise<void>;
}

/** A reset the machine cannot carry out in its state (e.g. ForceRestart while off): answered with 409. */
export class MachineRefusal extends Error {}

export interface ServiceRequest {
  method: string;
  /** The request target (a query string is ignored). */
  url: string;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

export interface ServiceAnswer {
  status: number;
  headers: Record<string, string>;
  body?: unknown;
}

interface Session {
  id: string;
  token: string;
  user: string;
  lastUsed: number;
}

const SESSION_TIMEOUT_MS = 1800_000;
const MAX_SESSIONS = 32;

function answer(status: number, body?: unknown, headers: Record<string, string> = {}): ServiceAnswer {
  return { status, headers, ...(body !== undefined ? { body } : {}) };
}

function fail(status: number, messageId: string, message: string, resolution?: string): ServiceAnswer {
  return answer(status, R.errorBody(messageId, message, resolution));
}

function sameSecret(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

function header(req: ServiceRequest, name: string): string | undefined {
  const v = req.headers[name];
  return Array.isArray(v) ? v[0] : v;
}

export class RedfishBmcService {
  private readonly sessions = new Map<string, Session>();
  private nextSession = 1;
  private boot: R.BootOverride;
  private etag = 1;
  private readonly uuid = randomUUID();

  constructor(
    private readonly facts: R.SystemFacts,
    private readonly creds: { user: string; password: string },
    private readonly machine: Machine,
    private readonly now: () => number = Date.now,
  ) {
    this.boot = { target: "None", enabled: "Disabled", mode: facts.modes[0] ?? "Legacy" };
  }

  async handle(req: ServiceRequest): Promise<ServiceAnswer> {
    const path = req.url.split("?")[0]!.replace(/\/+$/, "") || "/";
    this.expireSessions();
    if (path === "/redfish") return req.method === "GET" ? answer(200, R.versions()) : this.notAllowed(["GET"]);
    if (path === "/redfish/v1") return req.method === "GET" ? answer(200, R.serviceRoot(this.uuid)) : this.notAllowed(["GET"]);
    if (path === R.SESSIONS && req.method === "POST") return this.login(req);
    if (!this.authenticated(req)) {
      return {
        ...fail(401, "NoValidSession", "There is no valid session established with the implementation.", "Establish a session before attempting any operations."),
        headers: { "WWW-Authenticate": 'Basic realm="metalform lab BMC"' },
      };
    }
    return this.route(req, path);
  }

  private route(req: ServiceRequest, path: string): Promise<ServiceAnswer> | ServiceAnswer {
    const sys = R.systemPath(this.facts.id);
    const only = (method: string, then: () => Promise<ServiceAnswer> | ServiceAnswer) => (req.method === method ? then() : this.notAllowed([method]));
    switch (path) {
      case R.SYSTEMS:
        return only("GET", () => answer(200, R.systemCollection(this.facts.id)));
      case sys:
        if (req.method === "GET") return this.getSystem();
        if (req.method === "PATCH") return this.patchSystem(req);
        return this.notAllowed(["GET", "PATCH"]);
      case R.resetTarget(this.facts.id):
        return only("POST", () => this.reset(req));
      case R.SESSION_SERVICE:
        return only("GET", () => answer(200, R.sessionService()));
      case R.SESSIONS:
        return only("GET", () => answer(200, R.sessionCollection([...this.sessions.values()].map((s) => s.id))));
    }
    const s = [...this.sessions.values()].find((x) => `${R.SESSIONS}/${x.id}` === path);
    if (s && req.method === "GET") return answer(200, R.session(s.id, s.user));
    if (s && req.method === "DELETE") {
      this.sessions.delete(s.token);
      return answer(204);
    }
    if (s) return this.notAllowed(["GET", "DELETE"]);
    return fail(404, "ResourceMissingAtURI", `The resource at the URI ${path} was not found.`);
  }

  private notAllowed(methods: string[]): ServiceAnswer {
    return { ...fail(405, "OperationNotAllowed", "The HTTP method is not allowed on this resource."), headers: { Allow: methods.join(", ") } };
  }

  private login(req: ServiceRequest): ServiceAnswer {
    const body = parse(req.body) as { UserName?: unknown; Password?: unknown } | undefined;
    if (!body || typeof body.UserName !== "string" || typeof body.Password !== "string") {
      return fail(400, "PropertyMissing", "The request body must hold the properties UserName and Password.");
    }
    if (!sameSecret(body.UserName, this.creds.user) || !sameSecret(body.Password, this.creds.password)) {
      return fail(401, "NoValidSession", "There is no valid session established with the implementation.", "Check the user name and password.");
    }
    if (this.sessions.size >= MAX_SESSIONS) this.sessions.delete([...this.sessions.values()].sort((a, b) => a.lastUsed - b.lastUsed)[0]!.token);
    const s: Session = { id: String(this.nextSession++), token: randomBytes(24).toString("hex"), user: body.UserName, lastUsed: this.now() };
    this.sessions.set(s.token, s);
    return answer(201, R.session(s.id, s.user), { "X-Auth-Token": s.token, Location: `${R.SESSIONS}/${s.id}` });
  }

  private authenticated(req: ServiceRequest): boolean {
    const token = header(req, "x-auth-token");
    if (token !== undefined) {
      const s = this.sessions.get(token);
      if (s) s.lastUsed = this.now();
      return s !== undefined;
    }
    const m = /^Basic\s+(\S+)$/i.exec(header(req, "authorization") ?? "");
    if (!m) return false;
    const decoded = Buffer.from(m[1]!, "base64").toString("utf8");
    const colon = decoded.indexOf(":");
    return colon > 0 && sameSecret(decoded.slice(0, colon), this.creds.user) && sameSecret(decoded.slice(colon + 1), this.creds.password);
  }

  private expireSessions(): void {
    const t = this.now();
    for (const [token, s] of this.sessions) if (t - s.lastUsed > SESSION_TIMEOUT_MS) this.sessions.delete(token);
  }

  private async getSystem(): Promise<ServiceAnswer> {
    const doc = R.computerSystem(this.facts, { power: await this.machine.power(), boot: this.boot });
    return answer(200, doc, { ETag: `W/"${this.etag}"` });
  }

  private async patchSystem(req: ServiceRequest): Promise<ServiceAnswer> {
    const ifMatch = header(req, "if-match");
    if (ifMatch !== undefined && ifMatch !== "*" && ifMatch !== `W/"${this.etag}"`) {
      return fail(412, "PreconditionFailed", "The ETag supplied did not match the ETag required to change this resource.", "Read the resource again and repeat the request.");
    }
    const body = parse(req.body);
    if (!isObject(body)) return fail(400, "MalformedJSON", "The request body submitted was malformed JSON and could not be parsed.");
    const other = Object.keys(body).find((k) => k !== "Boot");
    if (other !== undefined) return fail(400, "PropertyNotWritable", `The property ${other} is a read only property and cannot be assigned a value.`);
    const next = this.bootPatch(body.Boot);
    if ("status" in next) return next;
    this.boot = next;
    this.etag++;
    return this.getSystem();
  }

  /** The boot override after a PATCH of Boot, or the error answer. */
  private bootPatch(patch: unknown): R.BootOverride | ServiceAnswer {
    if (!isObject(patch)) return fail(400, "PropertyValueTypeError", "The value for the property Boot is of a different type than the property can accept.");
    const next = { ...this.boot };
    const allowed: Record<string, readonly string[]> = {
      BootSourceOverrideTarget: R.BOOT_TARGETS,
      BootSourceOverrideEnabled: R.BOOT_ENABLED,
      BootSourceOverrideMode: this.facts.modes,
    };
    for (const [k, v] of Object.entries(patch)) {
      const values = allowed[k];
      if (!values) return fail(400, "PropertyUnknown", `The property Boot/${k} is not in the list of valid properties for the resource.`);
      if (typeof v !== "string" || !values.includes(v))
        return fail(400, "PropertyValueNotInList", `The value ${JSON.stringify(v)} for the property Boot/${k} is not in the list of acceptable values (${values.join(", ")}).`);
      if (k === "BootSourceOverrideTarget") next.target = v as R.BootTarget;
      else if (k === "BootSourceOverrideEnabled") next.enabled = v as R.BootEnabled;
      else next.mode = v as R.BootMode;
    }
    return next;
  }

  private async reset(req: ServiceRequest): Promise<ServiceAnswer> {
    const body = parse(req.body);
    const type = isObject(body) ? body.ResetType : undefined;
    if (type === undefined) return fail(400, "ActionParameterMissing", "The action ComputerSystem.Reset requires the parameter ResetType to be present in the request body.");
    if (typeof type !== "string" || !(R.RESET_TYPES as readonly string[]).includes(type)) {
      return fail(
        400,
        "ActionParameterNotSupported",
        `The parameter ResetType for the action ComputerSystem.Reset is not supported on the target resource (allowed: ${R.RESET_TYPES.join(", ")}).`,
      );
    }
    const boots = type === "On" || type === "ForceRestart" || type === "PowerCycle";
    const active = this.boot.enabled !== "Disabled" && this.boot.target !== "None";
    // Without an override the VM keeps its firmware's order: network first, then disk.
    const device = active && this.boot.target === "Hdd" ? "disk" : "network";
    try {
      await this.machine.reset(type as R.LabResetType, device);
    } catch (e) {
      if (e instanceof MachineRefusal) return fail(409, "ResourceInStandby", e.message);
      throw e;
    }
    if (boots && active && this.boot.enabled === "Once") {
      this.boot = { ...this.boot, enabled: "Disabled", target: "None" };
      this.etag++;
    }
    return answer(204);
  }
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function parse(text: string): unknown {
  try {
    return text.trim() ? (JSON.parse(text) as unknown) : undefined;
  } catch {
    return undefined;
  }
}
