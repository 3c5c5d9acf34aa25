// `lab up --nodes 2` with the default power on: both VMs start through their BMCs,
// each on its own tap, MAC, address and BMC, and `lab down` takes both away.
import { rmSync } from "node:fs";
import { dirname } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { formatLabUp, labDown, labIpmitool, labStatus, labUp, vmPid } from "../../src/lab/index.js";
import { processAlive } from "../../src/lab/run.js";
import { cleanupStale, LAB_TOOLS, requireTools, tempLabDir, uniqueNamespace } from "./helpers/lab-env.js";

const TAG = "m";
const ns = uniqueNamespace(TAG);
const dir = tempLabDir(TAG);

afterAll(async () => {
  await labDown({ namespace: ns, dir });
  rmSync(dirname(dir), { recursive: true, force: true });
}, 60_000);

describe("lab up --nodes 2", () => {
  it("starts two VMs, each under its own BMC, and takes them down", async () => {
    requireTools(LAB_TOOLS);
    cleanupStale(TAG);
    const t = Date.now();
    const lab = await labUp({ namespace: ns, dir, nodes: 2, memoryMiB: 256, bmcSerialPortBase: 9200 });
    console.log(`lab up --nodes 2 (powered on): ${Date.now() - t} ms`);
    expect(lab.nodes.map((n) => [n.name, n.mac, n.ip, n.bmcAddress, n.tap])).toEqual([
      ["lab1", "52:54:00:4d:46:01", "10.77.0.11", "10.78.0.11", "mftap1"],
      ["lab2", "52:54:00:4d:46:02", "10.77.0.12", "10.78.0.12", "mftap2"],
    ]);
    const pids = lab.nodes.map((n) => vmPid(n));
    expect(pids.every((p) => p !== undefined)).toBe(true);
    expect(new Set(pids).size).toBe(2);
    // Each BMC controls its own VM: power off lab2 only.
    await labIpmitool(lab, "lab2", ["chassis", "power", "off"]);
    expect(vmPid(lab.nodes[0]!)).toBe(pids[0]);
    expect(vmPid(lab.nodes[1]!)).toBeUndefined();
    const st = await labStatus({ namespace: ns, dir, queryBmc: true });
    expect(st.nodes.map((n) => [n.name, n.vmRunning, n.power])).toEqual([
      ["lab1", true, "on"],
      ["lab2", false, "off"],
    ]);
    expect(formatLabUp(lab)).toContain("lab2  52:54:00:4d:46:02  10.77.0.12  10.78.0.12:623");
    await labDown({ namespace: ns, dir });
    expect(processAlive(pids[0]!)).toBe(false);
    expect((await labStatus({ namespace: ns, dir })).namespaceExists).toBe(false);
  }, 120_000);
});
