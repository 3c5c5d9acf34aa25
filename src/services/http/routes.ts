// The pluggable part of the HTTP server: handlers mounted under a path prefix (the
// installer API lives here), the context they receive and the errors they throw.

import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from "node:http";

/** Throw from a handler to answer with this status and a JSON `{error}` body. */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
    this.name = "HttpError";
  }
}

/** What a handler may return instead of writing to `res` itself. */
export interface HttpReply {
  status: number;
  /** Sent as application/json. */
  json?: unknown;
  /** Sent as is (text/plain unless a content-type header is given). */
  body?: string | Buffer;
  headers?: Record<string, string>;
}

export interface RouteContext {
  method: string;
  /** The decoded path of the request, e.g. `/api/v1/nodes/node01/report`. */
  path: string;
  /** The part of the path below the mount prefix, e.g. `/nodes/node01/report` (or ``). */
  subpath: string;
  query: URLSearchParams;
  headers: IncomingHttpHeaders;
  /** The client's address (IPv4-mapped IPv6 addresses are unwrapped). */
  remote: string;
  /** Reads the whole body, at most the server's `maxBodyBytes` (else HttpError 413). */
  body(): Promise<Buffer>;
  /** Reads and parses a JSON body (HttpError 400 when it is not JSON). */
  json(): Promise<unknown>;
  req: IncomingMessage;
  res: ServerResponse;
}

export type RouteHandler = (ctx: RouteContext) => Promise<HttpReply | void> | HttpReply | void;

export interface Route {
  /** Upper-case method, or "*" for any. */
  method: string;
  /** Mount point without trailing slash, e.g. `/api/v1`. */
  prefix: string;
  handler: RouteHandler;
}

/** The route with the longest prefix that matches, if any. */
export function matchRoute(routes: readonly Route[], method: string, path: string): Route | undefined {
  let best: Route | undefined;
  for (const r of routes) {
    if (r.method !== "*" && r.method !== method) continue;
    if (path !== r.prefix && !path.startsWith(r.prefix + "/")) continue;
    if (!best || r.prefix.length > best.prefix.length) best = r;
  }
  return best;
}
