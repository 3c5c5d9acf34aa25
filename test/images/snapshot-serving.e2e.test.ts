// Snapshots against a real install: a lab VM PXE-boots and installs while the image's
// source is edited under the running apply. The node gets the snapshot the plan
// named (read back from its disk), reports that digest, and the next plan sees the
// edit as a new digest of the image.
import { execFileSync } from "node:child_process";
import { existsSync, readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { labDown, labExec, labIpmitool, labUp, type LabInfo } from "../../src/lab/index.js";

const ROOT = new URL("../../", import.meta.url).pathname;
const NS = `mfI${process.pid % 10000}`;
const METALFORM = [process.execPath, join(ROOT, "bin/metalform")];
let lab: LabInfo;

const mf = (args: string[], timeoutMs = 600_000) => labExec({ namespace: NS, dir: lab.dir }, [...METALFORM, ...args], { capture: true, timeoutMs });

/** A file of the node's root file system (partition 2 of its raw disk), read with debugfs through a read-only loop device. */
function readFromDisk(disk: string, path: string): string {
  const table = JSON.parse(execFileSync("sfdisk", ["-J", disk]).toString()) as { partitiontable: { partitions: { start: number; size: number }[] } };
  const p = table.partitiontable.partitions[1]!;
  const loop = execFileSync("losetup", ["--find", "--show", "--read-only", "--offset", String(p.start * 512), "--sizelimit", String(p.size * 512), disk])
    .toString()
    .trim();
  try {
    return execFileSync("debugfs", ["-R", `cat ${path}`, loop], { stdio: ["ignore", "pipe", "ignore"] }).toString();
  } finally {
    execFileSync("losetup", ["-d", loop]);
  }
}

beforeAll(async () => {
  await labDown({ namespace: NS }).catch(() => undefined);
  lab = await labUp({ namespace: NS, nodes: 1, memoryMiB: 384, powerOn: false });
  writeFileSync(join(lab.imageRoot, "etc/marker"), "as planned\n");
}, 300_000);

afterAll(async () => {
  await labDown({ namespace: NS }).catch(() => undefined);
}, 120_000);

describe("an apply serves its snapshot, not the source", () => {
  it("the source edited during the apply does not reach the node", async () => {
    const snapshots = join(lab.dir, ".metalform/images/lab");
    const running = mf(["apply", "-c", lab.configPath, "--auto-approve", "--json", "--retries", "1", "--phase-timeout", "dhcp=120s", "--phase-timeout", "installer=240s"]);
    // The snapshot is made before any service starts; edit the source as soon as it exists.
    for (let i = 0; i < 600 && !(existsSync(snapshots) && readdirSync(snapshots).some((n) => n.endsWith(".json") && n !== "sources.json")); i++)
      await new Promise((r) => setTimeout(r, 500));
    const made = readdirSync(snapshots).find((n) => /^[0-9a-f]{64}\.json$/.test(n))!;
    writeFileSync(join(lab.imageRoot, "etc/marker"), "edited during the apply\n");
    const run = await running;
    expect(run.code, run.stderr.slice(-3000)).toBe(0);
    const up = run.stdout
      .split("\n")
      .filter((l) => l.startsWith("{"))
      .map((l) => JSON.parse(l) as Record<string, unknown>)
      .find((e) => e.type === "node_complete");
    expect(up).toMatchObject({ node: "lab1", image_digest: `sha256:${made.slice(0, 64)}` });

    await labIpmitool(lab, "lab1", ["chassis", "power", "off"]);
    await new Promise((r) => setTimeout(r, 3000));
    expect(readFromDisk(lab.nodes[0]!.diskPath, "/etc/marker")).toBe("as planned\n");

    const plan = await mf(["plan", "-c", lab.configPath, "--json"]);
    const p = JSON.parse(plan.stdout) as { image_changes: { image: string; before: { digest: string }; after: { digest: string } }[] };
    expect(p.image_changes[0]).toMatchObject({ image: "lab", before: { digest: `sha256:${made.slice(0, 64)}` } });
    expect(p.image_changes[0]!.after.digest).not.toBe(`sha256:${made.slice(0, 64)}`);
  }, 900_000);
});
