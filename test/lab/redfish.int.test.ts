// The lab's Redfish BMC emulator as a real peer, in a network namespace: DMTF's own
// client `redfishtool` (Debian package redfishtool) reads and drives it, so the
// emulator speaks Redfish as the specification's authors read it; then metalform's
// Redfish driver, through the built `metalform power` CLI, powers the VMs behind it
// with the certificate checked against a CA file for one node and a pinned
// fingerprint for the other. The VMs are real QEMU processes started paused (-S):
// a QMP peer for restarts and boot order without spending CPU on a guest (the lab
// e2e test boots and installs one).
import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { controlScript } from "../../src/lab/bmc.js";
import { makeBmcCertificate } from "../../src/lab/redfish/cert.js";
import { EMULATOR_MAIN } from "../../src/lab/redfish/lab-bmcs.js";
import type { EmulatorConfig } from "../../src/lab/redfish/server.js";
import { deleteNamespace, METALFORM_BIN, processAlive, removeStaleNamespaces, requireBuilt, requireCommands, sh } from "../helpers/netns.js";

const NS = `mfR${process.pid}`;
const PASSWORD = "Lab-Redfish-Pw-93";
const NODES = [
  { name: "n1", bmc: "10.79.0.11", mac: "52:54:00:52:46:01" },
  { name: "n2", bmc: "10.79.0.12", mac: "52:54:00:52:46:02" },
];
let dir: string;
let fingerprint: string;
let emulatorPid: number | undefined;

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

function inNs(argv: string[], opts: { input?: string; timeoutMs?: number } = {}): Promise<Run> {
  return new Promise((resolve) => {
    const child = execFile("ip", ["netns", "exec", NS, ...argv], { timeout: opts.timeoutMs ?? 60_000, env: { ...process.env, NO_COLOR: "1" } }, (err, stdout, stderr) =>
      resolve({ code: err ? (typeof (err as { code?: unknown }).code === "number" ? (err as { code: number }).code : 1) : 0, stdout, stderr }),
    );
    child.stdin?.end(opts.input ?? "");
  });
}

/** redfishtool against a node's BMC, session authentication, https always. */
async function redfishtool(node: number, args: string[], password = PASSWORD): Promise<Run> {
  return inNs(["redfishtool", "-r", NODES[node]!.bmc, "-u", "admin", "-p", password, "-S", "Always", "-A", "Session", ...args]);
}

async function redfishJson(node: number, args: string[]): Promise<Record<string, unknown>> {
  const r = await redfishtool(node, args);
  expect(r.code, r.stderr).toBe(0);
  return JSON.parse(r.stdout) as Record<string, unknown>;
}

/** A request with curl (basic auth on stdin), for what redfishtool refuses to send. */
async function curl(node: number, method: string, path: string, body?: string): Promise<{ status: number; body: Record<string, unknown> | undefined }> {
  const args = ["curl", "-sS", "-K", "-", "--cacert", join(dir, "cert.pem"), "-X", method, "-w", "\n%{http_code}"];
  if (body !== undefined) args.push("-H", "Content-Type: application/json", "--data-binary", body);
  const r = await inNs([...args, `https://${NODES[node]!.bmc}${path}`], { input: `user = "admin:${PASSWORD}"\n` });
  const nl = r.stdout.lastIndexOf("\n");
  let parsed: Record<string, unknown> | undefined;
  try {
    parsed = JSON.parse(r.stdout.slice(0, nl)) as Record<string, unknown>;
  } catch {
    parsed = undefined;
  }
  return { status: Number(r.stdout.slice(nl + 1)), body: parsed };
}

function nodeDir(i: number): string {
  return join(dir, NODES[i]!.name);
}

/** The pid of a node's QEMU, when it runs. */
function vm(i: number): number | undefined {
  try {
    const pid = Number(readFileSync(join(nodeDir(i), "qemu.pid"), "utf8").trim());
    return pid > 1 && processAlive(pid) && readFileSync(`/proc/${pid}/cmdline`, "utf8").includes("qemu") ? pid : undefined;
  } catch {
    return undefined;
  }
}

/** The boot orders QEMU was started with, oldest first. */
function starts(i: number): string[] {
  try {
    return readFileSync(join(nodeDir(i), "starts"), "utf8")
      .trim()
      .split("\n");
  } catch {
    return [];
  }
}

function writeVm(i: number): EmulatorConfig["bmcs"][number]["vm"] {
  const d = nodeDir(i);
  sh("mkdir", ["-p", d]);
  const files = { start: join(d, "start-vm.sh"), pid: join(d, "qemu.pid"), boot: join(d, "boot-device"), qmp: join(d, "qmp.sock"), control: join(d, "bmc-control.sh") };
  // Like the lab's start-vm.sh (qemu.ts), paused and without devices; it also records its boot order.
  writeFileSync(
    files.start,
    `#!/bin/sh
order=nc
[ "$(cat ${files.boot} 2>/dev/null)" = default ] && order=cn
echo "$order" >> ${join(d, "starts")}
exec qemu-system-x86_64 -name ${NODES[i]!.name} -machine pc -accel tcg -S -nodefaults -display none -m 64 -qmp unix:${files.qmp},server=on,wait=off -pidfile ${files.pid} -boot order=$order
`,
    { mode: 0o755 },
  );
  writeFileSync(files.control, controlScript({ name: NODES[i]!.name, dir: d, startScript: files.start, pidFile: files.pid, bootFile: files.boot, qemuLog: join(d, "qemu.log") }), {
    mode: 0o755,
  });
  return { controlScript: files.control, bootFile: files.boot, qmpSocket: files.qmp };
}

beforeAll(async () => {
  requireBuilt("(the emulator and the CLI run from dist/)");
  requireCommands({ redfishtool: "redfishtool", "qemu-system-x86_64": "qemu-system-x86", curl: "curl", openssl: "openssl" });
  removeStaleNamespaces(/^mfR(\d+)$/, { killProcesses: true });
  dir = mkdtempSync(join(tmpdir(), "mfR-redfish-int-"));
  sh("ip", ["netns", "add", NS]);
  sh("ip", ["-n", NS, "link", "set", "lo", "up"]);
  for (const n of NODES) sh("ip", ["-n", NS, "addr", "add", `${n.bmc}/32`, "dev", "lo"]);
  writeFileSync(join(dir, "bmc-password"), PASSWORD + "\n", { mode: 0o600 });
  const cert = await makeBmcCertificate({ cert: join(dir, "cert.pem"), key: join(dir, "key.pem"), addresses: NODES.map((n) => n.bmc), name: "mfR test BMCs", days: 1 });
  fingerprint = cert.fingerprint;
  const config: EmulatorConfig = {
    cert: cert.cert,
    key: cert.key,
    port: 443,
    user: "admin",
    passwordFile: join(dir, "bmc-password"),
    bmcs: NODES.map((n, i) => ({ node: n.name, address: n.bmc, mac: n.mac, vm: writeVm(i) })),
  };
  writeFileSync(join(dir, "redfish.json"), JSON.stringify(config), { mode: 0o600 });
  const child = execFile("ip", ["netns", "exec", NS, process.execPath, EMULATOR_MAIN, join(dir, "redfish.json")]);
  emulatorPid = child.pid;
  let log = "";
  child.stdout?.on("data", (d: string) => (log += d));
  for (let i = 0; i < 100 && (log.match(/listening/g) ?? []).length < NODES.length; i++) await new Promise((r) => setTimeout(r, 100));
  expect(log).toContain(`listening https://${NODES[1]!.bmc}:443/redfish/v1/ node=n2`);
}, 60_000);

afterAll(() => {
  for (const i of NODES.keys()) {
    const pid = vm(i);
    if (pid) process.kill(pid, "SIGKILL");
  }
  if (emulatorPid) process.kill(emulatorPid, "SIGTERM");
  deleteNamespace(NS);
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe("the lab's Redfish emulator, read and driven by redfishtool", () => {
  it("serves the service root, the Systems collection with the node's system, and sessions", async () => {
    const root = await redfishJson(0, ["raw", "GET", "/redfish/v1/"]);
    expect(root).toMatchObject({ "@odata.id": "/redfish/v1/", "@odata.type": expect.stringMatching(/^#ServiceRoot\.v1_/), Systems: { "@odata.id": "/redfish/v1/Systems" } });
    const systems = await redfishJson(0, ["Systems"]);
    expect(systems.Members).toEqual([{ "@odata.id": "/redfish/v1/Systems/n1" }]);
    const sys = await redfishJson(0, ["Systems", "-1", "get"]);
    expect(sys).toMatchObject({ Id: "n1", PowerState: "Off", "@odata.type": expect.stringMatching(/^#ComputerSystem\.v1_/) });
    expect(sys.Actions).toEqual({
      "#ComputerSystem.Reset": {
        target: "/redfish/v1/Systems/n1/Actions/ComputerSystem.Reset",
        "ResetType@Redfish.AllowableValues": ["On", "ForceOff", "GracefulShutdown", "ForceRestart", "PowerCycle", "Nmi"],
      },
    });
    const sessions = await redfishJson(0, ["SessionService", "Sessions"]);
    // redfishtool's own session is the one listed; it deletes it when it exits.
    expect(sessions["Members@odata.count"]).toBe(1);
    const wrong = await redfishtool(0, ["Systems"], "not-the-password");
    expect(wrong.code).not.toBe(0);
    expect(wrong.stderr).toMatch(/401/);
  }, 60_000);

  it("switches the VM on, restarts it in place, power-cycles it into a one-time boot override, and off", async () => {
    expect(vm(0)).toBeUndefined();
    expect((await redfishtool(0, ["Systems", "-1", "reset", "On"])).code).toBe(0);
    const first = vm(0);
    expect(first).toBeDefined();
    expect((await redfishJson(0, ["Systems", "-1", "get", "-P", "PowerState"])).PowerState).toBe("On");
    // ForceRestart resets the running QEMU through QMP: the same process.
    expect((await redfishtool(0, ["Systems", "-1", "reset", "ForceRestart"])).code).toBe(0);
    expect(vm(0)).toBe(first);
    // A one-time override to the disk: the next start boots disk first, and the override is gone after it.
    expect((await redfishtool(0, ["Systems", "-1", "setBootOverride", "Once", "Hdd"])).code).toBe(0);
    expect((await redfishJson(0, ["Systems", "-1", "get", "-P", "Boot"])).Boot).toMatchObject({ BootSourceOverrideEnabled: "Once", BootSourceOverrideTarget: "Hdd" });
    expect((await redfishtool(0, ["Systems", "-1", "reset", "PowerCycle"])).code).toBe(0);
    const second = vm(0);
    expect(second).toBeDefined();
    expect(second).not.toBe(first);
    expect(starts(0)).toEqual(["nc", "cn"]);
    expect((await redfishJson(0, ["Systems", "-1", "get", "-P", "Boot"])).Boot).toMatchObject({ BootSourceOverrideEnabled: "Disabled", BootSourceOverrideTarget: "None" });
    expect((await redfishtool(0, ["Systems", "-1", "reset", "ForceOff"])).code).toBe(0);
    expect(vm(0)).toBeUndefined();
    expect((await redfishJson(0, ["Systems", "-1", "get", "-P", "PowerState"])).PowerState).toBe("Off");
  }, 90_000);

  it("answers bad requests with Redfish errors and stays up", async () => {
    const bad = await curl(0, "PATCH", "/redfish/v1/Systems/n1", JSON.stringify({ Boot: { BootSourceOverrideTarget: "Floppy" } }));
    expect(bad.status).toBe(400);
    expect(JSON.stringify(bad.body)).toContain("Base.1.15.PropertyValueNotInList");
    expect((await curl(0, "PATCH", "/redfish/v1/Systems/n1", "{not json")).status).toBe(400);
    expect((await curl(0, "POST", "/redfish/v1/Systems/n1/Actions/ComputerSystem.Reset", JSON.stringify({ ResetType: "ForceRestart" }))).status).toBe(409); // it is off
    expect((await curl(0, "GET", "/redfish/v1/Managers")).status).toBe(404);
    expect((await curl(0, "DELETE", "/redfish/v1/Systems/n1")).status).toBe(405);
    expect((await curl(0, "POST", "/redfish/v1/Systems/n1/Actions/ComputerSystem.Reset", "x".repeat(100_000))).status).toBe(413);
    expect((await curl(0, "GET", "/redfish/v1/Systems/n1")).status).toBe(200);
  }, 60_000);
});

describe("metalform power through the Redfish driver", () => {
  it("reads and switches both nodes: one BMC trusted through a CA file, the other through a pinned fingerprint", async () => {
    writeFileSync(join(dir, "vmlinuz"), "k");
    writeFileSync(
      join(dir, "cluster.yaml"),
      `network: { interface: lo, address: 10.9.0.1/24 }
images: { img: { root: ".", kernel: vmlinuz } }
diskLayouts:
  l: { disks: [ { name: d, match: { device: /dev/vda }, partitions: [ { size: rest, fs: ext4, mount: / } ] } ] }
categories:
  c: { image: img, diskLayout: l, bmc: { driver: redfish, user: admin, password: { file: bmc-password } } }
nodes:
  - { name: n1, category: c, mac: "${NODES[0]!.mac}", ip: 10.9.0.11, bmc: { address: ${NODES[0]!.bmc}, tls: { ca: cert.pem } } }
  - { name: n2, category: c, mac: "${NODES[1]!.mac}", ip: 10.9.0.12, bmc: { address: ${NODES[1]!.bmc}, tls: { fingerprint: "${fingerprint}" } } }
`,
    );
    const power = async (action: string) => {
      const r = await inNs([process.execPath, METALFORM_BIN, "power", action, "n[1-2]", "-c", dir, "--json"]);
      expect(r.stdout + r.stderr).not.toContain(PASSWORD);
      return { ...r, results: (JSON.parse(r.stdout) as { results: Array<Record<string, unknown>> }).results };
    };
    expect((await power("status")).results.map((x) => x.state)).toEqual(["off", "off"]);
    const on = await power("on");
    expect(on.code, on.stderr).toBe(0);
    expect([vm(0), vm(1)].every((p) => p !== undefined)).toBe(true);
    expect((await power("status")).results.map((x) => x.state)).toEqual(["on", "on"]);
    const before = [vm(0), vm(1)];
    // On: the emulator offers PowerCycle, so the driver power-cycles (a new QEMU process).
    expect((await power("cycle")).code).toBe(0);
    expect([vm(0), vm(1)].every((p, i) => p !== undefined && p !== before[i])).toBe(true);
    expect((await power("off")).code).toBe(0);
    expect([vm(0), vm(1)]).toEqual([undefined, undefined]);
  }, 120_000);

  it("shows what the BMC said when it refuses", async () => {
    // A wrong password for n2 only: its own failure, in the BMC's words; n1 still answers.
    writeFileSync(join(dir, "wrong-password"), "wrong-one\n");
    const yaml = readFileSync(join(dir, "cluster.yaml"), "utf8").replace(
      `tls: { fingerprint: "${fingerprint}" } }`,
      `tls: { fingerprint: "${fingerprint}" }, password: { file: wrong-password } }`,
    );
    writeFileSync(join(dir, "cluster.yaml"), yaml);
    const r = await inNs([process.execPath, METALFORM_BIN, "power", "status", "n[1-2]", "-c", dir]);
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/^n1\s+off$/m);
    expect(r.stdout).toMatch(
      /^n2\s+FAILED: BMC at 10\.79\.0\.12 refused the credentials for user admin \(HTTP 401 Unauthorized: There is no valid session established with the implementation\. .*\(Base\.1\.15\.NoValidSession\)\)$/m,
    );
  }, 60_000);
});
