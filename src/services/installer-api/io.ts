// Reading and answering installer API requests: bounded bodies, bearer tokens, replies
// that are never cached.
import type { IncomingMessage, ServerResponse } from "node:http";

export function send(res: ServerResponse, status: number, type: string, body: string): void {
  res.writeHead(status, { "content-type": type, "content-length": Buffer.byteLength(body), "cache-control": "no-store" });
  res.end(body);
}

export function sendError(res: ServerResponse, status: number, error: string): void {
  send(res, status, "application/json", JSON.stringify({ error }) + "\n");
}

export function bearer(req: IncomingMessage): string | undefined {
  const h = req.headers.authorization;
  if (typeof h !== "string") return undefined;
  const m = /^Bearer\s+(\S+)\s*$/i.exec(h);
  return m?.[1];
}

/** Reads a body of at most `max` bytes; undefined when it is larger (the rest is drained). */
export function readBody(req: IncomingMessage, max: number): Promise<Buffer | undefined> {
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

/** A JSON body, or undefined after answering 413 or 400. */
export async function readJson(req: IncomingMessage, res: ServerResponse, max: number): Promise<unknown> {
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
}
