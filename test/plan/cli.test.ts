// The plan, show and state commands end to end on a real YAML configuration with
// real image files, run in-process through yargs as main.ts would run them.
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { planCommand } from "../../src/cli/commands/plan.js";
import { showCommand } from "../../src/cli/commands/show.js";
import { stateCommand } from "../../src/cli/commands/state.js";
import { validatePlanJson } from "../../src/plan/schema.js";
import { readPlanFile } from "../../src/plan/saved.js";
import { recordApplied } from "../../src/plan/record.js";
import { LocalStateStore } from "../../src/state/local.js";
import { loadCluster } from "../../src/config/load.js";
import { runCommandsInProcess, type CliRun } from "../helpers/cli-in-process.js";

const dir = mkdtempSync(join(tmpdir(), "mf-cli-"));
const cfg = join(dir, "cluster.yaml");
const statePath = join(dir, ".metalform", "state.json");
const SECRET = "s3cret-bmc-password-value";

function config(opts: { nodes?: string; protect?: boolean; layoutFs?: string } = {}): string {
  return `
cluster:
  name: clitest
network:
  interface: eth1
  address: 10.77.0.1/24
  dhcp: { mode: authoritative, leaseTime: 600 }
images:
  compute:
    root: images/compute
    kernel: images/compute/boot/vmlinuz
    initrd: images/compute/boot/initrd.img
    kernelArgs: [console=ttyS0]
diskLayouts:
  std:
    disks:
      - name: sda
        match: { device: /dev/sda }
        table: gpt
        partitions:
          - { size: 512MiB, fs: vfat, mount: /boot/efi }
          - { size: rest, fs: ${opts.layoutFs ?? "ext4"}, mount: / }
categories:
  compute:
    image: compute
    diskLayout: std
    protect: ${opts.protect ?? false}
    bmc: { driver: ipmi, user: admin, password: { env: MF_TEST_BMC_PASSWORD } }
nodes:
  - name: ${opts.nodes ?? "node[001-004]"}
    category: compute
    ip: 10.77.0.11
    bmc: { address: 10.78.0.11 }
    macs: ["52:54:00:4d:00:01", "52:54:00:4d:00:02", "52:54:00:4d:00:03", "52:54:00:4d:00:04"]
`;
}

/** The commands in-process, as main.ts runs them. */
const cli = (...args: string[]): Promise<CliRun> => runCommandsInProcess([planCommand, showCommand, stateCommand], ["--config", cfg, "--no-color", ...args]);

/** What apply will do after each node succeeds: record the plan's changes and write the state. */
async function applyPlanFile(file: string): Promise<void> {
  const plan = await readPlanFile(file);
  const { cluster } = await loadCluster(cfg);
  const store = new LocalStateStore(statePath);
  const lock = await store.lock({ operation: "test apply" }, 0);
  try {
    const state = (await store.read()) ?? (await import("../../src/state/codec.js")).newState(cluster!.name);
    const serial = state.serial;
    for (const c of plan.imageChanges) recordApplied(state, c, cluster!);
    for (const c of plan.nodeChanges) recordApplied(state, c, cluster!);
    await store.write(state, serial);
  } finally {
    await lock.release();
  }
}

beforeAll(() => {
  process.env.MF_TEST_BMC_PASSWORD = SECRET;
  mkdirSync(join(dir, "images", "compute", "boot"), { recursive: true });
  mkdirSync(join(dir, "images", "compute", "etc"), { recursive: true });
  writeFileSync(join(dir, "images", "compute", "boot", "vmlinuz"), "kernel");
  writeFileSync(join(dir, "images", "compute", "boot", "initrd.img"), "initrd");
  writeFileSync(join(dir, "images", "compute", "etc", "motd"), "hello v1\n");
  writeFileSync(cfg, config());
});
afterAll(() => {
  delete process.env.MF_TEST_BMC_PASSWORD;
  rmSync(dir, { recursive: true, force: true });
});

describe("metalform plan / show / state", () => {
  it("plans a fresh cluster: all installs, exit 2 with --detailed-exitcode, 0 without", async () => {
    const r = await cli("plan", "--detailed-exitcode");
    expect(r.err).toBe("");
    expect(r.code).toBe(2);
    expect(r.out).toMatch(/^ {2}node\[001-004\] {2}\+ install {2}image compute [0-9a-f]{6}, disk layout std [0-9a-f]{6} {2}\(4 nodes\)$/m);
    expect(r.out).toContain("Plan: 4 to install, 0 to reimage (wipes disks), 0 to sync, 0 to update, 0 to remove.\n");
    expect(r.out).not.toContain("\u001b[");
    expect((await cli("plan")).code).toBe(0);
  });

  it("saves a plan (mode 0600) that show prints as terminal, Markdown and JSON", async () => {
    const file = join(dir, "first.plan");
    const r = await cli("plan", "--out", file, "--json");
    expect(r.code).toBe(0);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    const doc = JSON.parse(r.out);
    expect(validatePlanJson(doc)).toEqual([]);
    expect(doc.created_at).toMatch(/^\d{4}-\d\d-\d\dT/);
    expect(JSON.parse(readFileSync(file, "utf8"))).toEqual(doc);
    expect(readFileSync(file, "utf8")).not.toContain(SECRET);
    expect(readFileSync(file, "utf8")).toContain("MF_TEST_BMC_PASSWORD");

    const show = await cli("show", file);
    expect(show.code).toBe(0);
    expect(show.out).toContain(`Saved plan ${file} for cluster clitest`);
    expect(show.out).toContain("Plan: 4 to install,");
    const md = await cli("show", "--format", "markdown", file);
    expect(md.out).toContain("<details><summary><code>+ node[001-004]</code> install</summary>");
    const js = await cli("show", "--json", file);
    expect(JSON.parse(js.out)).toEqual(doc);
  });

  it("after apply records the plan: no changes, exit 0 with --detailed-exitcode; the state holds no secret", async () => {
    const file = join(dir, "apply.plan");
    await cli("plan", "--out", file);
    await applyPlanFile(file);
    const r = await cli("plan", "--detailed-exitcode");
    expect(r.code).toBe(0);
    expect(r.out).toBe("No changes. The cluster matches the configuration.\n");
    const text = readFileSync(statePath, "utf8");
    expect(text).not.toContain(SECRET);
    expect(statSync(statePath).mode & 0o777).toBe(0o600);
  });

  it("an edited image is synced, grouped on one line", async () => {
    writeFileSync(join(dir, "images", "compute", "etc", "motd"), "hello v2\n");
    const r = await cli("plan", "--detailed-exitcode");
    expect(r.code).toBe(2);
    expect(r.out).toMatch(/^ {2}node\[001-004\] {2}~ sync {2}image compute ([0-9a-f]{6}) → (?!\1)[0-9a-f]{6} {2}\(4 nodes\)$/m);
    expect(r.out).toContain("Plan: 0 to install, 0 to reimage (wipes disks), 4 to sync, 0 to update, 0 to remove.");
    const md = await cli("plan", "--format", "markdown");
    expect(md.out).toContain("**Plan: 0 to install, 0 to reimage (wipes disks), 4 to sync, 0 to update, 0 to remove.**");
    await applyPlanFile(await saveTo("sync.plan"));
  });

  it("--target limits the plan and warns", async () => {
    writeFileSync(cfg, config({ layoutFs: "xfs" }));
    const r = await cli("plan", "--target", "node[001-002]");
    expect(r.out).toContain("Warning: --target is in effect: this plan covers 2 of 4 nodes");
    expect(r.out).toContain("Plan: 0 to install, 2 to reimage (wipes disks), 0 to sync, 0 to update, 0 to remove.");
  });

  it("refuses to wipe protected nodes unless --allow-wipe names them", async () => {
    writeFileSync(cfg, config({ layoutFs: "xfs", protect: true }));
    const r = await cli("plan", "--out", join(dir, "refused.plan"));
    expect(r.code).toBe(1);
    expect(r.err).toContain("refusing to plan: 4 protected nodes would have their disks wiped");
    expect(r.err).toContain("--allow-wipe node001 --allow-wipe node002");
    expect(() => statSync(join(dir, "refused.plan"))).toThrow();
    const ok = await cli("plan", "--allow-wipe", "node[001-004]");
    expect(ok.code).toBe(0);
    expect(ok.out).toContain("4 to reimage (wipes disks)");
    expect(ok.out).toContain("protected: wipe allowed by --allow-wipe");
    writeFileSync(cfg, config());
  });

  it("state list / show / rm / unlock", async () => {
    const list = await cli("state", "list");
    expect(list.code).toBe(0);
    expect(list.out).toMatch(/^node001 +compute [0-9a-f]{6} +std [0-9a-f]{6} +- +-$/m);
    const js = JSON.parse((await cli("state", "list", "--json")).out);
    expect(js.nodes.map((n: { node: string }) => n.node)).toEqual(["node001", "node002", "node003", "node004"]);
    const show = await cli("state", "show", "node001");
    expect(show.out).toContain("password env:MF_TEST_BMC_PASSWORD");
    expect(show.out).not.toContain(SECRET);
    expect((await cli("state", "show", "node999")).code).toBe(1);

    // A held lock refuses rm and says who holds it; unlock by ID frees it.
    const holder = new LocalStateStore(statePath);
    const lock = await holder.lock({ operation: "apply", owner: "bob@head" }, 0);
    const refused = await cli("state", "rm", "node004");
    expect(refused.code).toBe(1);
    expect(refused.err).toContain(`locked by bob@head`);
    expect(refused.err).toContain(`metalform state unlock ${lock.info.id}`);
    const unlock = await cli("state", "unlock", lock.info.id);
    expect(unlock.code).toBe(0);
    expect(unlock.out).toContain(`lock ${lock.info.id} held by bob@head`);

    const rm = await cli("state", "rm", "node[003-004]", "node999");
    expect(rm.code).toBe(0);
    expect(rm.out).toContain("Removed node[003-004] from the state");
    expect(rm.err).toContain("Not in the state, skipped: node999");
    const plan = await cli("plan");
    expect(plan.out).toContain("Plan: 2 to install,");
    expect((await cli("state", "rm", "node999")).code).toBe(1);
    expect((await cli("state", "rm", "node001", "--lock-timeout", "soon")).err).toContain("--lock-timeout soon");
  });

  it("reports configuration errors and a corrupt state without planning", async () => {
    writeFileSync(cfg, config({ nodes: "node[001-004" }));
    const bad = await cli("plan");
    expect(bad.code).toBe(1);
    expect(bad.err).toContain("no plan was made");
    writeFileSync(cfg, config());
    const before = readFileSync(statePath);
    writeFileSync(statePath, before.subarray(0, 40));
    const r = await cli("plan");
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/state file .* is corrupt/);
    expect(readFileSync(statePath)).toEqual(before.subarray(0, 40));
    writeFileSync(statePath, before);
  });

  it("--state points plan and state commands at another state file", async () => {
    const other = join(dir, "elsewhere", "state.json");
    const plan = await cli("plan", "--state", other, "--detailed-exitcode");
    expect(plan.code).toBe(2);
    expect(plan.out).toContain("Plan: 4 to install,");
    const list = await cli("state", "list", "--state", other);
    expect(list.code).toBe(1);
    expect(list.err).toContain(`no state at ${other}`);
    expect((await cli("state", "--state", statePath, "list")).code).toBe(0);
  });

  it("show refuses a file that is not a plan", async () => {
    const f = join(dir, "junk.plan");
    writeFileSync(f, "hello");
    const r = await cli("show", f);
    expect(r.code).toBe(1);
    expect(r.err).toContain("is not a metalform plan file");
  });
});

async function saveTo(name: string): Promise<string> {
  const f = join(dir, name);
  const r = await cli("plan", "--out", f);
  expect(r.code).toBe(0);
  return f;
}
