// Which part of the server answers a request, decided from its method and URL alone:
// a node's iPXE script, a file under a named root, a mounted route, or an error.
import { HttpError, matchRoute, type Route } from "./routes.js";

export const SCRIPT_PREFIX = "/boot/";
export const FILES_PREFIX = "/files/";

export type Dispatch =
  /** `rest` is what follows /boot/ (still percent-encoded). */
  | { kind: "script"; rest: string }
  /** `rest` is what follows /files/ (still percent-encoded). */
  | { kind: "file"; rest: string }
  | { kind: "route"; route: Route; path: string; query: URLSearchParams }
  | { kind: "error"; error: HttpError };

export function dispatch(method: string, rawUrl: string, o: { maxUrlBytes: number; routes: readonly Route[] }): Dispatch {
  const fail = (status: number, message: string): Dispatch => ({ kind: "error", error: new HttpError(status, message) });
  if (Buffer.byteLength(rawUrl) > o.maxUrlBytes) return fail(414, "URL too long");
  if (!rawUrl.startsWith("/")) return fail(400, "request target must be a path");
  const q = rawUrl.indexOf("?");
  const rawPath = q === -1 ? rawUrl : rawUrl.slice(0, q);
  if (rawPath.startsWith(SCRIPT_PREFIX)) return { kind: "script", rest: rawPath.slice(SCRIPT_PREFIX.length) };
  if (rawPath.startsWith(FILES_PREFIX)) return { kind: "file", rest: rawPath.slice(FILES_PREFIX.length) };
  let path: string;
  try {
    path = decodeURIComponent(rawPath);
  } catch {
    return fail(400, "malformed percent-encoding");
  }
  if (path.includes("\0")) return fail(400, "NUL in path");
  const route = matchRoute(o.routes, method, path);
  if (route) return { kind: "route", route, path, query: new URLSearchParams(q === -1 ? "" : rawUrl.slice(q + 1)) };
  const anyMethod = o.routes.some((r) => path === r.prefix || path.startsWith(r.prefix + "/"));
  return anyMethod ? fail(405, "method not allowed") : fail(404, "not found");
}
