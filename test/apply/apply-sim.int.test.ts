// `metalform apply` against nodes simulated at the protocol level. metalform runs
// in a "head" network namespace with a bridge, serving real DHCP, TFTP, HTTP and
// rsync; each node is a namespace behind a veth on that bridge running
// sim-node.mjs (udhcpc, curl, rsync). Nodes without a BMC are "power-cycled" by
// the test when apply asks a person to; one node's BMC does not answer; one node's
// sync fails. Nothing leaves the namespaces.
import { type ChildProcess } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { deleteNamespace, inNs, REPO_ROOT as ROOT, requireBuilt, requireTool, sh, startInNs, startMetalformInNs } from "../helpers/netns.js";

const require = createRequire(import.meta.url);
const TAG = `${process.pid % 100000}`;
const HEAD = `mfap-h-${TAG}`;
const NODES = ["n1", "n2", "n3", "n4"] as const;
const nodeNs = (n: string) => `mfap-${n}-${TAG}`;
const MAC = (i: number) => `52:54:00:aa:00:0${i}`;
const BMC_PASSWORD = "sim-Bmc-Pass-77";

let dir: string;
const children: ChildProcess[] = [];

function cleanup() {
  for (const c of children) if (c.exitCode === null) c.kill("SIGKILL");
  for (const ns of [HEAD, ...NODES.map(nodeNs)]) deleteNamespace(ns);
}

beforeAll(() => {
  requireTool("/sbin/udhcpc", "udhcpc");
  requireTool("/usr/bin/curl", "curl");
  requireTool("/usr/bin/rsync", "rsync");
  requireTool("/usr/lib/ipxe/undionly.kpxe", "ipxe");
  requireBuilt("(scripts/test.sh does)");
  cleanup();
  dir = mkdtempSync(join(tmpdir(), "mf-apply-sim-"));
  // The head namespace: a bridge with the provisioning address, loopback up.
  sh("ip", ["netns", "add", HEAD]);
  const inHead = (...a: string[]) => inNs(HEAD, "ip", a);
  inHead("link", "set", "lo", "up");
  inHead("link", "add", "br0", "type", "bridge");
  inHead("addr", "add", "10.99.0.1/24", "dev", "br0");
  inHead("link", "set", "br0", "up");
  NODES.forEach((n, i) => {
    const ns = nodeNs(n);
    sh("ip", ["netns", "add", ns]);
    sh("ip", ["link", "add", `mfv${n}${TAG}`.slice(0, 15), "netns", HEAD, "type", "veth", "peer", "name", "eth0", "netns", ns]);
    inHead("link", "set", `mfv${n}${TAG}`.slice(0, 15), "master", "br0", "up");
    inNs(ns, "ip", ["link", "set", "eth0", "address", MAC(i + 1)]);
    inNs(ns, "ip", ["link", "set", "lo", "up"]);
    inNs(ns, "ip", ["link", "set", "eth0", "up"]);
  });
  // An image: a kernel, an initrd and a small tree.
  const img = join(dir, "image");
  mkdirSync(join(img, "boot"), { recursive: true });
  mkdirSync(join(img, "etc"), { recursive: true });
  mkdirSync(join(img, "usr/share/data"), { recursive: true });
  writeFileSync(join(img, "boot/vmlinuz"), Buffer.alloc(300_000, 7));
  writeFileSync(join(img, "boot/initrd.img"), Buffer.alloc(100_000, 9));
  writeFileSync(join(img, "etc/os-release"), "NAME=sim\n");
  for (let i = 0; i < 20; i++) writeFileSync(join(img, `usr/share/data/f${i}`), Buffer.alloc(50_000, i));
  const cfg = join(dir, "cfg");
  mkdirSync(cfg);
  writeFileSync(
    join(cfg, "cluster.yaml"),
    `cluster: { name: sim }
network:
  interface: br0
  address: 10.99.0.1/24
  dns: [10.99.0.1]
  dhcp: { mode: authoritative, leaseTime: 600 }
  ports: { http: 8080, rsync: 8873 }
images:
  sim: { root: ../image, kernel: ../image/boot/vmlinuz, initrd: ../image/boot/initrd.img }
diskLayouts:
  one:
    disks: [ { name: vda, match: { device: /dev/vda }, partitions: [ { size: rest, fs: ext4, mount: / } ] } ]
categories:
  sim: { image: sim, diskLayout: one, bmc: { driver: manual } }
nodes:
  - { name: n1, category: sim, mac: "${MAC(1)}", ip: 10.99.0.11 }
  - { name: n2, category: sim, mac: "${MAC(2)}", ip: 10.99.0.12 }
  - { name: n3, category: sim, mac: "${MAC(3)}", ip: 10.99.0.13, bmc: { driver: ipmi, address: 127.0.0.1, port: 9, user: admin, password: { env: SIM_BMC_PW } } }
  - { name: n4, category: sim, mac: "${MAC(4)}", ip: 10.99.0.14 }
`,
  );
}, 60_000);

afterAll(() => {
  cleanup();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

interface Run {
  code: number;
  stdout: string;
  stderr: string;
  nodeOutput: Map<string, string>;
}

/** Runs metalform in the head namespace; starts a simulated node when apply asks for it to be power-cycled. */
function metalform(args: string[], behaviour: Record<string, string> = {}): Promise<Run> {
  return new Promise((resolve) => {
    const p = startMetalformInNs(HEAD, args, { SIM_BMC_PW: BMC_PASSWORD });
    children.push(p);
    let stdout = "";
    let stderr = "";
    const nodeOutput = new Map<string, string>();
    const started = new Set<string>();
    p.stdout!.on("data", (d) => (stdout += d));
    p.stderr!.on("data", (d: Buffer) => {
      stderr += d.toString();
      for (const m of stderr.matchAll(/^(n\d): power-cycle \1 now/gm)) {
        const n = m[1]!;
        if (started.has(n)) continue;
        started.add(n);
        const sim = startInNs(nodeNs(n), process.execPath, [join(ROOT, "test/apply/sim-node.mjs"), "eth0", join(dir, `work-${n}`), behaviour[n] ?? "ok"]);
        children.push(sim);
        nodeOutput.set(n, "");
        sim.stdout!.on("data", (x) => nodeOutput.set(n, nodeOutput.get(n) + String(x)));
        sim.stderr!.on("data", (x) => nodeOutput.set(n, nodeOutput.get(n) + String(x)));
      }
    });
    p.on("exit", (code) => resolve({ code: code ?? 1, stdout, stderr, nodeOutput }));
  });
}

function events(stdout: string): Array<Record<string, unknown>> {
  return stdout
    .split("\n")
    .filter((l) => l.startsWith("{"))
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

describe("apply with simulated nodes", () => {
  it("refuses to apply without a terminal and without --auto-approve, touching nothing", async () => {
    const r = await metalform(["apply", "-c", join(dir, "cfg")]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("not applying: no terminal to ask in");
    expect(existsSync(join(dir, "cfg/.metalform/state.json"))).toBe(false);
    expect(r.nodeOutput.size).toBe(0);
  });

  it("installs the nodes that boot, fails the others with clear reasons, and records which is which", async () => {
    const r = await metalform(["apply", "-c", join(dir, "cfg"), "--auto-approve", "--json", "--parallelism", "4", "--retries", "0", "--phase-timeout", "dhcp=60s"], {
      n4: "fail-sync",
    });
    const evs = events(r.stdout);
    const detail = `stderr:\n${r.stderr}\nnodes:\n${[...r.nodeOutput].map(([n, o]) => `${n}: ${o}`).join("\n")}`;
    expect(r.code, detail).toBe(1);

    // Every event is valid against the published schema.
    const Ajv2020 = require("ajv/dist/2020.js");
    const addFormats = require("ajv-formats");
    const ajv = new Ajv2020({ strict: true });
    addFormats(ajv);
    const validate = ajv.compile(JSON.parse(readFileSync(join(ROOT, "schemas/events.schema.json"), "utf8")));
    for (const e of evs) expect(validate(e) ? null : validate.errors).toBeNull();

    const complete = evs.filter((e) => e.type === "node_complete").map((e) => e.node);
    expect(complete.sort(), `${detail}\nevents:\n${r.stdout.slice(-6000)}`).toEqual(["n1", "n2"]);
    // The phases came from the real services and the installer's reports, in order.
    const phases = evs.filter((e) => e.type === "node_phase" && e.node === "n1").map((e) => e.phase);
    expect(phases).toEqual(["power", "dhcp", "boot-files", "installer", "disks", "filesystems", "sync", "config", "switch-root", "up"]);
    // The sync moved the image for real and its bytes were reported.
    const n1sync = JSON.parse(
      r.nodeOutput
        .get("n1")!
        .split("\n")
        .find((l) => l.includes('"step":"rsync"'))!,
    ) as { bytes: number };
    expect(n1sync.bytes).toBeGreaterThan(1_000_000);
    expect(evs.find((e) => e.type === "node_progress" && e.node === "n1")).toMatchObject({ bytes: n1sync.bytes });

    const errored = Object.fromEntries(evs.filter((e) => e.type === "node_errored" && e.final).map((e) => [e.node, e.error]));
    expect(errored.n3).toMatch(/BMC at 127\.0\.0\.1:9 did not answer within \d+ s/);
    expect(errored.n4).toMatch(/installer step "rsync" failed: .*code 12/s);
    expect(evs.at(-1)).toMatchObject({ type: "change_summary", installed: 2, failed: 2 });
    expect(r.stdout + r.stderr).not.toContain(BMC_PASSWORD);

    const state = JSON.parse(readFileSync(join(dir, "cfg/.metalform/state.json"), "utf8"));
    expect(Object.keys(state.nodes).sort()).toEqual(["n1", "n2", "n3", "n4"]);
    expect(state.nodes.n1.applied.image.name).toBe("sim");
    expect(state.nodes.n1.reported.imageDigest).toBe(state.images.sim.digest);
    expect(state.nodes.n3.applied).toBeUndefined();
    expect(state.nodes.n3.reported).toMatchObject({ phase: "power", outcome: "failed" });
    expect(state.nodes.n4.reported).toMatchObject({ phase: "sync", outcome: "failed" });
    // The installers' inventories reached the state through apply's own services, under the nodes' names.
    expect(state.inventory[MAC(1)]).toMatchObject({ mac: MAC(1), node: "n1", facts: { disks: [{ name: "vda", bytes: 2 ** 31 }] } });
    expect(JSON.stringify(state)).not.toContain(BMC_PASSWORD);
  }, 240_000);

  it("plans only what is left", async () => {
    const r = await metalform(["plan", "-c", join(dir, "cfg"), "--json", "--detailed-exitcode"]);
    expect(r.code).toBe(2);
    const plan = JSON.parse(r.stdout) as { resource_changes?: unknown; node_changes?: Array<{ node: string }> };
    const text = JSON.stringify(plan);
    expect(text).toContain('"n3"');
    expect(text).toContain('"n4"');
    expect(text).not.toContain('"node":"n1"');
  }, 60_000);
});
