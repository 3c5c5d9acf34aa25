// HTTP handlers of the installer API, to mount on metalform's HTTP server. Routes,
// under `prefix` (default /api/v1/installer), each for one node and that node's token
// (`Authorization: Bearer <token>`; any other node's token is refused with 403):
//   GET  nodes/<node>/plan          the install plan (JSON)             install token
//   GET  nodes/<node>/plan.sh       the same plan as shell assignments  install token
//   GET  nodes/<node>/bmc-password  the BMC password (text/plain)       install token
//   POST nodes/<node>/report        {step, status, bytes?, files?, message?}  install token
//   POST nodes/<node>/up            {image}                             up or install token
// `handle` answers the request and resolves true when the path is one of these, false
// otherwise (the server tries its next handler). Malformed input never throws.
import { EventEmitter } from "node:events";
import type { IncomingMessage, ServerResponse } from "node:http";
import type { InstallPlan } from "../../boot/plan-types.js";
import { renderPlanShell } from "../../boot/plan-shell.js";
import { nullLogger, type Logger } from "../../util/log.js";
import { bearer, readJson, send, sendError } from "./io.js";
import { parseReport, parseUp, type NodeReport, type NodeUp, type Parsed } from "./reports.js";
import { methodOf, route, scopesOf, type ApiRoute } from "./route.js";
import type { NodeTokens } from "./tokens.js";

export const DEFAULT_PREFIX = "/api/v1/installer";
export const DEFAULT_MAX_BODY = 16 * 1024;

export interface InstallerApiEventMap {
  /** A step report from a node's installer. */
  report: [NodeReport];
  /** An installed system reported UP. */
  up: [NodeUp];
  /** A node fetched its plan (form: "json" or "sh"). */
  plan: [{ node: string; form: "json" | "sh"; time: string }];
}

export class InstallerApiEvents extends EventEmitter<InstallerApiEventMap> {}

export interface InstallerApiOptions {
  tokens: NodeTokens;
  /** The plan of a node, or undefined for a node without one (404). */
  plan: (node: string) => InstallPlan | undefined | Promise<InstallPlan | undefined>;
  /** Resolves a node's BMC password (from its secret reference); undefined: 404. */
  bmcPassword?: (node: string) => Promise<string | undefined>;
  prefix?: string;
  maxBodyBytes?: number;
  logger?: Logger;
  now?: () => Date;
}

export type Handler = (req: IncomingMessage, res: ServerResponse) => Promise<boolean>;

export interface InstallerApi {
  handle: Handler;
  events: InstallerApiEvents;
}

/** What one request's endpoint handler gets. */
interface Call {
  r: ApiRoute;
  req: IncomingMessage;
  res: ServerResponse;
}

interface Api {
  opts: InstallerApiOptions;
  max: number;
  log: Logger;
  now: () => Date;
  events: InstallerApiEvents;
}

export function createInstallerApi(opts: InstallerApiOptions): InstallerApi {
  const prefix = (opts.prefix ?? DEFAULT_PREFIX).replace(/\/+$/, "");
  const api: Api = {
    opts,
    max: opts.maxBodyBytes ?? DEFAULT_MAX_BODY,
    log: opts.logger ?? nullLogger,
    now: opts.now ?? (() => new Date()),
    events: new InstallerApiEvents(),
  };
  const handle: Handler = async (req, res) => {
    const r = route(prefix, req.url);
    if (!r) return false;
    try {
      if (admitted(api, { r, req, res })) await answer(api, { r, req, res });
    } catch (err) {
      api.log.error("installer-api.error", { node: r.node, what: r.what, error: String(err) });
      if (!res.headersSent) sendError(res, 500, "internal error");
      else res.destroy();
    }
    return true;
  };
  return { handle, events: api.events };
}

/** Right method and a token of this node with a scope the endpoint takes; else answered 405/403. */
function admitted(api: Api, { r, req, res }: Call): boolean {
  const method = methodOf(r.what);
  if (req.method !== method) {
    req.resume();
    res.setHeader("allow", method);
    sendError(res, 405, "method not allowed");
    return false;
  }
  const token = bearer(req);
  if (!scopesOf(r.what).some((s) => api.opts.tokens.verify(r.node, s, token))) {
    req.resume();
    api.log.warn("installer-api.forbidden", { node: r.node, what: r.what, remote: req.socket.remoteAddress });
    sendError(res, 403, "token not valid for this node");
    return false;
  }
  return true;
}

async function answer(api: Api, call: Call): Promise<void> {
  const { r } = call;
  switch (r.what) {
    case "plan":
    case "plan.sh":
      return servePlan(api, call);
    case "bmc-password":
      return serveBmcPassword(api, call);
    case "report":
      return accept(api, call, (body) => parseReport(r.node, body, api.now()), (v) => api.events.emit("report", v));
    case "up":
      return accept(api, call, (body) => parseUp(r.node, body, api.now()), (v) => api.events.emit("up", v));
  }
}

async function servePlan(api: Api, { r, res }: Call): Promise<void> {
  const plan = await api.opts.plan(r.node);
  if (!plan) return sendError(res, 404, `no install plan for ${r.node}`);
  if (r.what === "plan") send(res, 200, "application/json", JSON.stringify(plan, null, 2) + "\n");
  else send(res, 200, "text/plain; charset=utf-8", renderPlanShell(plan));
  api.events.emit("plan", { node: r.node, form: r.what === "plan" ? "json" : "sh", time: api.now().toISOString() });
}

async function serveBmcPassword(api: Api, { r, res }: Call): Promise<void> {
  const pw = api.opts.bmcPassword ? await api.opts.bmcPassword(r.node) : undefined;
  if (pw === undefined) sendError(res, 404, `no BMC password for ${r.node}`);
  else send(res, 200, "text/plain; charset=utf-8", pw);
  api.log.info("installer-api.bmc-password", { node: r.node, served: pw !== undefined }); // never the value
}

/** A POSTed report: parsed and validated, answered 204, then emitted. */
async function accept<T>(api: Api, { req, res }: Call, parse: (body: unknown) => Parsed<T>, emit: (value: T) => void): Promise<void> {
  const body = await readJson(req, res, api.max);
  if (body === undefined) return;
  const p = parse(body);
  if (!p.ok) return sendError(res, 400, p.error);
  send(res, 204, "text/plain", "");
  emit(p.value);
}

/** The base URL of a node in the API, as the installer and the UP reporter use it. */
export function nodeApiUrl(httpBase: string, node: string, prefix = DEFAULT_PREFIX): string {
  return `${httpBase.replace(/\/+$/, "")}${prefix}/nodes/${encodeURIComponent(node)}`;
}
