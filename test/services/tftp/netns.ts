// A server namespace and a client namespace joined by a veth pair, with the TFTP
// server running inside the server namespace as a child process (node cannot enter a
// namespace for one socket). The server's sources are transpiled with TypeScript's
// transpileModule into a temp dir, so no build step is needed.

import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { execFileSync, type ChildProcess } from "node:child_process";
import { fileURLToPath } from "node:url";
import ts from "typescript";
import type { TftpServerOptions } from "../../../src/services/tftp/server.js";
import { requireTool } from "./fixtures.js";
import { deleteNamespace, inNs, removeStaleNamespaces as removeStale, sh, startInNs } from "../../helpers/netns.js";

const PREFIX = "mftf";
const srcRoot = fileURLToPath(new URL("../../../src", import.meta.url));

/** Deletes namespaces with our prefix left behind by runs whose process is gone. */
export function removeStaleNamespaces(): void {
  removeStale(/^mftf[sc](\d+)x/);
}

/** The repository's built native helper (native/udp-bind-device); tests of the batch path require it. */
export function nativeAddonPath(): string {
  return fileURLToPath(new URL("../../../native/udp-bind-device/build/Release/udp_bind_device.node", import.meta.url));
}

/** Fails (never skips) when the native helper is not built. */
export function requireNativeAddon(): string {
  const p = nativeAddonPath();
  if (!fs.existsSync(p)) throw new Error(`native helper ${p} is not built: run bash native/udp-bind-device/build.sh (Debian packages build-essential, python3)`);
  return p;
}

/** Transpiles the TFTP server and what it imports into dir; returns the runner path. */
export function buildServerBundle(dir: string): string {
  const files = [
    ...fs
      .readdirSync(path.join(srcRoot, "services/tftp"))
      .filter((f) => f.endsWith(".ts"))
      .map((f) => `services/tftp/${f}`),
    "util/log.ts",
    "services/service.ts",
    "services/udp-addon.ts",
  ];
  for (const rel of files) {
    const out = ts.transpileModule(fs.readFileSync(path.join(srcRoot, rel), "utf8"), {
      compilerOptions: { module: ts.ModuleKind.ES2022, target: ts.ScriptTarget.ES2022 },
    });
    const dest = path.join(dir, rel.replace(/\.ts$/, ".js"));
    fs.mkdirSync(path.dirname(dest), { recursive: true });
    fs.writeFileSync(dest, out.outputText);
  }
  fs.writeFileSync(path.join(dir, "package.json"), JSON.stringify({ type: "module" }));
  const runner = path.join(dir, "run-server.js");
  fs.writeFileSync(
    runner,
    `import { TftpServer } from "./services/tftp/server.js";
const server = new TftpServer(JSON.parse(process.argv[2]));
server.on("transfer-complete", (e) => console.log(JSON.stringify({ event: "complete", ...e })));
server.on("transfer-error", (e) => console.log(JSON.stringify({ event: "error", ...e })));
await server.start();
console.log("ready " + server.sendPath);
process.on("SIGTERM", async () => { await server.stop(); process.exit(0); });
`,
  );
  return runner;
}

export interface NetnsPair {
  server: string;
  client: string;
  serverIp: string;
  clientIp: string;
  serverDev: string;
  clientDev: string;
  destroy(): void;
}

export function createPair(): NetnsPair {
  requireTool("ip", "iproute2");
  requireTool("tc", "iproute2");
  removeStaleNamespaces();
  const tag = `${process.pid}x${Math.floor(Math.random() * 1e6)}`;
  const server = `${PREFIX}s${tag}`;
  const client = `${PREFIX}c${tag}`;
  const net = `10.252.${process.pid % 250}`;
  const serverDev = `mftfv${process.pid % 100000}s`;
  const clientDev = `mftfv${process.pid % 100000}c`;
  const ip = (...args: string[]) => sh("ip", args);
  ip("netns", "add", server);
  ip("netns", "add", client);
  const destroy = () => {
    for (const ns of [server, client]) deleteNamespace(ns);
  };
  try {
    ip("link", "add", serverDev, "type", "veth", "peer", "name", clientDev);
    ip("link", "set", serverDev, "netns", server);
    ip("link", "set", clientDev, "netns", client);
    ip("-n", server, "addr", "add", `${net}.1/24`, "dev", serverDev);
    ip("-n", client, "addr", "add", `${net}.2/24`, "dev", clientDev);
    for (const [ns, dev] of [
      [server, serverDev],
      [client, clientDev],
    ] as const) {
      ip("-n", ns, "link", "set", "lo", "up");
      ip("-n", ns, "link", "set", dev, "up");
    }
  } catch (e) {
    destroy();
    throw e;
  }
  return { server, client, serverIp: `${net}.1`, clientIp: `${net}.2`, serverDev, clientDev, destroy };
}

export interface ChildServer {
  proc: ChildProcess;
  /** What the server reported at start: gso, sendmmsg or dgram. */
  sendPath: string;
  events: Record<string, unknown>[];
  stop(): Promise<void>;
}

/** Starts the bundled server inside a namespace; resolves once it listens. */
export function startChildServer(ns: string, runner: string, opts: TftpServerOptions): Promise<ChildServer> {
  // The bundle lives in a temp dir: point it at the repository's native helper.
  const withAddon = { nativeAddonPath: nativeAddonPath(), ...opts };
  const proc = startInNs(ns, process.execPath, [runner, JSON.stringify(withAddon)]);
  const events: Record<string, unknown>[] = [];
  let stderr = "";
  proc.stderr!.on("data", (d) => (stderr += d));
  return new Promise((resolve, reject) => {
    let buf = "";
    const timer = setTimeout(() => reject(new Error(`server did not start: ${stderr}`)), 10_000);
    proc.on("exit", (code) => reject(new Error(`server exited ${code}: ${stderr}`)));
    proc.stdout!.on("data", (d) => {
      buf += d;
      let nl: number;
      while ((nl = buf.indexOf("\n")) >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        if (line.startsWith("ready")) {
          clearTimeout(timer);
          resolve({
            proc,
            events,
            sendPath: line.slice(6),
            stop: () =>
              new Promise((r) => {
                if (proc.exitCode !== null) return r();
                proc.once("exit", () => r());
                proc.kill("SIGTERM");
              }),
          });
        } else if (line.startsWith("{")) events.push(JSON.parse(line) as Record<string, unknown>);
      }
    });
  });
}

export function tempDir(tag: string): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), `mftf-${tag}-`));
}

export type LossMethod = "netem" | "nftables";

/**
 * Loses `percent` % of the packets on `dev`: `tc netem loss` (egress) where the kernel
 * has sch_netem; otherwise (kernels built without CONFIG_NET_SCH_NETEM, like this
 * machine's) an nftables rule with a random number generator dropping that share of
 * UDP datagrams as they arrive on `dev`. Arrival, not departure: a drop in the output
 * hook returns EPERM to the sending program, which real loss on a wire never does.
 * Call it for both ends of a veth to lose packets both ways.
 */
export function addLoss(ns: string, dev: string, percent: number): LossMethod {
  try {
    inNs(ns, "tc", ["qdisc", "add", "dev", dev, "root", "netem", "loss", `${percent}%`]);
    return "netem";
  } catch (e) {
    const msg = String((e as { stderr?: Buffer }).stderr ?? e);
    if (!/unknown/i.test(msg)) throw e;
  }
  requireTool("nft", "nftables");
  const rules = `table inet mftf_loss {
  chain in {
    type filter hook input priority 0;
    iifname "${dev}" meta l4proto udp numgen random mod 100 < ${percent} counter drop
  }
}
`;
  execFileSync("ip", ["netns", "exec", ns, "nft", "-f", "-"], { input: rules, stdio: ["pipe", "pipe", "pipe"] });
  return "nftables";
}

/** Packets the loss rule has dropped so far. */
export function droppedPackets(ns: string, dev: string, method: LossMethod): number {
  if (method === "netem") {
    const s = inNs(ns, "tc", ["-s", "qdisc", "show", "dev", dev]);
    return Number(/dropped (\d+)/.exec(s)?.[1] ?? 0);
  }
  const s = inNs(ns, "nft", ["list", "table", "inet", "mftf_loss"]);
  return Number(/counter packets (\d+)/.exec(s)?.[1] ?? 0);
}
