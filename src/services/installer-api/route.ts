// Which installer API endpoint a request names, and what it takes: the method and the
// credential that may call it. Pure.

const NODE_RE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/;
const ENDPOINTS = ["claim", "plan", "plan.sh", "bmc-password", "report", "up", "agent", "work", "done"] as const;
/** What the installed system calls with its node credential (the UP reporter, the node agent). */
const NODE_ENDPOINTS: readonly Endpoint[] = ["up", "agent", "work", "done"];

export type Endpoint = (typeof ENDPOINTS)[number];

export interface ApiRoute {
  node: string;
  what: Endpoint;
}

/**
 * What admits a call: `address` — no credential yet, the node's own address during an
 * install (the claim); `install` — the attempt's credential from that address;
 * `node` — the installed system's long-lived node credential from that address.
 */
export type Admission = "address" | "install" | "node";

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
  return what === "plan" || what === "plan.sh" || what === "bmc-password" || what === "work" ? "GET" : "POST";
}

export function admissionOf(what: Endpoint): Admission {
  return what === "claim" ? "address" : NODE_ENDPOINTS.includes(what) ? "node" : "install";
}
