// `metalform image build|list|show|rm` end to end on a real configuration and a real
// directory image (rsync copies it), run in-process through yargs as main.ts would.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { imageCommand } from "../../src/cli/commands/image.js";
import { loadCluster } from "../../src/config/load.js";
import { planChanges } from "../../src/plan/planner.js";
import { recordApplied } from "../../src/plan/record.js";
import { newState } from "../../src/state/codec.js";
import { LocalStateStore } from "../../src/state/local.js";
import { runCommandsInProcess } from "../helpers/cli-in-process.js";

const dir = mkdtempSync(join(tmpdir(), "mf-imgcli-"));
const cfg = join(dir, "cluster.yaml");
afterAll(() => rmSync(dir, { recursive: true, force: true }));

mkdirSync(join(dir, "compute/boot"), { recursive: true });
mkdirSync(join(dir, "compute/etc"), { recursive: true });
writeFileSync(join(dir, "compute/boot/vmlinuz"), "kernel\n");
writeFileSync(join(dir, "compute/etc/hostname"), "one\n");
writeFileSync(
  cfg,
  `cluster: { name: imgcli }
network: { interface: eth1, address: 10.77.0.1/24 }
images:
  compute: { root: compute, kernel: compute/boot/vmlinuz }
diskLayouts:
  one: { disks: [{ name: vda, match: { device: /dev/vda }, partitions: [{ size: rest, fs: ext4, mount: / }] }] }
nodes:
  - { name: n1, image: compute, diskLayout: one, mac: "52:54:00:00:00:01", ip: 10.77.0.11 }
`,
);

const cli = (...args: string[]) => runCommandsInProcess([imageCommand], ["--config", cfg, "--no-color", ...args]);

describe("metalform image", () => {
  let first = "";
  let second = "";
  it("build makes a snapshot; a changed source makes a second one", async () => {
    const a = await cli("image", "build", "--json");
    expect(a.code).toBe(0);
    first = JSON.parse(a.out).images[0].digest;
    writeFileSync(join(dir, "compute/etc/hostname"), "two\n");
    const b = await cli("image", "build", "compute");
    expect(b.code).toBe(0);
    expect(b.out).toMatch(/^compute {2}[0-9a-f]{12} {2}\d+B {2}\/.*\/\.metalform\/images\/compute\/[0-9a-f]{64}\n1 image ready in [\d.]+ s\n$/);
    second = JSON.parse((await cli("image", "list", "--json")).out).snapshots[0].digest;
    expect(second).not.toBe(first);
  });

  it("list shows both with the node that runs one (from the state)", async () => {
    const { cluster } = await loadCluster(cfg);
    const state = newState("imgcli");
    const plan = planChanges(cluster!, undefined, { imageDigests: new Map([["compute", { digest: first, size: 12 }]]) });
    for (const c of [...plan.imageChanges, ...plan.nodeChanges]) recordApplied(state, c, cluster!);
    const store = new LocalStateStore(join(dir, ".metalform/state.json"));
    const lock = await store.lock({ operation: "test" }, 0);
    await store.write(state, 0);
    await lock.release();
    const l = await cli("image", "list");
    expect(l.code).toBe(0);
    const lines = l.out.split("\n");
    expect(lines[0]).toMatch(/^IMAGE +SNAPSHOT +SIZE +CREATED \(UTC\) +STATUS +NODES$/);
    expect(lines[1]).toMatch(new RegExp(`^compute +${second.slice(7, 19)} +\\d+B +\\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\d +- +-$`));
    expect(lines[2]).toMatch(new RegExp(`^compute +${first.slice(7, 19)} +\\d+B +.* applied +n1$`));
    expect(l.out).toContain("2 snapshots in ");
  });

  it("show tells the source, kernel and nodes of one snapshot", async () => {
    const s = await cli("image", "show", "compute", first.slice(7, 15));
    expect(s.out).toContain(`snapshot  ${first}`);
    expect(s.out).toMatch(/source {4}directory \/.*\/compute\n/);
    expect(s.out).toContain("kernel    root/boot/vmlinuz");
    expect(s.out).toContain("nodes     n1");
  });

  it("rm refuses a snapshot a node runs and removes one nobody runs", async () => {
    const busy = await cli("image", "rm", "compute", first.slice(7, 15));
    expect(busy.code).toBe(1);
    expect(busy.err).toMatch(/not removing compute [0-9a-f]{12}: nodes run it \(n1\); --force removes it anyway/);
    const free = await cli("image", "rm", "compute", second.slice(7, 15));
    expect(free.code).toBe(0);
    const left = JSON.parse((await cli("image", "list", "--json")).out).snapshots.map((r: { digest: string }) => r.digest);
    expect(left).toEqual([first]);
  });

  it("unknown images and snapshots are named", async () => {
    const b = await cli("image", "build", "nosuch");
    expect(b.code).toBe(1);
    expect(b.err).toMatch(/no image nosuch in .*cluster\.yaml \(images: compute\)/);
    const s = await cli("image", "show", "compute", "abcdef");
    expect(s.code).toBe(1);
    expect(s.err).toMatch(/image compute has no snapshot abcdef/);
  });
});
