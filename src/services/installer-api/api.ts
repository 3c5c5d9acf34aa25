// HTTP handlers of the installer API, to mount on metalform's HTTP server. Routes,
// under `prefix` (default /api/v1/installer), each for one node (sessions.ts says how
// an install attempt's credential is claimed and when it ends):
//   POST nodes/<node>/claim         the attempt's credentials (shell form), once  node's address, install running
//   GET  nodes/<node>/plan          the install plan (JSON)             install credential
//   GET  nodes/<node>/plan.sh       the same plan as shell assignments  install credential
//   GET  nodes/<node>/bmc-password  the BMC password (text/plain)       install credential, BMC step, once
//   POST nodes/<node>/report        {step, status, bytes?, files?, message?}  install credential
//   POST nodes/<node>/up            {image}                             node credential
//   POST nodes/<node>/agent, GET work, POST done: the node agent (agent-protocol.ts)  node credential
// Every call must come from the node's configured address. A refusal is answered 403
// and logged with the remote address and the reason, never with what was presented.
// `handle` answers the request and resolves true when the path is one of these, false
// otherwise (the server tries its next handler). Malformed input never throws.
import { EventEmitter } from "node:events";
import type { IncomingMessage, ServerResponse } from "node:http";
import type { InstallPlan } from "../../boot/plan-types.js";
import { renderPlanShell } from "../../boot/plan-shell.js";
import { nullLogger, type Logger } from "../../util/log.js";
import { shQuote } from "../../boot/shell-quote.js";
import { bearer, readJson, send, sendError } from "./io.js";
import type { NodeCredentials } from "./node-credentials.js";
import { parseAgentReport, parseWorkDone, renderWork, type AgentReport, type WorkDone, type WorkItem } from "./agent-protocol.js";
import { parseReport, parseUp, type NodeReport, type NodeUp, type Parsed } from "./reports.js";
import { admissionOf, methodOf, route, type ApiRoute } from "./route.js";
import { normalizeIp, type InstallSessions, type Refusal } from "./sessions.js";

export const DEFAULT_PREFIX = "/api/v1/installer";
export const DEFAULT_MAX_BODY = 16 * 1024;

export interface InstallerApiEventMap {
  /** A step report from a node's installer. */
  report: [NodeReport];
  /** An installed system reported UP. */
  up: [NodeUp];
  /** A node fetched its plan (form: "json" or "sh"). */
  plan: [{ node: string; form: "json" | "sh"; time: string }];
  /** A node's installer claimed its attempt's credential. */
  claim: [{ node: string; remote: string }];
  /** A node agent's report of what its node runs. */
  agent: [AgentReport];
  /** A node agent polled for work (its heartbeat); `work` is what it was given. */
  polled: [{ node: string; time: string; work?: WorkItem }];
  /** A node agent finished a work item. */
  "work-done": [WorkDone];
  /** A call was refused (and why); never carries what was presented. */
  refused: [RefusedCall];
}

export interface RefusedCall {
  node: string;
  what: string;
  remote: string;
  reason: Refusal | "bad-node-credential";
}

export class InstallerApiEvents extends EventEmitter<InstallerApiEventMap> {}

export interface InstallerApiOptions {
  /** Install attempts and their credentials. */
  sessions: InstallSessions;
  /** The installed systems' long-lived credentials (UP, a node agent). */
  nodeCredentials: NodeCredentials;
  /** The address a node's calls must come from (its configured address); undefined: unknown node. */
  addressOf: (node: string) => string | undefined;
  /** Runs after a successful claim, before the answer (the head issues the node credential the plan carries). */
  claimed?: (node: string) => Promise<void>;
  /** The plan of a node, or undefined for a node without one (404). */
  plan: (node: string) => InstallPlan | undefined | Promise<InstallPlan | undefined>;
  /** Resolves a node's BMC password (from its secret reference); undefined: 404. */
  bmcPassword?: (node: string) => Promise<string | undefined>;
  /** The next work item for a node's agent (taken off its queue), or undefined: nothing to do. */
  agentWork?: (node: string) => WorkItem | undefined;
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

/** Right method and the credential the endpoint takes; else answered 405/403 (and the refusal logged). */
function admitted(api: Api, { r, req, res }: Call): boolean {
  const method = methodOf(r.what);
  if (req.method !== method) {
    req.resume();
    res.setHeader("allow", method);
    sendError(res, 405, "method not allowed");
    return false;
  }
  const check = admission(api, r, req);
  if (check.ok) return true;
  req.resume();
  refuse(api, { r, req, res }, check.refusal);
  return false;
}

type Admit = { ok: true } | { ok: false; refusal: RefusedCall["reason"] };

function admission(api: Api, r: ApiRoute, req: IncomingMessage): Admit {
  const remote = req.socket.remoteAddress;
  switch (admissionOf(r.what)) {
    case "address":
      return { ok: true }; // the claim itself decides (claim())
    case "install":
      return r.what === "bmc-password" ? api.opts.sessions.bmcPassword(r.node, remote, bearer(req)) : api.opts.sessions.check(r.node, remote, bearer(req));
    case "node": {
      const ip = api.opts.addressOf(r.node);
      if (!ip || normalizeIp(remote) !== ip) return { ok: false, refusal: "wrong-address" };
      return api.opts.nodeCredentials.verify(r.node, bearer(req)) ? { ok: true } : { ok: false, refusal: "bad-node-credential" };
    }
  }
}

function refuse(api: Api, { r, req, res }: Call, reason: RefusedCall["reason"]): void {
  const remote = normalizeIp(req.socket.remoteAddress) ?? "unknown";
  api.log.warn("installer-api.refused", { node: r.node, what: r.what, remote, reason });
  api.events.emit("refused", { node: r.node, what: r.what, remote, reason });
  sendError(res, 403, `refused: ${reason}`);
}

async function answer(api: Api, call: Call): Promise<void> {
  const { r } = call;
  switch (r.what) {
    case "claim":
      return claim(api, call);
    case "plan":
    case "plan.sh":
      return servePlan(api, call);
    case "bmc-password":
      return serveBmcPassword(api, call);
    case "report":
      return accept(
        api,
        call,
        (body) => parseReport(r.node, body, api.now()),
        (v) => {
          api.opts.sessions.reported(v.node, v.step, v.status);
          api.events.emit("report", v);
        },
      );
    case "agent":
      return accept(
        api,
        call,
        (body) => parseAgentReport(r.node, body, api.now()),
        (v) => api.events.emit("agent", v),
      );
    case "work":
      return serveWork(api, call);
    case "done":
      return accept(
        api,
        call,
        (body) => parseWorkDone(r.node, body, api.now()),
        (v) => api.events.emit("work-done", v),
      );
    case "up":
      return accept(
        api,
        call,
        (body) => parseUp(r.node, body, api.now()),
        (v) => {
          // The installed system is up: its install credential ends here.
          api.opts.sessions.close(v.node);
          api.events.emit("up", v);
        },
      );
  }
}

/** The first claim from the node's address during its install gets the attempt's credentials. */
async function claim(api: Api, call: Call): Promise<void> {
  const { r, req, res } = call;
  req.resume();
  const c = api.opts.sessions.claim(r.node, req.socket.remoteAddress);
  if (!c.ok) return refuse(api, call, c.refusal);
  if (api.opts.claimed) await api.opts.claimed(r.node);
  const v = c.value;
  const text = [`MF_TOKEN=${shQuote(v.token)}`, `MF_RSYNC_USER=${shQuote(v.rsyncUser)}`, `MF_RSYNC_PASSWORD=${shQuote(v.rsyncPassword)}`, ""].join("\n");
  send(res, 200, "text/plain; charset=utf-8", text);
  const remote = normalizeIp(req.socket.remoteAddress) ?? "unknown";
  api.log.info("installer-api.claimed", { node: r.node, remote }); // never the credential
  api.events.emit("claim", { node: r.node, remote });
}

async function servePlan(api: Api, { r, res }: Call): Promise<void> {
  const plan = await api.opts.plan(r.node);
  if (!plan) return sendError(res, 404, `no install plan for ${r.node}`);
  if (r.what === "plan") send(res, 200, "application/json", JSON.stringify(plan, null, 2) + "\n");
  else send(res, 200, "text/plain; charset=utf-8", renderPlanShell(plan));
  api.events.emit("plan", { node: r.node, form: r.what === "plan" ? "json" : "sh", time: api.now().toISOString() });
}

/** A poll: the next work item, or 204. The poll itself is the agent's heartbeat. */
function serveWork(api: Api, { r, req, res }: Call): void {
  req.resume();
  const work = api.opts.agentWork?.(r.node);
  if (work) send(res, 200, "text/plain; charset=utf-8", renderWork(work));
  else send(res, 204, "text/plain", "");
  api.events.emit("polled", { node: r.node, time: api.now().toISOString(), ...(work ? { work } : {}) });
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
