// The end-to-end test: real QEMU VMs (TCG) with QEMU's iPXE ROM PXE-boot from
// metalform's own DHCP, TFTP/HTTP and rsync inside the lab's network namespace,
// run the installer, switch root into the image and report UP. Then: an image
// change syncs only the difference; a layout change reimages (protected nodes need
// --allow-wipe); a stopped BMC fails its node only; a removed node gets no answer.
import { execFileSync, spawn } from "node:child_process";
import { appendFileSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { labDown, labExec, labIpmitool, labUp, type LabInfo } from "../../src/lab/index.js";

const ROOT = new URL("../../", import.meta.url).pathname;
const NS = `mfe2e${process.pid % 10000}`;
const METALFORM = [process.execPath, join(ROOT, "bin/metalform")];
let lab: LabInfo;
let config: string;
const timings: string[] = [];

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

async function mf(args: string[], timeoutMs = 240_000): Promise<Run> {
  const r = await labExec({ namespace: NS, dir: lab.dir }, [...METALFORM, ...args], { capture: true, timeoutMs });
  return { code: r.code ?? 1, stdout: r.stdout, stderr: r.stderr };
}

function events(stdout: string): Array<Record<string, unknown>> {
  return stdout
    .split("\n")
    .filter((l) => l.startsWith("{"))
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

const APPLY = ["apply", "--auto-approve", "--json", "--retries", "1", "--phase-timeout", "dhcp=90s", "--phase-timeout", "installer=120s"];

async function apply(extra: string[] = []): Promise<{ run: Run; evs: Array<Record<string, unknown>> }> {
  const t0 = Date.now();
  const run = await mf([...APPLY, "-c", config, ...extra]);
  const evs = events(run.stdout);
  timings.push(`apply ${extra.join(" ") || ""}: ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  for (const e of evs.filter((x) => x.type === "node_complete")) {
    // Seconds from the power command to each phase this node went through.
    const phases = evs.filter((x) => x.type === "node_phase" && x.node === e.node);
    const t = (x: Record<string, unknown>) => Date.parse(String(x.time));
    const base = phases.length ? t(phases[0]!) : 0;
    const seen = new Set<string>();
    const steps = phases.filter((x) => !seen.has(String(x.phase)) && seen.add(String(x.phase))).map((x) => `${String(x.phase)} ${((t(x) - base) / 1000).toFixed(1)}`);
    timings.push(`  ${String(e.node)} ${String(e.change)} ${String(e.elapsed_s)} s${e.bytes ? `, ${Number(e.bytes)} bytes` : ""}: ${steps.join(", ")}`);
  }
  return { run, evs };
}

function state(): {
  serial: number;
  images: Record<string, { digest: string }>;
  nodes: Record<string, { applied?: { image: { digest: string } }; reported?: { phase: string; imageDigest?: string } }>;
} {
  return JSON.parse(readFileSync(join(lab.dir, ".metalform/state.json"), "utf8"));
}

const detail = (r: Run) => `exit ${r.code}\nstderr:\n${r.stderr.slice(-4000)}\nstdout:\n${r.stdout.slice(-4000)}`;

beforeAll(async () => {
  await labDown({ namespace: NS }).catch(() => undefined);
  lab = await labUp({ namespace: NS, nodes: 2, memoryMiB: 384, powerOn: false });
  config = lab.configPath;
}, 300_000);

afterAll(async () => {
  if (timings.length) process.stdout.write(`\nlab e2e timings:\n${timings.join("\n")}\n`);
  await labDown({ namespace: NS }).catch(() => undefined);
}, 120_000);

describe("end to end in the virtual lab", () => {
  it("1. fresh apply: both VMs PXE-boot, install, switch root and report UP with the image's digest", async () => {
    const { run, evs } = await apply();
    expect(run.code, detail(run)).toBe(0);
    const done = evs.filter((e) => e.type === "node_complete");
    expect(done.map((e) => e.node).sort()).toEqual(["lab1", "lab2"]);
    const st = state();
    for (const n of ["lab1", "lab2"]) {
      expect(st.nodes[n]!.reported!.phase).toBe("up");
      expect(st.nodes[n]!.reported!.imageDigest).toBe(st.images.lab!.digest);
    }
    // The installed system itself said so on its console.
    expect(readFileSync(lab.nodes[0]!.serialLog, "utf8")).toMatch(/lab1\.lab\.test up/);
    // The installer set each node's BMC through its KCS device (test/e2e/bmc-inband.e2e.test.ts reads it back).
    for (const n of lab.nodes) {
      expect(readFileSync(n.serialLog, "utf8")).toContain(
        `bmc finished: channel 1: ${n.bmcAddress} netmask 255.255.255.0 gateway 0.0.0.0 vlan Disabled (over /dev/ipmi0; password of user 2 set)`,
      );
    }
    const again = await mf(["plan", "-c", config, "--detailed-exitcode"]);
    expect(again.code, detail(again)).toBe(0);
    expect(again.stdout).toContain("No changes. The cluster matches the configuration.");
  }, 300_000);

  it("2. a changed image file: 2 to sync, no reimage, and only the difference moves", async () => {
    writeFileSync(join(lab.imageRoot, "etc/motd"), `Welcome to the lab, version 2 (${Date.now()})\n`);
    const plan = await mf(["plan", "-c", config, "--no-color"]);
    expect(plan.stdout, detail(plan)).toContain("Plan: 0 to install, 0 to reimage (wipes disks), 2 to sync, 0 to update, 0 to remove.");
    const { run, evs } = await apply();
    expect(run.code, detail(run)).toBe(0);
    const done = evs.filter((e) => e.type === "node_complete");
    expect(done.map((e) => [e.node, e.change])).toEqual(
      expect.arrayContaining([
        ["lab1", "sync"],
        ["lab2", "sync"],
      ]),
    );
    // The image is ~24 MiB; a sync of one small file moves a few KiB of rsync protocol.
    for (const e of done) expect(e.bytes as number).toBeLessThan(200_000);
    for (const e of done) expect(e.bytes as number).toBeGreaterThan(0);
    const st = state();
    expect(st.nodes.lab1!.reported!.imageDigest).toBe(st.images.lab!.digest);
  }, 300_000);

  it("3. a changed disk layout: reimage, refused for a protected node without --allow-wipe", async () => {
    let yaml = readFileSync(config, "utf8");
    yaml = yaml.replace("- size: 64MiB", "- size: 48MiB");
    yaml = yaml.replace(/(  - name: lab2\n)/, "$1    protect: true\n");
    writeFileSync(config, yaml);
    const plain = await mf(["plan", "-c", config, "--no-color"]);
    expect(plain.code).toBe(1);
    expect(plain.stderr).toMatch(/lab2/);
    expect(plain.stderr).toMatch(/--allow-wipe/);
    const planned = await mf(["plan", "-c", config, "--no-color", "--allow-wipe", "lab2"]);
    expect(planned.stdout, detail(planned)).toContain("2 to reimage (wipes disks)");
    const { run, evs } = await apply(["--allow-wipe", "lab2"]);
    expect(run.code, detail(run)).toBe(0);
    expect(evs.filter((e) => e.type === "node_complete").map((e) => e.change)).toEqual(["reimage", "reimage"]);
    // The disk itself now carries the new layout: a 48 MiB swap partition first.
    for (const n of lab.nodes) {
      const table = JSON.parse(execFileSync("sfdisk", ["-J", n.diskPath], { encoding: "utf8" })) as {
        partitiontable: { sectorsize?: number; partitions: Array<{ size: number }> };
      };
      const sector = table.partitiontable.sectorsize ?? 512;
      expect(table.partitiontable.partitions[0]!.size * sector).toBe(48 * 1024 * 1024);
    }
  }, 300_000);

  it("3b. a reboot outside apply: the node loads its image's kernel from `serve` and comes UP from its disk", async () => {
    const serve = spawn("ip", ["netns", "exec", NS, ...METALFORM, "serve", "-c", config, "--json"], { stdio: ["ignore", "pipe", "pipe"] });
    let log = "";
    serve.stdout.on("data", (d) => (log += d));
    serve.stderr.on("data", (d) => (log += d));
    try {
      const serial = lab.nodes[0]!.serialLog;
      const before = readFileSync(serial, "utf8").length;
      await new Promise((r) => setTimeout(r, 1500));
      await labIpmitool(lab, "lab1", ["chassis", "bootdev", "pxe"]);
      await labIpmitool(lab, "lab1", ["chassis", "power", "cycle"]);
      const deadline = Date.now() + 120_000;
      while (Date.now() < deadline && !/"phase":"up"/.test(log)) await new Promise((r) => setTimeout(r, 1000));
      const console = readFileSync(serial, "utf8").slice(before);
      expect(log, `${log.slice(-3000)}\nconsole:\n${console.slice(-3000)}`).toMatch(/"node":"lab1","phase":"up"/);
      // No installer ran: the kernel mounted the installed root and the image's init reported.
      expect(console).not.toMatch(/metalform: rsync started/);
      expect(console).toMatch(/lab1\.lab\.test up/);
    } finally {
      serve.kill("SIGTERM");
      await new Promise((r) => serve.once("exit", r));
    }
  }, 300_000);

  it("5. a stopped BMC fails its node with a clear reason; the other completes; state says which", async () => {
    process.kill(lab.nodes[0]!.bmcPid!, "SIGKILL");
    appendFileSync(join(lab.imageRoot, "etc/motd"), "version 3\n");
    const { run, evs } = await apply();
    expect(run.code, detail(run)).toBe(1);
    const failed = evs.filter((e) => e.type === "node_errored" && e.final);
    expect(failed.map((e) => e.node)).toEqual(["lab1"]);
    expect(String(failed[0]!.error)).toMatch(/BMC at 10\.78\.0\.11(:623)? did not answer within \d+ s/);
    expect(evs.filter((e) => e.type === "node_complete").map((e) => e.node)).toEqual(["lab2"]);
    const st = state();
    expect(st.nodes.lab2!.applied!.image.digest).toBe(st.images.lab!.digest);
    expect(st.nodes.lab1!.applied!.image.digest).not.toBe(st.images.lab!.digest);
    expect(st.nodes.lab1!.reported).toMatchObject({ phase: "power", outcome: "failed" });
  }, 300_000);

  it("4. a removed node: apply drops its reservation and its next PXE boot gets no answer", async () => {
    const yaml = readFileSync(config, "utf8").replace(/  - name: lab2\n(    .*\n)+/, "");
    writeFileSync(config, yaml);
    const plan = await mf(["plan", "-c", config, "--no-color", "--target", "lab2"]);
    expect(plan.stdout, detail(plan)).toContain("1 to remove");
    const { run } = await apply(["--target", "lab2"]);
    expect(run.code, detail(run)).toBe(0);
    expect(state().nodes.lab2).toBeUndefined();
    // Serve, and power-cycle lab2 into a network boot: the server sees it and stays silent.
    const serve = spawn("ip", ["netns", "exec", NS, ...METALFORM, "serve", "-c", config, "--json", "--log-level", "debug"], { stdio: ["ignore", "pipe", "pipe"] });
    let log = "";
    serve.stdout.on("data", (d) => (log += d));
    serve.stderr.on("data", (d) => (log += d));
    try {
      await new Promise((r) => setTimeout(r, 2000));
      const serial = lab.nodes[1]!.serialLog;
      const earlier = readFileSync(serial, "utf8");
      const before = earlier.length;
      // While lab2 was configured, iPXE printed its DHCP address on every network boot.
      expect(earlier).toMatch(/net0: 10\.77\.0\.12\//);
      await labIpmitool(lab, "lab2", ["chassis", "bootdev", "pxe"]);
      await labIpmitool(lab, "lab2", ["chassis", "power", "cycle"]);
      const mac = lab.nodes[1]!.mac;
      // iPXE in the VM gets no DHCPv4 answer: no IPv4 address, nothing to boot (the
      // "ok" it prints is its IPv6 link-local autoconfiguration from the RAs).
      const deadline = Date.now() + 120_000;
      let console = "";
      while (Date.now() < deadline && !/Nothing to boot|No configuration methods succeeded/.test(console)) {
        await new Promise((r) => setTimeout(r, 1000));
        console = readFileSync(serial, "utf8").slice(before);
      }
      expect(console, console.slice(-2000)).toMatch(/Nothing to boot|No configuration methods succeeded/);
      expect(console).not.toMatch(/net0: 10\.77\.0\.\d+/);
      // The server did hear it: the DISCOVERs reached it and were left unanswered.
      const lines = log.split("\n").filter((l) => l.includes(mac));
      expect(
        lines.some((l) => /"event":"ignored"/.test(l) && /"reason":"unknown-mac"/.test(l)),
        log.slice(-3000),
      ).toBe(true);
    } finally {
      serve.kill("SIGTERM");
      await new Promise((r) => serve.once("exit", r));
    }
  }, 300_000);
});
