// The installer's shell chooses disks as src/boot/disk-select.ts does: the shared case
// table (test/boot/disk-select-cases.ts) run through match_disks of the real
// installer-init.sh, against a fake sysfs that holds each disk's facts where the
// kernel puts them (serial attribute or SCSI VPD page 0x80, device/model, vendor,
// wwid, queue/rotational, the PCI/ATA/SCSI path the by-path names come from).
// Root: the shell only considers names that are block devices (the host's /dev/loopN).
import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, relative } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { DiskFacts } from "../../src/boot/disk-select.js";
import { renderInstallPlan } from "../../src/boot/install-plan.js";
import { installerInitPath } from "../../src/boot/installer-init.js";
import { renderPlanShell } from "../../src/boot/plan-shell.js";
import type { DiskLayout } from "../../src/config/types.js";
import { apiUrlFor, node, planInputBase } from "../boot/fixtures.js";
import { CASES, FACTS, type SelectCase } from "../boot/disk-select-cases.js";

let dir: string;
let sys: string;
let functions: string;

/** Where the kernel would put each fake disk: from its first by-path name. */
function devicePath(f: DiskFacts, hostIndex: number): string {
  const p = f.paths[0]!;
  let m = /^pci-([0-9a-f:.]+)-ata-(\d+)$/.exec(p);
  if (m) return `devices/pci0000:00/${m[1]}/ata${m[2]}/host${hostIndex}/target${hostIndex}:0:0/${hostIndex}:0:0:0`;
  m = /^pci-([0-9a-f:.]+)-scsi-(\d+):(\d+):(\d+):(\d+)$/.exec(p);
  if (m) return `devices/pci0000:00/0000:00:01.0/${m[1]}/host${hostIndex}/target${hostIndex}:${m[3]}:${m[4]}/${hostIndex}:${m[3]}:${m[4]}:${m[5]}`;
  m = /^pci-([0-9a-f:.]+)$/.exec(p);
  if (m) return `devices/pci0000:00/${m[1]}/virtio${hostIndex}`;
  throw new Error(`no fake sysfs path for ${p}`);
}

function put(path: string, content: string | Buffer): void {
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, content);
}

function fakeSysfs(): void {
  FACTS.forEach((f, i) => {
    const dev = join(sys, devicePath(f, i + 2));
    const blk = join(dev, "block", f.name);
    put(join(blk, "size"), `${f.bytes / 512}\n`);
    put(join(blk, "queue/rotational"), f.rotational ? "1\n" : "0\n");
    symlinkSync(relative(blk, dev), join(blk, "device"));
    if (f.model) put(join(dev, "model"), f.model.padEnd(16) + "\n");
    if (f.vendor) put(join(dev, "vendor"), f.vendor.padEnd(8) + "\n");
    if (f.wwn) put(join(dev, "wwid"), f.wwn + "\n");
    // virtio disks have a serial attribute; SCSI and SATA disks only VPD page 0x80.
    if (f.serial && f.vendor) put(join(dev, "vpd_pg80"), Buffer.concat([Buffer.from([0, 0x80, 0, f.serial.length]), Buffer.from(f.serial)]));
    else if (f.serial) put(join(blk, "serial"), f.serial + "\n");
    const ata = /ata(\d+)/.exec(dev);
    if (ata) put(join(sys, "class/ata_port", `ata${ata[1]}`, "port_no"), `${ata[1]}\n`);
    mkdirSync(join(sys, "class/block"), { recursive: true });
    symlinkSync(relative(join(sys, "class/block"), blk), join(sys, "class/block", f.name));
  });
}

function layoutOf(c: SelectCase): DiskLayout {
  return {
    name: "t",
    pos: { file: "t.yaml", line: 1, col: 1 },
    raid: [],
    disks: c.disks.map((d, i) => ({
      name: d.name,
      match: d.match,
      table: "gpt" as const,
      partitions: [{ name: `${d.name}-p1`, size: { kind: "rest" as const }, fs: "ext4" as const, type: "linux" as const, mount: i ? `/d${i}` : "/", mountOptions: [] }],
    })),
  };
}

/** Runs match_disks of the installer on the case's plan; the chosen devices or the refusal message. */
function shellSelect(c: SelectCase, k: number): { code: number | null; devices: string[]; message: string } {
  const n = node({ name: `sel${k}` });
  const plan = renderInstallPlan({ ...planInputBase, node: n, layout: layoutOf(c), apiUrl: apiUrlFor(n.name) });
  const planFile = join(dir, `plan${k}.sh`);
  writeFileSync(planFile, renderPlanShell(plan));
  const script = `. "${functions}"; . "${planFile}"; match_disks; i=0; while [ "$i" -lt "$MF_DISK_COUNT" ]; do get "MF_DISK_\${i}_DEV"; echo; i=$((i + 1)); done`;
  const r = spawnSync("sh", ["-c", script], {
    encoding: "utf8",
    env: { PATH: "/usr/sbin:/usr/bin:/sbin:/bin", MF_SYS: sys, MF_CANDIDATES: FACTS.map((f) => `/dev/${f.name}`).join(" "), MF_WORK: join(dir, `w${k}`), MF_SKIP_BOOTSTRAP: "1" },
  });
  const devices = r.stdout.split("\n").filter(Boolean);
  const message = /disks failed: (.*)/.exec(r.stderr)?.[1] ?? r.stderr;
  return { code: r.status, devices, message };
}

beforeAll(() => {
  for (const f of FACTS) if (!statSync(`/dev/${f.name}`, { throwIfNoEntry: false })?.isBlockDevice()) throw new Error(`/dev/${f.name} is not a block device here`);
  dir = mkdtempSync(join(tmpdir(), "mfL-select-"));
  sys = join(dir, "sys");
  fakeSysfs();
  // The installer's functions without its last line (`main "$@"`).
  functions = join(dir, "functions.sh");
  writeFileSync(functions, readFileSync(installerInitPath(), "utf8").replace(/\nmain "\$@"\n*$/, "\n"));
});

afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe("match_disks in the installer's shell, case by case as disk-select.ts", () => {
  it.each(CASES.map((c, k) => [c.name, c, k] as const))("%s", (_n, c, k) => {
    const got = shellSelect(c, k);
    if (Array.isArray(c.expect)) {
      expect(got, got.message).toMatchObject({ code: 0, devices: c.expect.map((d) => `/dev/${d}`) });
      return;
    }
    expect(got.code).toBe(1);
    const phrase = c.expect.reason === "ambiguous" ? `disk ${c.expect.disk} is ambiguous: ${c.expect.candidates.length} disks match` : `disk ${c.expect.disk} not found (`;
    expect(got.message).toContain(phrase);
    const listed = [...(/candidates:(.*)/.exec(got.message)?.[1] ?? "").matchAll(/\/dev\/(loop\d+) \(/g)].map((m) => m[1]);
    expect(listed).toEqual(c.expect.candidates);
  });

  it("lists each candidate with the facts it was judged by", () => {
    const got = shellSelect(
      CASES.find((c) => c.name.startsWith("ambiguous: two SSDs"))!,
      99,
    );
    expect(got.message).toContain(
      "/dev/loop1 (515396075520 bytes, serial S3Z1NB0K100001, wwn , model Samsung SSD 860 EVO 500GB, vendor ATA, rotational 0, path pci-0000:00:1f.2-ata-1)",
    );
    expect(got.message).toMatch(/\(device=any minSize=any serial=any model=ssd\)/);
  });
});
