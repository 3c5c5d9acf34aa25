// Discovery end to end (issue 19): a lab VM whose MAC is not in the configuration
// network-boots while `metalform serve` runs with network.discovery on, gets a dynamic
// address and the inventory installer, reports its hardware without touching its disk
// and powers off; `discover list/show` show it, `discover adopt` writes it into the
// configuration (its comments kept), `plan` shows its install and `apply` (through the
// running serve) installs it to UP.
import { spawn, type ChildProcess } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { labDown, labExec, labIpmitool, labUp, type LabInfo } from "../../src/lab/index.js";
import { waitFor } from "../helpers/wait.js";

const ROOT = new URL("../../", import.meta.url).pathname;
const NS = `mfD${process.pid % 100000}`;
const METALFORM = [process.execPath, join(ROOT, "bin/metalform")];
let lab: LabInfo;
let serve: ChildProcess | undefined;
let serveLog = "";
const notes: string[] = [];

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

async function mf(args: string[], timeoutMs = 300_000): Promise<Run> {
  const r = await labExec({ namespace: NS, dir: lab.dir }, [...METALFORM, ...args], { capture: true, timeoutMs });
  return { code: r.code ?? 1, stdout: r.stdout, stderr: r.stderr };
}

const detail = (r: Run) => `exit ${r.code}\nstderr:\n${r.stderr.slice(-4000)}\nstdout:\n${r.stdout.slice(-4000)}\nserve:\n${serveLog.slice(-4000)}`;

interface StateFile {
  nodes: Record<string, { reported?: { phase: string } }>;
  inventory?: Record<string, { mac: string; node?: string; facts: { disks: { name: string; bytes: number }[]; nics: { mac: string }[] } }>;
}

function state(): StateFile | undefined {
  try {
    return JSON.parse(readFileSync(join(lab.dir, ".metalform/state.json"), "utf8")) as StateFile;
  } catch {
    return undefined;
  }
}

beforeAll(async () => {
  await labDown({ namespace: NS }).catch(() => undefined);
  // lab1 is configured, lab2 is not (unlisted): its MAC is unknown to metalform.
  lab = await labUp({ namespace: NS, nodes: 2, unlisted: 1, memoryMiB: 384, powerOn: false });
  serve = spawn("ip", ["netns", "exec", NS, ...METALFORM, "serve", "-c", lab.configPath, "--json"], { stdio: ["ignore", "pipe", "pipe"] });
  serve.stdout!.on("data", (d) => (serveLog += d));
  serve.stderr!.on("data", (d) => (serveLog += d));
  await waitFor("serve to listen", () => /"msg":"serving"|serving/.test(serveLog), 180_000, 500);
}, 400_000);

afterAll(async () => {
  if (notes.length) process.stdout.write(`\ndiscover e2e:\n${notes.join("\n")}\n`);
  if (serve && serve.exitCode === null) {
    serve.kill("SIGTERM");
    await new Promise((r) => serve!.once("exit", r));
  }
  await labDown({ namespace: NS }).catch(() => undefined);
}, 120_000);

describe("discovery in the virtual lab", () => {
  const unknown = () => lab.nodes[1]!;

  it("1. the configuration lists lab1 only, with discovery on", () => {
    const yaml = readFileSync(lab.configPath, "utf8");
    expect(yaml).toContain(lab.nodes[0]!.mac);
    expect(yaml).not.toContain(unknown().mac);
    expect(yaml).toMatch(/discovery:\n\s+enabled: true/);
  });

  it("2. the unknown VM boots the inventory installer, reports its hardware, touches no disk and powers off", async () => {
    const t0 = Date.now();
    await labIpmitool(lab, "lab2", ["chassis", "bootdev", "pxe"]);
    await labIpmitool(lab, "lab2", ["chassis", "power", "on"]);
    const rec = await waitFor("lab2's inventory in the state", () => state()?.inventory?.[unknown().mac], 240_000, 1000).catch((e: Error) => {
      throw new Error(`${e.message}\nserve:\n${serveLog.slice(-4000)}\nconsole:\n${readFileSync(unknown().serialLog, "utf8").slice(-4000)}`);
    });
    notes.push(`power on -> inventory in the state: ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    expect(rec.node).toBeUndefined();
    expect(rec.facts.nics.map((n) => n.mac)).toContain(unknown().mac);
    // The lab's disks are 2 GiB sparse files: the VM's vda.
    expect(rec.facts.disks).toEqual(expect.arrayContaining([expect.objectContaining({ name: "vda", bytes: 2 * 1024 ** 3 })]));
    const console = readFileSync(unknown().serialLog, "utf8");
    expect(console).toMatch(/inventory of 52:54:00:\S+: \d+ bytes; no disk was touched/);
    expect(console).not.toMatch(/metalform: (partition|mkfs|rsync) started/);
    // It powers itself off: its BMC says so.
    await waitFor("lab2 to power off", async () => /off/i.test((await labIpmitool(lab, "lab2", ["chassis", "power", "status"])).stdout), 120_000, 2000);
    expect(serveLog).toMatch(/"discovered"/);
  }, 400_000);

  it("3. discover list and show describe it", async () => {
    const list = await mf(["discover", "list", "-c", lab.configPath]);
    expect(list.code, detail(list)).toBe(0);
    expect(list.stdout).toContain(unknown().mac);
    expect(list.stdout).toContain("(not configured)");
    const show = await mf(["discover", "show", unknown().mac, "-c", lab.configPath]);
    expect(show.code, detail(show)).toBe(0);
    expect(show.stdout).toMatch(/not in the configuration/);
    expect(show.stdout).toMatch(/vda\s+2\.0 GiB/);
    expect(show.stdout).toMatch(/virtio_net/);
    notes.push(`discover show:\n${show.stdout}`);
  }, 120_000);

  it("4. adopt writes it into the configuration (comments kept); plan shows its install", async () => {
    const before = readFileSync(lab.configPath, "utf8");
    // The lab's ipmi_sim starts with an unset LAN address (0.0.0.0), which adopt does not take: name the BMC's address.
    const adopt = await mf(["discover", "adopt", unknown().mac, "--name", "lab2", "-c", lab.configPath, "--bmc-address", unknown().bmcAddress]);
    expect(adopt.code, detail(adopt)).toBe(0);
    expect(adopt.stdout).toMatch(/Adopted 52:54:00:\S+ as lab2 \(10\.77\.0\.12, category default\)/);
    const after = readFileSync(lab.configPath, "utf8");
    expect(after.startsWith(before.split("\n").slice(0, 2).join("\n"))).toBe(true);
    expect(after).toContain(`mac: "${unknown().mac}"`);
    expect(after).toMatch(/# adopted by `metalform discover adopt`/);
    const plan = await mf(["plan", "-c", lab.configPath, "--no-color", "--target", "lab2"]);
    expect(plan.stdout, detail(plan)).toMatch(/lab2\s+\+ install/);
    expect(plan.stdout).toContain("1 to install");
    // Its known disk fits the layout: no fit warning.
    expect(plan.stdout + plan.stderr).not.toMatch(/known disks/);
  }, 120_000);

  it("5. apply (through the running serve) installs it to UP; its install inventory is kept under its name", async () => {
    const t0 = Date.now();
    const run = await mf([
      "apply",
      "-c",
      lab.configPath,
      "--auto-approve",
      "--json",
      "--target",
      "lab2",
      "--retries",
      "1",
      "--phase-timeout",
      "dhcp=90s",
      "--phase-timeout",
      "installer=120s",
    ]);
    notes.push(`apply lab2: ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    expect(run.code, detail(run)).toBe(0);
    expect(state()!.nodes.lab2!.reported!.phase).toBe("up");
    expect(readFileSync(unknown().serialLog, "utf8")).toMatch(/lab2\.lab\.test up/);
    // The installer posted the inventory of the now configured node; serve writes it once apply lets go of the state.
    const rec = await waitFor("lab2's inventory under its name", () => state()?.inventory?.[unknown().mac]?.node === "lab2", 60_000, 1000);
    expect(rec).toBe(true);
  }, 420_000);
});
