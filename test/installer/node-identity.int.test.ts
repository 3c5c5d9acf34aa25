// The real installer /init against a loop device: it finds the installed system's
// network stack and writes only that stack's files; it gives the node its own
// machine-id and SSH host keys (made by the image's own ssh-keygen, run in a chroot)
// and keeps both across syncs while the image changes underneath; root's authorized
// keys come from the plan. The image switches stacks between syncs the way a real one
// would: its programs and enablement links come and go with rsync --delete.
import { execFileSync } from "node:child_process";
import { chmodSync, copyFileSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, unlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { renderInstallPlan } from "../../src/boot/install-plan.js";
import type { DiskLayout } from "../../src/config/types.js";
import { sharedLibraries } from "../../src/installer/tools.js";
import { image as baseImage, network, node } from "../boot/fixtures.js";
import { cleanupStaleLoops, LoopDisk, makeImage, requireTools, runInstaller, startApi, startRsyncDaemon, withMounted, type ApiServer, type RsyncDaemon } from "./harness.js";

const MiB = 1024 * 1024;
const KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGQ3y0mWm0Jm3Y8x0d6oN0c8m1sS4cXoQ7bVn9rT2kLp ops@head";
let dir: string;
let img: string;
let disk: LoopDisk;
let api: ApiServer;
let rsyncd: RsyncDaemon;

const layout: DiskLayout = {
  name: "one",
  pos: { file: "t.yaml", line: 1, col: 1 },
  raid: [],
  disks: [
    { name: "sda", match: { minSize: 64 * MiB }, table: "gpt", partitions: [{ name: "root", size: { kind: "rest" }, fs: "ext4", type: "linux", mount: "/", mountOptions: [] }] },
  ],
};

/** An executable stand-in for a program the detection looks for. */
function program(rel: string): void {
  mkdirSync(dirname(join(img, rel)), { recursive: true });
  writeFileSync(join(img, rel), "#!/bin/sh\nexit 0\n", { mode: 0o755 });
}

function remove(...rels: string[]): void {
  for (const r of rels) rmSync(join(img, r), { force: true });
}

/** The host's ssh-keygen with its shared libraries, so the installer's chroot can run it. */
function installSshKeygen(): void {
  const bin = "/usr/bin/ssh-keygen";
  for (const f of [bin, ...sharedLibraries(bin)]) {
    mkdirSync(dirname(join(img, f)), { recursive: true });
    copyFileSync(f, join(img, f));
    chmodSync(join(img, f), 0o755);
  }
  mkdirSync(join(img, "etc/ssh"), { recursive: true });
  writeFileSync(join(img, "etc/passwd"), "root:x:0:0:root:/root:/bin/sh\n"); // ssh-keygen looks root up
  // The image's own host key and machine-id: a node must never get these.
  writeFileSync(join(img, "etc/ssh/ssh_host_ed25519_key"), "the image's key\n", { mode: 0o600 });
  writeFileSync(join(img, "etc/machine-id"), "0123456789abcdef0123456789abcdef\n");
}

async function install(): Promise<{ configure: string; read: (cmd: string) => string }> {
  api.plans.set(
    "node001",
    renderInstallPlan({
      node: node({ sshAuthorizedKeys: [KEY] }),
      layout,
      image: { ...baseImage, excludeSync: [], excludeFull: [] },
      network,
      imageDigest: "sha256:" + "cd".repeat(32),
      rsyncUrl: rsyncd.url("img"),
      apiUrl: api.nodeUrl("node001"),
      nodeCredential: "test-node-credential",
    }),
  );
  const run = await runInstaller({ api, node: "node001", disks: [disk.dev], work: join(dir, `w${Date.now()}`) });
  expect(run.code, run.output).toBe(0);
  const configure = run.reports.find((r) => r.step === "configure" && r.status === "finished")?.message ?? "";
  disk.partitions();
  return { configure, read: (cmd: string) => withMounted(disk.part(1), cmd, dir) };
}

const IDENTITY = "cat etc/machine-id; cat etc/ssh/ssh_host_ed25519_key.pub; ls etc/ssh | grep -c '^ssh_host_'";

beforeAll(async () => {
  requireTools("sfdisk", "mkfs.ext4", "e2fsck", "blkid", "partx", "losetup", "unshare", "rsync", "wget");
  cleanupStaleLoops();
  dir = mkdtempSync(join(tmpdir(), "mfin-ident-"));
  img = join(dir, "image");
  makeImage(img, 4, 4096);
  installSshKeygen();
  disk = LoopDisk.create(dir, "disk0.img", 256 * MiB);
  api = await startApi();
  rsyncd = await startRsyncDaemon(dir, { img });
}, 60_000);

afterAll(async () => {
  disk?.detach();
  await rsyncd?.stop();
  await api?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

let identity = "";

describe.sequential("node identity and the network stack, installer against a loop device", () => {
  it("ifupdown with udev: interfaces for prov0 and the .link naming it by MAC; own machine-id and host keys; root's keys", async () => {
    program("usr/lib/systemd/systemd");
    // As in Debian 12 (systemd-udevd -> /bin/udevadm): an absolute link, to be followed
    // inside the installed system (the target exists nowhere else).
    program("usr/libexec/mf-test-udevadm");
    symlinkSync("/usr/libexec/mf-test-udevadm", join(img, "usr/lib/systemd/systemd-udevd"));
    program("usr/lib/systemd/systemd-networkd");
    program("sbin/ifup");
    const { configure, read } = await install();
    expect(configure).toMatch(/network ifupdown$/);
    const text = read(
      "cat etc/network/interfaces etc/systemd/network/10-metalform.link; ls etc/systemd/network; stat -c '%a %n' root/.ssh root/.ssh/authorized_keys; cat root/.ssh/authorized_keys",
    );
    expect(text).toContain("iface prov0 inet static");
    expect(text).toMatch(/\[Match\]\nMACAddress=52:54:00:12:34:01\n\n\[Link\]\nName=prov0/);
    expect(text).not.toContain("10-metalform.network");
    expect(text).toContain("700 root/.ssh\n600 root/.ssh/authorized_keys\n");
    expect(text).toContain(KEY);
    identity = read(IDENTITY);
    const [machineId, pub, count] = identity.trim().split("\n");
    expect(machineId).toMatch(/^[0-9a-f]{32}$/);
    expect(machineId).not.toBe("0123456789abcdef0123456789abcdef");
    expect(pub).toMatch(/^ssh-ed25519 AAAA/);
    expect(Number(count)).toBeGreaterThanOrEqual(6); // rsa, ecdsa, ed25519: key and .pub each
  }, 120_000);

  it("networkd, chosen because systemd has it and nothing else is there: the .network by MAC and networkd enabled; identity kept", async () => {
    remove("sbin/ifup");
    writeFileSync(join(img, "etc/motd"), "image version 2\n");
    const { configure, read } = await install();
    expect(configure).toMatch(/network networkd$/);
    const text = read(
      "cat etc/systemd/network/10-metalform.network; readlink etc/systemd/system/multi-user.target.wants/systemd-networkd.service etc/systemd/system/network-online.target.wants/systemd-networkd-wait-online.service",
    );
    expect(text).toMatch(/\[Match\]\nMACAddress=52:54:00:12:34:01\n\n\[Network\]\nAddress=10\.141\.0\.11\/16\n/);
    expect(text).toContain("/usr/lib/systemd/system/systemd-networkd.service\n/usr/lib/systemd/system/systemd-networkd-wait-online.service");
    expect(read(IDENTITY)).toBe(identity);
  }, 120_000);

  it("NetworkManager when enabled: a 0600 keyfile bound to the MAC; identity kept", async () => {
    program("usr/sbin/NetworkManager");
    mkdirSync(join(img, "etc/systemd/system/multi-user.target.wants"), { recursive: true });
    symlinkSync("/usr/lib/systemd/system/NetworkManager.service", join(img, "etc/systemd/system/multi-user.target.wants/NetworkManager.service"));
    const { configure, read } = await install();
    expect(configure).toMatch(/network networkmanager$/);
    const text = read("stat -c '%a' etc/NetworkManager/system-connections/metalform.nmconnection; cat etc/NetworkManager/system-connections/metalform.nmconnection");
    expect(text).toMatch(/^600\n/);
    expect(text).toContain("mac-address=52:54:00:12:34:01");
    expect(text).toContain("address1=10.141.0.11/16,10.141.0.1");
    expect(read(IDENTITY)).toBe(identity);
  }, 120_000);

  it("netplan wins over the backend it drives; identity kept", async () => {
    program("usr/sbin/netplan");
    const { configure, read } = await install();
    expect(configure).toMatch(/network netplan$/);
    expect(read("cat etc/netplan/90-metalform.yaml")).toContain('macaddress: "52:54:00:12:34:01"');
    expect(read(IDENTITY)).toBe(identity);
  }, 120_000);

  it("a busybox image (no udev, no systemd): interfaces with the kernel's name and the networkd unit, as before", async () => {
    remove(
      "usr/sbin/netplan",
      "usr/sbin/NetworkManager",
      "usr/lib/systemd/systemd",
      "usr/lib/systemd/systemd-udevd",
      "usr/libexec/mf-test-udevadm",
      "usr/lib/systemd/systemd-networkd",
    );
    unlinkSync(join(img, "etc/systemd/system/multi-user.target.wants/NetworkManager.service"));
    program("sbin/ifup");
    const { configure, read } = await install();
    expect(configure).toMatch(/network unknown$/);
    const text = read("cat etc/network/interfaces etc/systemd/network/10-metalform.network");
    expect(text).toContain("iface eth0 inet static");
    expect(text).toContain("MACAddress=52:54:00:12:34:01");
    expect(read(IDENTITY)).toBe(identity);
    // The image's own key never reached the node.
    expect(execFileSync("cat", [join(img, "etc/ssh/ssh_host_ed25519_key")], { encoding: "utf8" })).toBe("the image's key\n");
    expect(read("cat etc/ssh/ssh_host_ed25519_key")).not.toContain("the image's key");
  }, 120_000);
});
