// Small request/response helpers of the HTTP server: replies from handlers, bounded
// bodies, client addresses, listen errors in words.
import type { IncomingMessage, ServerResponse } from "node:http";
import { HttpError, type HttpReply } from "./routes.js";

export function sendReply(res: ServerResponse, reply: HttpReply): void {
  let body: Buffer;
  const headers: Record<string, string | number> = { ...(reply.headers ?? {}) };
  const hasType = Object.keys(headers).some((k) => k.toLowerCase() === "content-type");
  if (reply.json !== undefined) {
    body = Buffer.from(JSON.stringify(reply.json) + "\n");
    if (!hasType) headers["Content-Type"] = "application/json";
  } else {
    body = typeof reply.body === "string" ? Buffer.from(reply.body) : (reply.body ?? Buffer.alloc(0));
    if (!hasType && body.length > 0) headers["Content-Type"] = "text/plain; charset=utf-8";
  }
  headers["Content-Length"] = body.length;
  res.writeHead(reply.status, headers);
  res.end(res.req?.method === "HEAD" ? undefined : body);
}

export function readBody(req: IncomingMessage, max: number): Promise<Buffer> {
  const declared = Number(req.headers["content-length"] ?? "0");
  if (Number.isFinite(declared) && declared > max) return Promise.reject(new HttpError(413, `body larger than ${max} bytes`));
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let total = 0;
    req.on("data", (c: Buffer) => {
      total += c.length;
      if (total > max) {
        req.pause();
        reject(new HttpError(413, `body larger than ${max} bytes`));
        return;
      }
      chunks.push(c);
    });
    req.on("end", () => resolve(Buffer.concat(chunks)));
    req.on("error", reject);
    req.on("aborted", () => reject(new HttpError(400, "request aborted")));
  });
}

export function decodeSafe(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return "";
  }
}

export function unmap(addr: string | undefined): string {
  if (!addr) return "";
  return addr.startsWith("::ffff:") ? addr.slice(7) : addr;
}

export function listenMessage(err: NodeJS.ErrnoException, address: string, port: number): string {
  const where = `${address}:${port}`;
  switch (err.code) {
    case "EADDRINUSE":
      return `HTTP server cannot listen on ${where}: the port is already in use by another program`;
    case "EADDRNOTAVAIL":
      return `HTTP server cannot listen on ${where}: no interface on this host has address ${address}`;
    case "EACCES":
      return `HTTP server cannot listen on ${where}: ports below 1024 need root`;
    default:
      return `HTTP server cannot listen on ${where}: ${err.message}`;
  }
}
