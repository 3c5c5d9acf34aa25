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
import { parseReport, parseUp, type NodeReport, type NodeUp } from "./reports.js";
import type { NodeTokens, TokenScope } from "./tokens.js";

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

const NODE_RE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/;

type Route = { node: string; what: "plan" | "plan.sh" | "bmc-password" | "report" | "up" };

function route(prefix: string, url: string | undefined): Route | undefined {
  if (!url) return undefined;
  const path = url.split("?")[0]!;
  if (!path.startsWith(prefix + "/nodes/")) return undefined;
  const rest = path.slice(prefix.length + "/nodes/".length).split("/");
  if (rest.length !== 2) return undefined;
  const [node, what] = rest as [string, string];
  if (!NODE_RE.test(node)) return undefined;
  if (what === "plan" || what === "plan.sh" || what === "bmc-password" || what === "report" || what === "up") return { node, what };
  return undefined;
}

function send(res: ServerResponse, status: number, type: string, body: string): void {
  res.writeHead(status, { "content-type": type, "content-length": Buffer.byteLength(body), "cache-control": "no-store" });
  res.end(body);
}

function sendError(res: ServerResponse, status: number, error: string): void {
  send(res, status, "application/json", JSON.stringify({ error }) + "\n");
}

function bearer(req: IncomingMessage): string | undefined {
  const h = req.headers.authorization;
  if (typeof h !== "string") return undefined;
  const m = /^Bearer\s+(\S+)\s*$/i.exec(h);
  return m?.[1];
}

/** Reads a body of at most `max` bytes; undefined when it is larger (the rest is drained). */
function readBody(req: IncomingMessage, max: number): Promise<Buffer | undefined> {
  return new Promise((resolve) => {
    const declared = Number(req.headers["content-length"] ?? "0");
    if (declared > max) {
      req.resume();
      resolve(undefined);
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    let over = false;
    req.on("data", (c: Buffer) => {
      size += c.length;
      if (size > max) over = true;
      else chunks.push(c);
    });
    req.on("end", () => resolve(over ? undefined : Buffer.concat(chunks)));
    req.on("error", () => resolve(undefined));
  });
}

export function createInstallerApi(opts: InstallerApiOptions): InstallerApi {
  const prefix = (opts.prefix ?? DEFAULT_PREFIX).replace(/\/+$/, "");
  const max = opts.maxBodyBytes ?? DEFAULT_MAX_BODY;
  const log = opts.logger ?? nullLogger;
  const now = opts.now ?? (() => new Date());
  const events = new InstallerApiEvents();

  const authorized = (r: Route, req: IncomingMessage, scopes: TokenScope[]): boolean => {
    const t = bearer(req);
    return scopes.some((s) => opts.tokens.verify(r.node, s, t));
  };

  const postJson = async (req: IncomingMessage, res: ServerResponse): Promise<unknown> => {
    const body = await readBody(req, max);
    if (body === undefined) {
      sendError(res, 413, `body larger than ${max} bytes`);
      return undefined;
    }
    try {
      return JSON.parse(body.toString("utf8")) as unknown;
    } catch {
      sendError(res, 400, "body is not JSON");
      return undefined;
    }
  };

  const handle: Handler = async (req, res) => {
    const r = route(prefix, req.url);
    if (!r) return false;
    try {
      const isPost = r.what === "report" || r.what === "up";
      if (req.method !== (isPost ? "POST" : "GET")) {
        req.resume();
        res.setHeader("allow", isPost ? "POST" : "GET");
        sendError(res, 405, "method not allowed");
        return true;
      }
      if (!authorized(r, req, r.what === "up" ? ["up", "install"] : ["install"])) {
        req.resume();
        log.warn("installer-api.forbidden", { node: r.node, what: r.what, remote: req.socket.remoteAddress });
        sendError(res, 403, "token not valid for this node");
        return true;
      }
      switch (r.what) {
        case "plan":
        case "plan.sh": {
          const plan = await opts.plan(r.node);
          if (!plan) {
            sendError(res, 404, `no install plan for ${r.node}`);
            return true;
          }
          if (r.what === "plan") send(res, 200, "application/json", JSON.stringify(plan, null, 2) + "\n");
          else send(res, 200, "text/plain; charset=utf-8", renderPlanShell(plan));
          events.emit("plan", { node: r.node, form: r.what === "plan" ? "json" : "sh", time: now().toISOString() });
          return true;
        }
        case "bmc-password": {
          const pw = opts.bmcPassword ? await opts.bmcPassword(r.node) : undefined;
          if (pw === undefined) sendError(res, 404, `no BMC password for ${r.node}`);
          else send(res, 200, "text/plain; charset=utf-8", pw);
          log.info("installer-api.bmc-password", { node: r.node, served: pw !== undefined }); // never the value
          return true;
        }
        case "report": {
          const body = await postJson(req, res);
          if (body === undefined) return true;
          const p = parseReport(r.node, body, now());
          if (!p.ok) {
            sendError(res, 400, p.error);
            return true;
          }
          send(res, 204, "text/plain", "");
          events.emit("report", p.value);
          return true;
        }
        case "up": {
          const body = await postJson(req, res);
          if (body === undefined) return true;
          const p = parseUp(r.node, body, now());
          if (!p.ok) {
            sendError(res, 400, p.error);
            return true;
          }
          send(res, 204, "text/plain", "");
          events.emit("up", p.value);
          return true;
        }
      }
    } catch (err) {
      log.error("installer-api.error", { node: r.node, what: r.what, error: String(err) });
      if (!res.headersSent) sendError(res, 500, "internal error");
      else res.destroy();
      return true;
    }
  };

  return { handle, events };
}

/** The base URL of a node in the API, as the installer and the UP reporter use it. */
export function nodeApiUrl(httpBase: string, node: string, prefix = DEFAULT_PREFIX): string {
  return `${httpBase.replace(/\/+$/, "")}${prefix}/nodes/${encodeURIComponent(node)}`;
}
