// One Redfish request: node:https over a connection tls.ts verified first, JSON in
// and out, the OData-Version header the specification asks clients to send, and a
// hard time bound. Failures of the wire become PowerError; HTTP statuses are the
// caller's to judge (redfish/driver.ts).
import { request, type IncomingHttpHeaders } from "node:http";
import { PowerError } from "../driver.js";
import { connectVerified, connectError, type TlsTarget } from "./tls.js";

export interface RedfishRequest {
  method: "GET" | "POST" | "PATCH" | "DELETE";
  path: string;
  body?: unknown;
  headers?: Record<string, string>;
}

export interface RedfishResponse {
  status: number;
  headers: IncomingHttpHeaders;
  /** The parsed JSON body; undefined when empty or not JSON. */
  body: unknown;
}

const MAX_BODY = 4 * 1024 * 1024;

/** Sends one request on its own verified connection (a handful per power action: no pooling needed). */
export async function send(t: TlsTarget, req: RedfishRequest): Promise<RedfishResponse> {
  const socket = await connectVerified(t);
  const payload = req.body === undefined ? undefined : Buffer.from(JSON.stringify(req.body));
  const headers: Record<string, string> = {
    Host: t.host.includes(":") ? `[${t.host}]:${t.port}` : `${t.host}:${t.port}`,
    Accept: "application/json",
    "OData-Version": "4.0",
    Connection: "close",
    ...(payload ? { "Content-Type": "application/json; charset=utf-8", "Content-Length": String(payload.length) } : {}),
    ...req.headers,
  };
  return new Promise((resolve, reject) => {
    const r = request({ method: req.method, path: req.path, headers, createConnection: () => socket }, (res) => {
      const chunks: Buffer[] = [];
      let size = 0;
      res.on("data", (c: Buffer) => {
        size += c.length;
        if (size > MAX_BODY) return r.destroy(new Error(`answer larger than ${MAX_BODY} bytes`));
        chunks.push(c);
      });
      res.on("end", () => {
        clearTimeout(timer);
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body: parseJson(Buffer.concat(chunks).toString("utf8")) });
      });
      res.on("error", fail);
    });
    const timer = setTimeout(() => r.destroy(Object.assign(new Error(`no answer within ${t.timeoutMs} ms`), { code: "ETIMEDOUT" })), t.timeoutMs);
    function fail(e: NodeJS.ErrnoException) {
      clearTimeout(timer);
      socket.destroy();
      const pe = connectError(t, e);
      reject(pe.kind === "failed" ? new PowerError("failed", `BMC at ${t.label}: ${req.method} ${req.path}: ${e.message}`) : pe);
    }
    r.on("error", fail);
    r.end(payload);
  });
}

function parseJson(text: string): unknown {
  if (!text.trim()) return undefined;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}
