// Which installer API endpoint a request names, and what it takes: the method and the
// token scopes that may call it. Pure.
import type { TokenScope } from "./tokens.js";

const NODE_RE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/;
const ENDPOINTS = ["plan", "plan.sh", "bmc-password", "report", "up"] as const;

export type Endpoint = (typeof ENDPOINTS)[number];

export interface ApiRoute {
  node: string;
  what: Endpoint;
}

/** The endpoint under `prefix` a URL names, or undefined when it is none of them. */
export function route(prefix: string, url: string | undefined): ApiRoute | undefined {
  if (!url) return undefined;
  const path = url.split("?")[0]!;
  if (!path.startsWith(prefix + "/nodes/")) return undefined;
  const rest = path.slice(prefix.length + "/nodes/".length).split("/");
  if (rest.length !== 2) return undefined;
  const [node, what] = rest as [string, string];
  if (!NODE_RE.test(node)) return undefined;
  return (ENDPOINTS as readonly string[]).includes(what) ? { node, what: what as Endpoint } : undefined;
}

export function methodOf(what: Endpoint): "GET" | "POST" {
  return what === "report" || what === "up" ? "POST" : "GET";
}

/** An installed system's UP reporter holds an "up" token; everything else needs "install". */
export function scopesOf(what: Endpoint): TokenScope[] {
  return what === "up" ? ["up", "install"] : ["install"];
}
