// A lab of simulated nodes for apply tests: a "head" network namespace with a
// bridge where metalform runs (apply, serve), and one namespace per node behind a
// veth on that bridge, where sim-node.mjs does what PXE firmware, iPXE and the
// installer do on the wire. Nodes use the manual power driver: the lab starts a
// node when metalform prints "NODE: power-cycle NODE now". Nothing leaves the
// namespaces.
import { type ChildProcess } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { deleteNamespace, inNs, REPO_ROOT, removeStaleNamespaces, requireBuilt, requireTool, sh, startInNs, startMetalformInNs } from "../helpers/netns.js";

export { REPO_ROOT as ROOT, sh };
const SIM = join(REPO_ROOT, "test/apply/sim-node.mjs");

/** Fails (never skips) when a tool the lab needs is missing, naming its Debian package. */
export function requireTools(): void {
  for (const [path, pkg] of [
    ["/sbin/udhcpc", "udhcpc"],
    ["/usr/bin/curl", "curl"],
    ["/usr/bin/rsync", "rsync"],
    ["/usr/lib/ipxe/undionly.kpxe", "ipxe"],
    ["/usr/bin/ss", "iproute2"],
  ] as const) {
    requireTool(path, pkg);
  }
  requireBuilt("(scripts/test.sh does)");
}

export interface LabOptions {
  /** Namespace prefix, e.g. "mfint-i" (names are PREFIX-ROLE-PID). */
  prefix: string;
  nodes: number;
  /** Third octet of 10.77.X.0/24 (distinct per test file so labs never overlap). */
  subnet: number;
  /** Base for the HTTP and rsync ports. */
  portBase: number;
}

export interface Run {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  /** Output of each simulated node started during this run. */
  nodeOutput: Map<string, string>;
  /** Nodes asked to be power-cycled, in order (with repeats on retries). */
  asked: string[];
}

export interface RunHandle {
  proc: ChildProcess;
  done: Promise<Run>;
  /** Output so far. */
  readonly stdout: string;
  readonly stderr: string;
  readonly asked: string[];
  /** Kills the simulated nodes this run started (the next run must not hear from them). */
  killNodes(): Promise<void>;
}

export interface RunOptions {
  /**
   * Per node: "ok" (default), "fail-sync", "slow-sync", "hang-sync", or "never"
   * (the lab never starts it); "a,b" for a on the first power-cycle, b on later ones.
   */
  behaviour?: Record<string, string>;
  env?: Record<string, string>;
  /** Run metalform in this namespace instead of the head's (another machine on the bridge). */
  ns?: string;
}

export class SimLab {
  readonly dir: string;
  readonly cfgDir: string;
  readonly imageDir: string;
  readonly head: string;
  readonly names: string[];
  readonly address: string;
  readonly httpPort: number;
  readonly rsyncPort: number;
  private readonly children = new Set<ChildProcess>();
  private readonly hosts: string[] = [];
  private readonly tag = String(process.pid);

  constructor(readonly o: LabOptions) {
    this.head = `${o.prefix}-h-${this.tag}`;
    this.names = Array.from({ length: o.nodes }, (_, i) => `n${String(i + 1).padStart(2, "0")}`);
    this.address = `10.77.${o.subnet}.1`;
    this.httpPort = o.portBase;
    this.rsyncPort = o.portBase + 1;
    this.dir = mkdtempSync(join(tmpdir(), `${o.prefix}-`));
    this.cfgDir = join(this.dir, "cfg");
    this.imageDir = join(this.dir, "image");
  }

  nodeNs(name: string): string {
    return `${this.o.prefix}-${name}-${this.tag}`;
  }

  mac(name: string): string {
    const i = this.names.indexOf(name) + 1;
    return `52:54:00:${this.o.subnet.toString(16).padStart(2, "0")}:00:${i.toString(16).padStart(2, "0")}`;
  }

  ip(name: string): string {
    return `10.77.${this.o.subnet}.${10 + this.names.indexOf(name) + 1}`;
  }

  get statePath(): string {
    return join(this.cfgDir, ".metalform/state.json");
  }

  /** Creates the namespaces, the image and the configuration. */
  setup(nodes: string[] = this.names): void {
    requireTools();
    // Names are PREFIX-ROLE-PID: the PID tells whether the run that made it is gone.
    removeStaleNamespaces(new RegExp(`^${this.o.prefix}-.*-(\\d+)$`));
    sh("ip", ["netns", "add", this.head]);
    const inHead = (...a: string[]) => inNs(this.head, "ip", a);
    inHead("link", "set", "lo", "up");
    inHead("link", "add", "br0", "type", "bridge");
    inHead("addr", "add", `${this.address}/24`, "dev", "br0");
    inHead("link", "set", "br0", "up");
    this.names.forEach((n, i) => {
      const ns = this.nodeNs(n);
      const veth = `mf${this.o.prefix.slice(-1)}${i}x${this.tag}`.slice(0, 15);
      sh("ip", ["netns", "add", ns]);
      sh("ip", ["link", "add", veth, "netns", this.head, "type", "veth", "peer", "name", "eth0", "netns", ns]);
      inHead("link", "set", veth, "master", "br0", "up");
      const inNode = (...a: string[]) => inNs(ns, "ip", a);
      inNode("link", "set", "eth0", "address", this.mac(n));
      inNode("link", "set", "lo", "up");
      inNode("link", "set", "eth0", "up");
    });
    const img = this.imageDir;
    mkdirSync(join(img, "boot"), { recursive: true });
    mkdirSync(join(img, "etc"), { recursive: true });
    mkdirSync(join(img, "usr/share/data"), { recursive: true });
    writeFileSync(join(img, "boot/vmlinuz"), Buffer.alloc(64_000, 7));
    writeFileSync(join(img, "boot/initrd.img"), Buffer.alloc(16_000, 9));
    writeFileSync(join(img, "etc/os-release"), "NAME=sim\nVERSION=0\n");
    for (let i = 0; i < 8; i++) writeFileSync(join(img, `usr/share/data/f${i}`), Buffer.alloc(20_000, i));
    mkdirSync(this.cfgDir, { recursive: true });
    this.writeConfig(nodes);
  }

  /**
   * Another machine on the provisioning bridge (a provisioner, a second admin host):
   * its namespace, with eth0 at 10.77.SUBNET.(2 + index).
   */
  addHost(role: string, index: number): { ns: string; address: string } {
    const ns = `${this.o.prefix}-${role}-${this.tag}`;
    const address = `10.77.${this.o.subnet}.${2 + index}`;
    const veth = `mf${this.o.prefix.slice(-1)}h${index}x${this.tag}`.slice(0, 15);
    sh("ip", ["netns", "add", ns]);
    this.hosts.push(ns);
    sh("ip", ["link", "add", veth, "netns", this.head, "type", "veth", "peer", "name", "eth0", "netns", ns]);
    inNs(this.head, "ip", ["link", "set", veth, "master", "br0", "up"]);
    for (const a of [
      ["link", "set", "lo", "up"],
      ["addr", "add", `${address}/24`, "dev", "eth0"],
      ["link", "set", "eth0", "up"],
    ])
      inNs(ns, "ip", a);
    return { ns, address };
  }

  /** Starts a long-running metalform (e.g. serve) in a namespace; killed by cleanup(). */
  spawnIn(ns: string, args: string[], env: Record<string, string> = {}): ChildProcess {
    const p = startMetalformInNs(ns, args, env);
    this.track(p);
    return p;
  }

  /** (Re)writes cluster.yaml with these nodes. */
  writeConfig(nodes: string[]): void {
    const lines = nodes.map((n) => `  - { name: ${n}, category: sim, mac: "${this.mac(n)}", ip: ${this.ip(n)} }`);
    writeFileSync(
      join(this.cfgDir, "cluster.yaml"),
      `cluster: { name: sim }
network:
  interface: br0
  address: ${this.address}/24
  dns: [${this.address}]
  dhcp: { mode: authoritative, leaseTime: 600 }
  ports: { http: ${this.httpPort}, rsync: ${this.rsyncPort} }
images:
  sim: { root: ../image, kernel: ../image/boot/vmlinuz, initrd: ../image/boot/initrd.img }
diskLayouts:
  one:
    disks: [ { name: vda, match: { device: /dev/vda }, partitions: [ { size: rest, fs: ext4, mount: / } ] } ]
categories:
  sim: { image: sim, diskLayout: one, bmc: { driver: manual } }
nodes:
${lines.join("\n")}
`,
    );
  }

  /** Changes the image's content (a new digest: every installed node plans a sync). */
  bumpImage(version: number): void {
    writeFileSync(join(this.imageDir, "etc/os-release"), `NAME=sim\nVERSION=${version}\n`);
  }

  readState(): string | undefined {
    return existsSync(this.statePath) ? readFileSync(this.statePath, "utf8") : undefined;
  }

  /** Runs `metalform ARGS` in the head namespace; starts simulated nodes when asked to power-cycle them. */
  metalform(args: string[], ro: RunOptions = {}): RunHandle {
    const p = startMetalformInNs(ro.ns ?? this.head, args, ro.env);
    this.track(p);
    let stdout = "";
    let stderr = "";
    let scanned = 0;
    const asked: string[] = [];
    const nodeOutput = new Map<string, string>();
    const sims = new Map<string, ChildProcess>();
    p.stdout!.on("data", (d) => (stdout += d));
    p.stderr!.on("data", (d: Buffer) => {
      stderr += d.toString();
      // Only complete lines, each scanned once.
      const end = stderr.lastIndexOf("\n") + 1;
      const fresh = stderr.slice(scanned, end);
      scanned = end;
      for (const m of fresh.matchAll(/^(n\d+): power-cycle \1 now/gm)) {
        const n = m[1]!;
        asked.push(n);
        // "a,b": behaviour a on the first power-cycle, b on the second (the last one repeats).
        const plan = (ro.behaviour?.[n] ?? "ok").split(",");
        const behaviour = plan[Math.min(asked.filter((x) => x === n).length, plan.length) - 1]!;
        // A power-cycle ends whatever the node was doing.
        const previous = sims.get(n);
        if (previous && previous.exitCode === null && previous.signalCode === null) previous.kill("SIGKILL");
        if (behaviour === "never") continue;
        const sim = startInNs(this.nodeNs(n), process.execPath, [SIM, "eth0", join(this.dir, `work-${n}`), behaviour]);
        this.track(sim);
        sims.set(n, sim);
        nodeOutput.set(n, nodeOutput.get(n) ?? "");
        const add = (x: Buffer) => nodeOutput.set(n, nodeOutput.get(n) + String(x));
        sim.stdout!.on("data", add);
        sim.stderr!.on("data", add);
      }
    });
    const done = new Promise<Run>((resolve) => {
      p.on("close", (code, signal) => resolve({ code, signal, stdout, stderr, nodeOutput, asked }));
    });
    return {
      proc: p,
      done,
      get stdout() {
        return stdout;
      },
      get stderr() {
        return stderr;
      },
      asked,
      killNodes: async () => {
        await Promise.all(
          [...sims.values()].map(
            (s) =>
              new Promise<void>((r) => {
                if (s.exitCode !== null || s.signalCode !== null) return r();
                s.once("close", () => r());
                s.kill("SIGKILL");
              }),
          ),
        );
      },
    };
  }

  private track(c: ChildProcess): void {
    this.children.add(c);
    c.once("close", () => this.children.delete(c));
  }

  cleanup(): void {
    for (const c of this.children) if (c.exitCode === null) c.kill("SIGKILL");
    for (const ns of [this.head, ...this.hosts, ...this.names.map((n) => this.nodeNs(n))]) deleteNamespace(ns);
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** The JSON lines of an apply --json run. */
export function jsonEvents(stdout: string): Array<Record<string, unknown> & { type: string }> {
  return stdout
    .split("\n")
    .filter((l) => l.startsWith("{"))
    .map((l) => JSON.parse(l) as Record<string, unknown> & { type: string });
}

/** A small deterministic PRNG (mulberry32) for reproducible "random" points. */
export function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
