// The HTTP boot server: per-node iPXE scripts, files from named roots (kernels,
// initrds, the installer) with Range support, and a mount point for the installer
// API. It knows nothing of plans: scripts come from a provider callback.

import { EventEmitter } from "node:events";
import { realpath, stat } from "node:fs/promises";
import http, { type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo, Socket } from "node:net";
import { nullLogger, type Logger } from "../../util/log.js";
import type { Service } from "../service.js";
import { dispatch, FILES_PREFIX, SCRIPT_PREFIX } from "./dispatch.js";
import { sendFile, type FileServed } from "./file-response.js";
import { decodeSafe, listenMessage, readBody, sendReply, unmap } from "./io.js";
import { normalizeMac } from "./mac.js";
import { HttpError, type Route, type RouteContext, type RouteHandler } from "./routes.js";
import { resolveInRoot, splitRequestPath } from "./safe-path.js";

export { FILES_PREFIX, SCRIPT_PREFIX } from "./dispatch.js";
export type { FileServed } from "./file-response.js";

/** The URL path of a node's iPXE script, e.g. `/boot/52:54:00:12:34:56.ipxe`. */
export function bootScriptPath(mac: string): string {
  return `${SCRIPT_PREFIX}${mac.toLowerCase()}.ipxe`;
}

/** The URL path of a file under a named root, each segment percent-encoded. */
export function filePath(root: string, relative: string): string {
  const segs = relative.split("/").filter((s) => s !== "");
  return `${FILES_PREFIX}${encodeURIComponent(root)}/${segs.map(encodeURIComponent).join("/")}`;
}

/** Returns the iPXE script for a MAC (lower-case, colon separated), or undefined for 404. */
export type ScriptProvider = (mac: string) => string | undefined;

export interface HttpBootServerOptions {
  /** Address to listen on (the provisioning address; "127.0.0.1" in tests). */
  address: string;
  /** TCP port; 0 picks a free one (read it back from `port` after start). */
  port: number;
  scripts: ScriptProvider;
  /** Named directories served under /files/NAME/..., e.g. { kernels: "/srv/mf/kernels" }. */
  roots?: Record<string, string>;
  logger?: Logger;
  /** Largest request head (request line + headers) in bytes; default 8 KiB. */
  maxHeaderBytes?: number;
  /** Largest request URL in bytes; default 2048 (414 beyond). */
  maxUrlBytes?: number;
  /** Largest body an API handler may read; default 1 MiB (413 beyond). */
  maxBodyBytes?: number;
  /** A client must send its complete request head within this time; default 10 s. */
  headersTimeoutMs?: number;
  /** A client must send its complete request (head and body) within this time; default 30 s. */
  requestTimeoutMs?: number;
  /** A connection with no traffic in either direction for this long is closed; default 30 s. */
  idleTimeoutMs?: number;
  /** Cap on simultaneous connections; default 4096. */
  maxConnections?: number;
  /**
   * Who may download files (kernels, installers, loaders): by the client's address
   * and the root asked for (the first path segment, still URL-encoded).
   * Default: anyone. Scripts and mounted routes decide for themselves.
   */
  fileClients?: (remote: string, root: string) => boolean;
}

export interface HttpBootServerEvents {
  /** A node fetched its iPXE script. */
  "script-served": [{ mac: string; remote: string }];
  /**
   * A GET of a file finished (complete: all bytes sent) or was cut short by the
   * client (complete: false). `path` is `ROOT/relative/path` as requested.
   */
  "file-served": [FileServed];
}

const ROOT_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

export class HttpBootServer extends EventEmitter<HttpBootServerEvents> implements Service {
  readonly name = "http";
  private readonly opts: Required<Omit<HttpBootServerOptions, "roots" | "logger" | "scripts" | "fileClients">>;
  private readonly fileClients: (remote: string, root: string) => boolean;
  private readonly scripts: ScriptProvider;
  private readonly roots = new Map<string, string>();
  private readonly realRoots = new Map<string, string>();
  private readonly routes: Route[] = [];
  private readonly log: Logger;
  private server: http.Server | undefined;
  private boundPort = 0;

  constructor(options: HttpBootServerOptions) {
    super();
    this.opts = {
      address: options.address,
      port: options.port,
      maxHeaderBytes: options.maxHeaderBytes ?? 8192,
      maxUrlBytes: options.maxUrlBytes ?? 2048,
      maxBodyBytes: options.maxBodyBytes ?? 1 << 20,
      headersTimeoutMs: options.headersTimeoutMs ?? 10_000,
      requestTimeoutMs: options.requestTimeoutMs ?? 30_000,
      idleTimeoutMs: options.idleTimeoutMs ?? 30_000,
      maxConnections: options.maxConnections ?? 4096,
    };
    this.scripts = options.scripts;
    this.fileClients = options.fileClients ?? (() => true);
    this.log = options.logger ?? nullLogger;
    for (const [name, dir] of Object.entries(options.roots ?? {})) this.setRoot(name, dir);
  }

  /** The port actually bound (useful with port 0); 0 before start. */
  get port(): number {
    return this.boundPort;
  }

  /** `http://ADDRESS:PORT` of the running server. */
  get baseUrl(): string {
    const host = this.opts.address.includes(":") ? `[${this.opts.address}]` : this.opts.address;
    return `http://${host}:${this.boundPort}`;
  }

  /** Adds or replaces a named root. Takes effect at once when running. */
  setRoot(name: string, dir: string): void {
    if (!ROOT_NAME.test(name)) throw new Error(`invalid HTTP root name ${JSON.stringify(name)}`);
    this.roots.set(name, dir);
    this.realRoots.delete(name);
  }

  /**
   * Mounts a handler for METHOD (or "*") on every path equal to or below PREFIX.
   * The longest matching prefix wins; the built-in /boot/ and /files/ come first.
   */
  addRoute(method: string, prefix: string, handler: RouteHandler): void {
    const p = prefix.replace(/\/+$/, "");
    if (!p.startsWith("/") || p.length < 2) throw new Error(`route prefix must start with / and name a path: ${prefix}`);
    this.routes.push({ method: method.toUpperCase(), prefix: p, handler });
  }

  async start(): Promise<void> {
    if (this.server) return;
    const o = this.opts;
    const server = http.createServer(
      {
        maxHeaderSize: o.maxHeaderBytes,
        headersTimeout: o.headersTimeoutMs,
        requestTimeout: o.requestTimeoutMs,
        // Node only checks the two timeouts above this often (default 30 s).
        connectionsCheckingInterval: Math.max(100, Math.min(1000, Math.floor(o.headersTimeoutMs / 4))),
        keepAliveTimeout: Math.min(5000, o.idleTimeoutMs),
      },
      (req, res) => void this.handle(req, res),
    );
    server.maxConnections = o.maxConnections;
    server.timeout = o.idleTimeoutMs;
    server.on("timeout", (socket) => {
      this.log.debug("idle-timeout", { remote: unmap(socket.remoteAddress) });
      socket.destroy();
    });
    server.on("clientError", (err: NodeJS.ErrnoException, duplex) => {
      // Malformed requests, oversized heads and header timeouts end up here.
      const socket = duplex as Socket;
      this.log.debug("client-error", { code: err.code, remote: unmap(socket.remoteAddress) });
      if (!socket.writable) return socket.destroy();
      const status = err.code === "HPE_HEADER_OVERFLOW" ? 431 : err.code === "ERR_HTTP_REQUEST_TIMEOUT" ? 408 : 400;
      socket.end(`HTTP/1.1 ${status} ${http.STATUS_CODES[status]}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
      socket.destroySoon();
    });
    await new Promise<void>((resolve, reject) => {
      const onError = (err: NodeJS.ErrnoException) => reject(new Error(listenMessage(err, o.address, o.port)));
      server.once("error", onError);
      server.listen({ host: o.address, port: o.port }, () => {
        server.off("error", onError);
        resolve();
      });
    });
    server.on("error", (err) => this.log.error("server-error", { message: err.message }));
    this.server = server;
    this.boundPort = (server.address() as AddressInfo).port;
    this.log.info("listening", { address: o.address, port: this.boundPort, roots: [...this.roots.keys()] });
  }

  async stop(): Promise<void> {
    const server = this.server;
    if (!server) return;
    this.server = undefined;
    await new Promise<void>((resolve) => {
      server.close(() => resolve());
      // Boot downloads in flight are cut: stop means stop.
      server.closeAllConnections();
    });
    this.log.info("stopped", {});
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const remote = unmap(req.socket.remoteAddress);
    const method = req.method ?? "GET";
    try {
      const d = dispatch(method, req.url ?? "/", { maxUrlBytes: this.opts.maxUrlBytes, routes: this.routes });
      switch (d.kind) {
        case "error":
          throw d.error;
        case "script":
          return this.serveScript(res, method, d.rest, remote);
        case "file":
          return await this.serveFile(req, res, method, d.rest, remote);
        case "route":
          return await this.runRoute(d.route, req, res, { method, path: d.path, query: d.query, remote });
      }
    } catch (err) {
      this.fail(res, err, method, req.url ?? "", remote);
    }
  }

  private serveScript(res: ServerResponse, method: string, rest: string, remote: string): void {
    if (method !== "GET" && method !== "HEAD") throw new HttpError(405, "method not allowed");
    const m = /^([^/]+)\.ipxe$/.exec(rest);
    const mac = m ? normalizeMac(decodeSafe(m[1]!)) : undefined;
    if (!mac) throw new HttpError(404, "not a boot script path");
    let script: string | undefined;
    try {
      script = this.scripts(mac);
    } catch (err) {
      this.log.error("script-provider-failed", { mac, message: (err as Error).message });
      throw new HttpError(500, "script provider failed");
    }
    if (script === undefined) {
      this.log.info("script-unknown-mac", { mac, remote });
      throw new HttpError(404, "no boot script for this MAC");
    }
    const body = Buffer.from(script, "utf8");
    res.writeHead(200, {
      "Content-Type": "text/plain; charset=utf-8",
      "Content-Length": body.length,
      "Cache-Control": "no-store",
    });
    if (method === "HEAD") return void res.end();
    res.end(body);
    this.log.info("script-served", { mac, remote });
    this.emit("script-served", { mac, remote });
  }

  private async serveFile(req: IncomingMessage, res: ServerResponse, method: string, rest: string, remote: string): Promise<void> {
    if (method !== "GET" && method !== "HEAD") throw new HttpError(405, "method not allowed");
    if (!this.fileClients(remote, rest.split("/")[0] ?? "")) {
      this.log.warn("file-refused", { path: rest.slice(0, 200), reason: "not a known node's address", remote });
      throw new HttpError(403, "files are served to the cluster's nodes only");
    }
    const located = await this.locateFile(rest, remote);
    await sendFile({
      req,
      res,
      method,
      ...located,
      remote,
      log: this.log,
      served: (e) => {
        this.log.info("file-served", { path: e.path, bytes: e.bytes, status: e.status, complete: e.complete, remote: e.remote });
        this.emit("file-served", e);
      },
    });
  }

  /** The file a /files/ROOT/... path names inside its root, or the HttpError that refuses it. */
  private async locateFile(rest: string, remote: string): Promise<{ file: string; path: string; root: string }> {
    if (rest === "") throw new HttpError(404, "not found");
    // A trailing slash asks for a directory listing, which is never given.
    const trailing = rest.endsWith("/");
    const split = splitRequestPath(trailing ? rest.slice(0, -1) : rest);
    if (!split.ok) {
      this.log.warn("path-refused", { path: rest.slice(0, 200), reason: split.reason, remote });
      throw new HttpError(split.reason === "malformed percent-encoding" ? 400 : 403, `path refused: ${split.reason}`);
    }
    if (trailing) throw new HttpError(404, "not found");
    const [root, ...segments] = split.segments;
    const rootDir = root === undefined ? undefined : this.roots.get(root);
    if (root === undefined || rootDir === undefined || segments.length === 0) throw new HttpError(404, "not found");
    const resolved = await resolveInRoot(await this.realRoot(root, rootDir), segments);
    const path = [root, ...segments].join("/");
    if ("missing" in resolved) throw new HttpError(404, "not found");
    if ("escapes" in resolved) {
      this.log.warn("path-refused", { path, reason: "symbolic link out of the root", remote });
      throw new HttpError(403, "path refused: leaves the root");
    }
    return { file: resolved.file, path, root };
  }

  private async realRoot(name: string, dir: string): Promise<string> {
    const cached = this.realRoots.get(name);
    if (cached) return cached;
    let real: string;
    try {
      real = await realpath(dir);
      if (!(await stat(real)).isDirectory()) throw new Error("not a directory");
    } catch (err) {
      this.log.error("root-unavailable", { root: name, dir, message: (err as Error).message });
      throw new HttpError(404, "not found");
    }
    this.realRoots.set(name, real);
    return real;
  }

  private async runRoute(route: Route, req: IncomingMessage, res: ServerResponse, r: { method: string; path: string; query: URLSearchParams; remote: string }): Promise<void> {
    let bodyPromise: Promise<Buffer> | undefined;
    const body = () => (bodyPromise ??= readBody(req, this.opts.maxBodyBytes));
    const ctx: RouteContext = {
      ...r,
      subpath: r.path.slice(route.prefix.length),
      headers: req.headers,
      body,
      json: async () => {
        const buf = await body();
        try {
          return JSON.parse(buf.toString("utf8")) as unknown;
        } catch {
          throw new HttpError(400, "body is not valid JSON");
        }
      },
      req,
      res,
    };
    const reply = await route.handler(ctx);
    if (reply) return sendReply(res, reply);
    if (!res.headersSent && !res.writableEnded) {
      this.log.error("handler-sent-nothing", { prefix: route.prefix, path: r.path });
      throw new HttpError(500, "handler sent no response");
    }
  }

  private fail(res: ServerResponse, err: unknown, method: string, url: string, remote: string): void {
    const status = err instanceof HttpError ? err.status : 500;
    const message = err instanceof HttpError ? err.message : "internal error";
    if (!(err instanceof HttpError)) this.log.error("handler-failed", { method, url: url.slice(0, 200), remote, message: (err as Error)?.message });
    else this.log.debug("request-refused", { method, url: url.slice(0, 200), status, remote });
    if (res.headersSent) return void res.destroy();
    const body = Buffer.from(JSON.stringify({ error: message }) + "\n");
    res.writeHead(status, {
      "Content-Type": "application/json",
      "Content-Length": body.length,
      ...(status === 413 || status === 400 ? { Connection: "close" } : {}),
    });
    res.end(method === "HEAD" ? undefined : body);
  }
}
