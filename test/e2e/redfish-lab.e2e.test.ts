// End to end with Redfish power: `lab up --bmc redfish` gives the VM a Redfish BMC
// (the lab's emulator, HTTPS with the lab's own certificate), the lab's cluster
// configuration says `driver: redfish` with that certificate as its CA, and
// `metalform apply` powers the node into the installer through Redfish alone: a
// one-time boot override to Pxe (PATCH with If-Match) and a ComputerSystem.Reset.
// The node PXE-boots, installs, switches root and reports UP. One lean node.
import { readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { labDown, labExec, labStatus, labUp, type LabInfo } from "../../src/lab/index.js";
import { removeStaleNamespaces, requireBuilt } from "../helpers/netns.js";

const ROOT = new URL("../../", import.meta.url).pathname;
const NS = `mfRe2e${process.pid}`;
const TOP = join("/tmp", `mfRe2e-${process.pid}`);
const METALFORM = [process.execPath, join(ROOT, "bin/metalform")];
let lab: LabInfo;

async function mf(args: string[], timeoutMs = 240_000) {
  return labExec({ namespace: NS, dir: lab.dir }, [...METALFORM, ...args], { capture: true, timeoutMs });
}

beforeAll(async () => {
  requireBuilt("(the Redfish emulator runs from dist/)");
  removeStaleNamespaces(/^mfRe2e(\d+)$/, { killProcesses: true });
  lab = await labUp({ namespace: NS, dir: join(TOP, "lab"), nodes: 1, memoryMiB: 384, powerOn: false, bmc: "redfish" });
}, 300_000);

afterAll(async () => {
  await labDown({ namespace: NS, dir: join(TOP, "lab") }).catch(() => undefined);
  rmSync(TOP, { recursive: true, force: true });
}, 120_000);

describe("a lab node powered through Redfish", () => {
  it("lab up writes a Redfish configuration that trusts the lab's certificate", () => {
    const yaml = readFileSync(lab.configPath, "utf8");
    expect(yaml).toMatch(/driver: redfish/);
    expect(yaml).toContain(`ca: ${lab.redfish!.cert}`);
    expect(yaml).not.toMatch(/driver: ipmi/);
  });

  it("apply installs the node and it reports UP; the BMC saw a Pxe override and a reset", async () => {
    const t0 = Date.now();
    const run = await mf(
      ["apply", "-c", lab.configPath, "--auto-approve", "--json", "--retries", "1", "--phase-timeout", "dhcp=90s", "--phase-timeout", "installer=150s"],
      300_000,
    );
    const seconds = (Date.now() - t0) / 1000;
    expect(run.code, `stderr:\n${run.stderr.slice(-3000)}\nstdout:\n${run.stdout.slice(-3000)}`).toBe(0);
    const state = JSON.parse(readFileSync(join(lab.dir, ".metalform/state.json"), "utf8")) as {
      images: Record<string, { digest: string }>;
      nodes: Record<string, { reported?: { phase: string; imageDigest?: string } }>;
    };
    expect(state.nodes.lab1!.reported!.phase).toBe("up");
    expect(state.nodes.lab1!.reported!.imageDigest).toBe(state.images.lab!.digest);
    expect(readFileSync(lab.nodes[0]!.serialLog, "utf8")).toMatch(/lab1\.lab\.test up/);
    // What went over the wire, in the emulator's request log (one line per request).
    const requests = readFileSync(lab.redfish!.log, "utf8")
      .split("\n")
      .filter((l) => /^\S+ 10\.78\.0\.11 /.test(l))
      .map((l) => l.split(" ").slice(2, 5).join(" "));
    expect(requests).toContain("PATCH /redfish/v1/Systems/lab1 200");
    expect(requests).toContain("POST /redfish/v1/Systems/lab1/Actions/ComputerSystem.Reset 204");
    expect(requests).toContain("POST /redfish/v1/SessionService/Sessions 201");
    process.stdout.write(`\nredfish lab e2e: apply ${seconds.toFixed(1)} s; Redfish requests:\n  ${[...new Set(requests)].join("\n  ")}\n`);
    const status = await labStatus({ namespace: NS, dir: lab.dir, queryBmc: true });
    expect(status.nodes[0]).toMatchObject({ name: "lab1", vmRunning: true, bmcRunning: true, power: "on" });
  }, 360_000);
});
