// The real installer /init, run as root against loop devices in a private mount
// namespace, syncing from the real rsync daemon and reporting to the real API handlers.
import { copyFileSync, mkdtempSync, rmSync, symlinkSync, utimesSync, writeFileSync, readdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { execFileSync } from "node:child_process";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { DiskLayout } from "../../src/config/types.js";
import { renderInstallPlan } from "../../src/boot/install-plan.js";
import { image as baseImage, network, node } from "../boot/fixtures.js";
import {
  blkid,
  cleanupStaleLoops,
  LoopDisk,
  makeImage,
  pseudoRandom,
  requireTools,
  runInstaller,
  startApi,
  startRsyncDaemon,
  withMounted,
  type ApiServer,
  type RsyncDaemon,
} from "./harness.js";

const MiB = 1024 * 1024;
const pos = { file: "t.yaml", line: 1, col: 1 };
const FILES = 100;
const FILE_SIZE = 200 * 1024; // 20 MB image: 1 % is one file

let dir: string;
let imgDir: string;
let disk: LoopDisk;
let api: ApiServer;
let rsyncd: RsyncDaemon;

/** The test layout: every file system type the installer makes. `changed` drops the swap partition. */
function layout(changed = false): DiskLayout {
  const p = (
    name: string,
    size: DiskLayout["disks"][number]["partitions"][number]["size"],
    fs: "ext4" | "xfs" | "vfat" | "swap",
    type: "linux" | "esp" | "swap",
    mount?: string,
    mountOptions: string[] = [],
  ) => ({
    name,
    size,
    fs,
    type,
    mountOptions,
    ...(mount ? { mount } : {}),
  });
  return {
    name: "loop",
    pos,
    raid: [],
    disks: [
      {
        name: "sda",
        match: { minSize: 256 * MiB },
        table: "gpt",
        partitions: [
          ...(changed ? [] : [p("swap", { kind: "bytes", bytes: 8 * MiB }, "swap", "swap")]),
          // Not mounted: this host's kernel has no vfat driver (the QEMU test's kernel has).
          p("esp", { kind: "bytes", bytes: 16 * MiB }, "vfat", "esp"),
          p("var", { kind: "percent", percent: 10 }, "ext4", "linux", "/var", ["noatime"]),
          p("srv", { kind: "bytes", bytes: 320 * MiB }, "xfs", "linux", "/srv"),
          p("root", { kind: "rest" }, "ext4", "linux", "/"),
        ],
      },
    ],
  };
}

function setPlan(name: string, l: DiskLayout, over: Parameters<typeof node>[0] = {}): void {
  const n = node({ name, hostname: `${name}.cluster.local`, ...over });
  api.plans.set(
    name,
    renderInstallPlan({
      node: n,
      layout: l,
      image: { ...baseImage, excludeSync: ["/var/log/*"], excludeFull: [] },
      network,
      imageDigest: "sha256:" + "cd".repeat(32),
      rsyncUrl: rsyncd.url("img"),
      apiUrl: api.nodeUrl(name),
      nodeCredential: "test-node-credential",
    }),
  );
}

beforeAll(async () => {
  requireTools("sfdisk", "mkfs.ext4", "e2fsck", "mkswap", "mkfs.vfat", "mkfs.xfs", "blkid", "partx", "losetup", "unshare", "rsync", "wget");
  cleanupStaleLoops();
  dir = mkdtempSync(join(tmpdir(), "mfin-loop-"));
  imgDir = join(dir, "image");
  makeImage(imgDir, FILES, FILE_SIZE);
  disk = LoopDisk.create(dir, "disk0.img", 512 * MiB);
  api = await startApi();
  rsyncd = await startRsyncDaemon(dir, { img: imgDir });
});

afterAll(async () => {
  disk?.detach();
  await rsyncd?.stop();
  await api?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe.sequential("installer /init against loop devices", () => {
  it("full install from a blank disk", async () => {
    setPlan("node001", layout());
    const run = await runInstaller({ api, node: "node001", disks: [disk.dev], work: join(dir, "w1") });
    expect(run.code, run.output).toBe(0);
    const steps = run.reports.map((r) => `${r.step}:${r.status}`);
    expect(steps).toEqual(
      expect.arrayContaining(["plan:finished", "disks:finished", "mode:finished", "partition:finished", "mkfs:finished", "mount:finished", "rsync:finished", "configure:finished"]),
    );
    expect(run.reports.find((r) => r.step === "mode" && r.status === "finished")?.message).toMatch(/^full: layout on disk differs/);

    const table = JSON.parse(execFileSync("sfdisk", ["--json", disk.dev], { encoding: "utf8" })) as {
      partitiontable: { label: string; partitions: Array<{ size: number; name: string }> };
    };
    expect(table.partitiontable.label).toBe("gpt");
    expect(table.partitiontable.partitions.map((p) => p.name)).toEqual(["swap", "esp", "var", "srv", "root"]);
    expect(table.partitiontable.partitions[0]!.size * 512).toBe(8 * MiB);
    expect(table.partitiontable.partitions[2]!.size * 512).toBe(51 * MiB); // 10 % of 512 MiB, rounded down to a MiB
    expect(table.partitiontable.partitions[3]!.size * 512).toBe(320 * MiB);
    disk.partitions();
    const fsOf = (n: number) => [blkid(disk.part(n), "TYPE"), blkid(disk.part(n), "LABEL")];
    expect([1, 2, 3, 4, 5].map(fsOf)).toEqual([
      ["swap", "swap"],
      ["vfat", "ESP"],
      ["ext4", "var"],
      ["xfs", "srv"],
      ["ext4", "root"],
    ]);

    const text = withMounted(
      disk.part(5),
      `cat etc/hostname etc/fstab etc/metalform/layout etc/network/interfaces etc/systemd/network/10-metalform.network; ls usr/lib | wc -l; cmp usr/lib/blob0042.bin ${join(imgDir, "usr/lib/blob0042.bin")} && echo SAME`,
      dir,
    );
    expect(text).toContain("node001.cluster.local\n");
    expect(text).toMatch(/LABEL=root\t\/\text4\tdefaults\t0\t1/);
    expect(text).toMatch(/LABEL=var\t\/var\text4\tnoatime\t0\t2/);
    expect(text).toMatch(/LABEL=swap\tnone\tswap\tsw/);
    expect(text).not.toMatch(/LABEL=ESP/);
    expect(text).toMatch(/LABEL=srv\t\/srv\txfs\tdefaults\t0\t0/);
    expect(text).toContain(api.plans.get("node001")!.fingerprint);
    expect(text).toContain("iface eth0 inet static");
    // The same address for systemd-networkd images, matched by MAC (no interface name needed).
    expect(text).toMatch(/\[Match\]\nMACAddress=[0-9a-f]{2}(:[0-9a-f]{2}){5}\n\n\[Network\]\nAddress=\d+\.\d+\.\d+\.\d+\/\d+\n/);
    expect(text).toContain(`\n${FILES}\nSAME`);
    const varText = withMounted(disk.part(3), "ls log", dir);
    expect(varText).toContain("build.log");

    const rs = run.reports.find((r) => r.step === "rsync" && r.status === "finished")!;
    expect(rs.bytes).toBeGreaterThan(FILES * FILE_SIZE);
    expect(rs.bytes).toBeLessThan(FILES * FILE_SIZE * 1.05);
    expect(rs.files).toBeGreaterThanOrEqual(FILES);
  });

  it("syncs only the difference after a 1 % change", async () => {
    writeFileSync(join(imgDir, "usr/lib/blob0007.bin"), pseudoRandom(FILE_SIZE, 9999)); // 1 % of the image
    writeFileSync(join(imgDir, "etc/new-file"), "added\n");
    execFileSync("rm", [join(imgDir, "usr/lib/blob0099.bin")]);
    const before = await disk.sha256();
    const run = await runInstaller({ api, node: "node001", disks: [disk.dev], work: join(dir, "w2") });
    expect(run.code, run.output).toBe(0);
    expect(run.reports.find((r) => r.step === "mode" && r.status === "finished")?.message).toMatch(/^sync: layout on disk matches/);
    expect(run.reports.some((r) => r.step === "partition" || r.step === "mkfs")).toBe(false);
    const rs = run.reports.find((r) => r.step === "rsync" && r.status === "finished")!;
    if (process.env.MF_VERBOSE) console.log(JSON.stringify(run.reports), run.ms);
    expect(rs.bytes).toBeGreaterThan(FILE_SIZE * 0.9);
    expect(rs.bytes).toBeLessThan(FILE_SIZE * 1.1 + 32 * 1024);
    expect(rs.files).toBe(2);
    const text = withMounted(
      disk.part(5),
      `cat etc/new-file; ls usr/lib | wc -l; cmp usr/lib/blob0007.bin ${join(imgDir, "usr/lib/blob0007.bin")} && echo SAME; cat etc/hostname`,
      dir,
    );
    expect(text).toBe(`added\n${FILES - 1}\nSAME\nnode001.cluster.local\n`);
    expect(await disk.sha256()).not.toBe(before);
  });

  it("syncs a file rewritten with the same size within the same second (times compared to the nanosecond)", async () => {
    const f = join(imgDir, "etc/same-size");
    const t = Math.floor(Date.now() / 1000) - 100;
    writeFileSync(f, "aaaa\n");
    utimesSync(f, t + 0.1, t + 0.1);
    expect((await runInstaller({ api, node: "node001", disks: [disk.dev], work: join(dir, "w-ns1") })).code).toBe(0);
    writeFileSync(f, "bbbb\n");
    utimesSync(f, t + 0.6, t + 0.6); // same size, same whole second
    const run = await runInstaller({ api, node: "node001", disks: [disk.dev], work: join(dir, "w-ns2") });
    expect(run.code, run.output).toBe(0);
    expect(run.reports.find((r) => r.step === "rsync" && r.status === "finished")?.files).toBe(1);
    expect(withMounted(disk.part(5), "cat etc/same-size", dir)).toBe("bbbb\n");
  });

  it("syncs a protected node whose layout matches (protect only forbids wiping)", async () => {
    setPlan("node001", layout(), { protect: true });
    const run = await runInstaller({ api, node: "node001", disks: [disk.dev], work: join(dir, "w-prot-sync") });
    expect(run.code, run.output).toBe(0);
    expect(run.reports.find((r) => r.step === "mode" && r.status === "finished")?.message).toMatch(/^sync: /);
    expect(run.reports.find((r) => r.step === "rsync" && r.status === "finished")?.files).toBe(0);
  });

  it("nosync mounts matching disks without syncing or rewriting files", async () => {
    setPlan("node001", layout(), { installMode: "nosync" });
    writeFileSync(join(imgDir, "etc/only-in-image"), "x\n");
    const run = await runInstaller({ api, node: "node001", disks: [disk.dev], work: join(dir, "w-nosync") });
    expect(run.code, run.output).toBe(0);
    expect(run.reports.find((r) => r.step === "mode" && r.status === "finished")?.message).toMatch(/^nosync: layout on disk matches/);
    expect(run.reports.map((r) => r.step)).toEqual(expect.arrayContaining(["mount", "switch-root"]));
    expect(run.reports.some((r) => r.step === "rsync" || r.step === "configure" || r.step === "partition")).toBe(false);
    expect(withMounted(disk.part(5), "ls etc", dir)).not.toContain("only-in-image");
  });

  it("refuses to wipe a protected node whose layout changed, touching nothing", async () => {
    setPlan("node001", layout(true), { protect: true });
    const before = await disk.sha256();
    const run = await runInstaller({ api, node: "node001", disks: [disk.dev], work: join(dir, "w3") });
    expect(run.code, run.output).toBe(2);
    const refusal = run.reports.find((r) => r.step === "mode" && r.status === "failed");
    expect(refusal?.message).toMatch(/^would wipe protected disks/);
    expect(run.reports.some((r) => r.step === "partition")).toBe(false);
    expect(await disk.sha256()).toBe(before);
  });

  it("stops with a clear report when a disk is missing", async () => {
    const l = layout();
    l.disks[0]!.match = { minSize: 1024 * MiB };
    setPlan("node001", l);
    const before = await disk.sha256();
    const run = await runInstaller({ api, node: "node001", disks: [disk.dev], work: join(dir, "w4") });
    expect(run.code).toBe(1);
    expect(run.reports.find((r) => r.status === "failed")?.message).toMatch(/^disk sda not found \(device=any minSize=1073741824/);
    expect(await disk.sha256()).toBe(before);
    expect(readdirSync(dir)).toContain("disk0.img");
  });

  it("full mode repartitions even when the layout matches", async () => {
    setPlan("node001", layout(), { installMode: "full" });
    const run = await runInstaller({ api, node: "node001", disks: [disk.dev], work: join(dir, "w-full") });
    expect(run.code, run.output).toBe(0);
    expect(run.reports.find((r) => r.step === "mode" && r.status === "finished")?.message).toBe("full: mode full");
    expect(run.reports.find((r) => r.step === "rsync" && r.status === "finished")!.bytes).toBeGreaterThan(FILES * FILE_SIZE * 0.98);
  });

  it("a failing initialize script stops the node before partitioning, with its last lines, touching no disk", async () => {
    setPlan("node001", layout(), {
      installMode: "full",
      initialize: { content: 'echo "checking $MF_NODE"\necho "no BIOS update for rack $MF_VAR_rack" >&2\nexit 3\n', source: "t" },
      vars: { rack: 7 },
    });
    const before = await disk.sha256();
    const run = await runInstaller({ api, node: "node001", disks: [disk.dev], work: join(dir, "w-init") });
    expect(run.code).toBe(1);
    const failed = run.reports.find((r) => r.status === "failed");
    expect(failed).toMatchObject({ step: "initialize" });
    expect(failed!.message).toBe("the initialize script exited 3: checking node001\nno BIOS update for rack 7");
    expect(run.reports.some((r) => r.step === "partition")).toBe(false);
    expect(run.output).toContain("metalform: initialize: checking node001");
    expect(await disk.sha256()).toBe(before);
  });

  it("files rendered for the node are written; finalize runs chrooted with the node's values and none of the installer's credentials", async () => {
    // A shell in the image for the chroot (busybox: builtins are enough for the script).
    copyFileSync("/bin/busybox", join(imgDir, "bin/busybox"));
    symlinkSync("busybox", join(imgDir, "bin/sh"));
    const files = { dir: "/cfg/files", entries: [{ name: "etc/role.liquid", path: "/etc/role", mode: "0640", content: "{{ node.name }} rack {{ vars.rack }}\n", template: true }] };
    const finalize = {
      content: 'echo "$MF_NODE $MF_IP rack=$MF_VAR_rack token=${MF_TOKEN:-none} rsync=${MF_RSYNC_PASSWORD:-none}" >/etc/finalized\necho finalized $MF_NODE\n',
      source: "t",
    };
    setPlan("node001", layout(), { files, finalize, vars: { rack: 7 }, initialize: { content: "echo init ok\n", source: "t" } });
    const run = await runInstaller({ api, node: "node001", disks: [disk.dev], work: join(dir, "w-fin") });
    expect(run.code, run.output).toBe(0);
    const steps = run.reports.map((r) => `${r.step}:${r.status}`);
    expect(steps.indexOf("initialize:finished")).toBeLessThan(steps.indexOf("disks:started"));
    expect(steps.indexOf("finalize:finished")).toBeGreaterThan(steps.indexOf("configure:finished"));
    expect(run.reports.find((r) => r.step === "finalize" && r.status === "finished")?.message).toBe("finalized node001");
    disk.partitions();
    const text = withMounted(disk.part(5), "cat etc/role etc/finalized; stat -c %a etc/role", dir);
    expect(text).toBe("node001 rack 7\nnode001 10.141.0.11 rack=7 token=none rsync=none\n640\n");
  });
});
