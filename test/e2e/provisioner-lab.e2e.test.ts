// Scale-out with a real VM: a QEMU node (TCG, QEMU's iPXE ROM) on the lab's
// provisioning bridge boots entirely from a provisioner (`metalform serve --role
// provisioner`) in a namespace of its own — DHCP (it holds the authority lease),
// script, kernel and installer over HTTP, the image over rsync from its own copy — while the apply on the head node drives it through PostgreSQL
// and the node's BMC, and records it UP with the image's digest.
import type { ChildProcess } from "node:child_process";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { labDown, labUp, type LabInfo } from "../../src/lab/index.js";
import { sh, startMetalformInNs } from "../helpers/netns.js";
import { startPostgres, type PgServer } from "../state/pg-server.js";

const NS = `mfe2p${process.pid % 10000}`;
const PROV_NS = `${NS}-prov`;
const VETH = `mfp${process.pid % 10000}`;
let lab: LabInfo;
let pg: PgServer;
let url: string;
let prov: ChildProcess | undefined;
let provLog = "";
let provAddress = "";

function run(ns: string, args: string[], timeoutMs: number): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const p = startMetalformInNs(ns, args, { METALFORM_STATE_URL: url });
    let stdout = "";
    let stderr = "";
    p.stdout!.on("data", (d) => (stdout += d));
    p.stderr!.on("data", (d) => (stderr += d));
    const t = setTimeout(() => p.kill("SIGKILL"), timeoutMs);
    p.on("close", (code) => {
      clearTimeout(t);
      resolve({ code, stdout, stderr });
    });
  });
}

beforeAll(async () => {
  await labDown({ namespace: NS }).catch(() => undefined);
  try {
    sh("ip", ["netns", "del", PROV_NS]);
  } catch {
    /* not there */
  }
  lab = await labUp({ namespace: NS, nodes: 1, memoryMiB: 384, powerOn: false });
  const net = lab.headAddress.split(".").slice(0, 3).join(".");
  provAddress = `${net}.5`;
  pg = await startPostgres({ netns: NS, listen: lab.headAddress, allow: [`${net}.0/${lab.prefixLength}`] });
  url = `${pg.url()}#lab`;
  // The provisioner: another machine on the lab's provisioning bridge.
  sh("ip", ["netns", "add", PROV_NS]);
  sh("ip", ["link", "add", VETH, "netns", NS, "type", "veth", "peer", "name", "eth0", "netns", PROV_NS]);
  sh("ip", ["netns", "exec", NS, "ip", "link", "set", VETH, "master", lab.bridge, "up"]);
  for (const a of [
    ["link", "set", "lo", "up"],
    ["addr", "add", `${provAddress}/${lab.prefixLength}`, "dev", "eth0"],
    ["link", "set", "eth0", "up"],
  ])
    sh("ip", ["netns", "exec", PROV_NS, "ip", ...a]);
  prov = startMetalformInNs(
    PROV_NS,
    ["serve", "--role", "provisioner", "-c", lab.configPath, "--name", "prov1", "--address", provAddress, "--bind-interface", "eth0", "--heartbeat", "1s", "--json"],
    { METALFORM_STATE_URL: url },
  );
  prov.stdout!.on("data", (d) => (provLog += d));
  prov.stderr!.on("data", (d) => (provLog += d));
  const t0 = Date.now();
  for (;;) {
    if (provLog.includes('"dhcp-authority"')) break;
    if (prov.exitCode !== null || Date.now() - t0 > 90_000) throw new Error(`the provisioner did not start:\n${provLog.slice(-3000)}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}, 300_000);

afterAll(async () => {
  prov?.kill("SIGTERM");
  await new Promise((r) => setTimeout(r, 1000));
  prov?.kill("SIGKILL");
  try {
    pg?.stop();
  } finally {
    try {
      sh("ip", ["netns", "del", PROV_NS]);
    } catch {
      /* gone */
    }
    await labDown({ namespace: NS }).catch(() => undefined);
  }
}, 120_000);

describe("a real VM provisioned by a provisioner", () => {
  it("PXE-boots from the provisioner, installs from its image copy and comes UP; the apply records it", async () => {
    const r = await run(
      NS,
      [
        "apply",
        "-c",
        lab.configPath,
        "--auto-approve",
        "--json",
        "--provisioners",
        "required",
        "--retries",
        "1",
        "--phase-timeout",
        "dhcp=90s",
        "--phase-timeout",
        "installer=120s",
      ],
      280_000,
    );
    const detail = `exit ${r.code}\n${r.stderr.slice(-3000)}\n${r.stdout.slice(-3000)}\n--- provisioner\n${provLog.slice(-4000)}`;
    expect(r.code, detail).toBe(0);
    const evs = r.stdout
      .split("\n")
      .filter((l) => l.startsWith("{"))
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(evs.filter((e) => e.type === "node_message").map((e) => e.message)).toContain("assigned to provisioner prov1");
    const done = evs.filter((e) => e.type === "node_complete");
    expect(done.map((e) => e.node)).toEqual(["lab1"]);
    expect(String(done[0]!.image_digest)).toMatch(/^sha256:/);
    // Everything the VM did was seen by the provisioner (the apply runs no service of its own
    // here: every observation reached it through PostgreSQL).
    const phases = new Set(evs.filter((e) => e.type === "node_phase").map((e) => String(e.phase)));
    for (const p of ["dhcp", "boot-files", "installer", "disks", "filesystems", "sync", "up"]) expect(phases, p).toContain(p);
    const said = evs.filter((e) => e.type === "node_phase" || e.type === "node_message").map((e) => (typeof e.message === "string" ? e.message : ""));
    // QEMU's ROM is iPXE already: it asks for the script at once (no TFTP loader stage).
    expect(
      said.some((m) => /acknowledged .* \(iPXE\)/.test(m)),
      said.join("\n"),
    ).toBe(true);
    expect(said).toContain("iPXE script fetched");
    const vmIp = lab.nodes[0]!.ip.replace(/\./g, "\\.");
    expect(provLog).toMatch(new RegExp(`"event":"script-served".*"remote":"(::ffff:)?${vmIp}"`));
    expect(provLog).toMatch(new RegExp(`"event":"file-served".*"path":"installer-[^"]+".*"remote":"(::ffff:)?${vmIp}"`));
    // The state, in PostgreSQL, says so.
    const doc = JSON.parse(pg.psql("SELECT document FROM metalform_state_versions WHERE name = 'lab' ORDER BY serial DESC LIMIT 1")) as {
      nodes: Record<string, { reported?: { phase?: string; imageDigest?: string } }>;
    };
    expect(doc.nodes.lab1?.reported).toMatchObject({ phase: "up", imageDigest: done[0]!.image_digest });
    expect(provLog).not.toContain(pg.password);
  }, 300_000);
});
