// Network namespaces for DHCP tests: a server namespace with one or more veth links,
// each leading to a client namespace. Names are "mfdh-<role>-<pid>-<random>"; stale
// ones (their creating process is gone) from killed runs are removed first. The pid
// matters: the server's sockets live in the test process, so a namespace in use by a
// parallel test file has no processes of its own.
import { type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { deleteNamespace, inNs, removeStaleNamespaces as removeStale, requireTool as requireToolAt, sh, startInNs, waitFor } from "../../../helpers/netns.js";

export { inNs, sh, waitFor };

export const PREFIX = "mfdh";

/** Fails (never skips) when a tool is missing, naming its Debian package. */
export function requireTool(path: string, debPackage: string): void {
  requireToolAt(path, debPackage, `install the Debian package ${debPackage}`);
}

export function removeStaleNamespaces(): void {
  removeStale(/^mfdh-[a-z]+-(\d+)-[0-9a-f]+$/);
}

export interface Link {
  /** Client namespace behind this link. */
  clientNs: string;
  /** Interface name in the server namespace. */
  serverIf: string;
  /** Interface name in the client namespace (always "eth0"). */
  clientIf: string;
}

export interface Lab {
  tag: string;
  serverNs: string;
  links: Map<string, Link>;
  destroy(): void;
}

/**
 * Creates the server namespace and one client namespace per link name. `links` maps
 * a short name to the server-side address/prefix (e.g. "10.77.0.1/24").
 */
export function createLab(links: Record<string, string>, extra?: (lab: Lab) => void): Lab {
  const tag = randomBytes(3).toString("hex");
  const serverNs = `${PREFIX}-srv-${process.pid}-${tag}`;
  const created: string[] = [];
  const lab: Lab = {
    tag,
    serverNs,
    links: new Map(),
    destroy() {
      for (const ns of created.reverse()) deleteNamespace(ns);
    },
  };
  try {
    sh("ip", ["netns", "add", serverNs]);
    created.push(serverNs);
    prepareNs(serverNs);
    for (const [name, cidr] of Object.entries(links)) {
      const clientNs = `${PREFIX}-${name.replace(/[^a-z]/g, "")}-${process.pid}-${tag}`;
      sh("ip", ["netns", "add", clientNs]);
      created.push(clientNs);
      prepareNs(clientNs);
      const serverIf = `${name.slice(0, 6)}0`;
      const tmp = `${PREFIX}${tag}${name.slice(0, 2)}`;
      sh("ip", ["link", "add", tmp, "type", "veth", "peer", "name", `${tmp}p`]);
      sh("ip", ["link", "set", tmp, "netns", serverNs]);
      sh("ip", ["link", "set", `${tmp}p`, "netns", clientNs]);
      inNs(serverNs, "ip", ["link", "set", tmp, "name", serverIf]);
      inNs(clientNs, "ip", ["link", "set", `${tmp}p`, "name", "eth0"]);
      inNs(serverNs, "ip", ["addr", "add", cidr, "dev", serverIf]);
      inNs(serverNs, "ip", ["link", "set", serverIf, "up"]);
      inNs(clientNs, "ip", ["link", "set", "eth0", "up"]);
      lab.links.set(name, { clientNs, serverIf, clientIf: "eth0" });
    }
    extra?.(lab);
  } catch (e) {
    lab.destroy();
    throw e;
  }
  return lab;
}

function prepareNs(ns: string): void {
  inNs(ns, "ip", ["link", "set", "lo", "up"]);
  // No IPv6 chatter (router solicitations, MLD) to blur packet counts.
  inNs(ns, "sysctl", ["-q", "-w", "net.ipv6.conf.all.disable_ipv6=1"]);
  inNs(ns, "sysctl", ["-q", "-w", "net.ipv6.conf.default.disable_ipv6=1"]);
}

export interface Proc {
  child: ChildProcess;
  stdout: () => string;
  stderr: () => string;
  exited: Promise<number | null>;
  kill(): void;
}

/** Starts a process inside a namespace without blocking the event loop (the server is in-process). */
export function spawnInNs(ns: string, cmd: string, args: string[]): Proc {
  const child = startInNs(ns, cmd, args);
  let out = "";
  let err = "";
  child.stdout!.on("data", (d: Buffer) => (out += d.toString()));
  child.stderr!.on("data", (d: Buffer) => (err += d.toString()));
  const exited = new Promise<number | null>((res) => child.on("close", (code) => res(code)));
  return {
    child,
    stdout: () => out,
    stderr: () => err,
    exited,
    kill() {
      if (child.exitCode === null && child.pid) {
        try {
          process.kill(child.pid, "SIGTERM");
        } catch {
          // gone
        }
      }
    },
  };
}
