// The lab image and kernel work: the image is built the same twice, and booted
// straight from the lab kernel (the image as an initramfs, on a tap in a namespace)
// its init brings the network up from /etc/network/interfaces and its reporter POSTs
// UP with the node name and image digest to a real HTTP listener in the namespace.
import { spawn, type ChildProcess } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, readlinkSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  buildLabImage,
  defaultCacheDir,
  ensureLabKernel,
  imageInitramfs,
  IPMI_MODULES,
  modulePaths,
  VIRTIO_EXT4_MODULES,
  type LabImage,
  type LabKernel,
} from "../../src/lab/index.js";
import { createLabNetwork, destroyLabNetwork } from "../../src/lab/network.js";
import { runCommand } from "../../src/lab/run.js";
import { cleanupStale, requireTools, tempLabDir, uniqueNamespace } from "./helpers/lab-env.js";

const TAG = "i";
const ns = uniqueNamespace(TAG);
const dir = tempLabDir(TAG);
let kernel: LabKernel;
let image: LabImage;
const children: ChildProcess[] = [];

/** A digest of a whole tree: paths, modes, mtimes, link targets and contents. */
function treeDigest(root: string): string {
  const h = createHash("sha256");
  const walk = (rel: string) => {
    for (const n of readdirSync(join(root, rel)).sort()) {
      const r = rel ? `${rel}/${n}` : n;
      const st = lstatSync(join(root, r));
      h.update(`${r}\0${st.mode}\0${Math.floor(st.mtimeMs / 1000)}\0`);
      if (st.isSymbolicLink()) h.update(readlinkSync(join(root, r)));
      else if (st.isDirectory()) walk(r);
      else h.update(readFileSync(join(root, r)));
    }
  };
  walk("");
  return h.digest("hex");
}

beforeAll(async () => {
  requireTools({ "qemu-system-x86_64": "qemu-system-x86", busybox: "busybox-static", ip: "iproute2", "dpkg-deb": "dpkg", "apt-get": "apt" });
  cleanupStale(TAG);
  mkdirSync(dir, { recursive: true });
  kernel = await ensureLabKernel(defaultCacheDir());
  image = await buildLabImage({ root: join(dir, "image"), kernel });
}, 300_000);

afterAll(async () => {
  for (const c of children) if (c.exitCode === null) c.kill("SIGKILL");
  await destroyLabNetwork(ns);
  rmSync(join(dir, ".."), { recursive: true, force: true });
}, 60_000);

describe("lab kernel and image", () => {
  it("unpacks Debian's kernel with a modules.dep that knows the virtio and ext4 modules", () => {
    expect(existsSync(kernel.path)).toBe(true);
    expect(kernel.version).toMatch(/^\d+\.\d+\.\d+-\d+-amd64$/);
    const paths = modulePaths(kernel.modulesDir, VIRTIO_EXT4_MODULES);
    expect(paths).toHaveLength(VIRTIO_EXT4_MODULES.length);
    expect(paths.find((p) => p.endsWith("/ext4.ko"))).toBeDefined();
    expect(() => modulePaths(kernel.modulesDir, ["no_such_module_xyz"])).toThrow(/no_such_module_xyz/);
  });

  it("builds a busybox image with the kernel, its modules, init and the UP reporter", () => {
    const r = image.root;
    expect(readlinkSync(join(r, "sbin/init"))).toBe("/bin/busybox");
    expect(readFileSync(join(r, "boot/vmlinuz")).equals(readFileSync(kernel.path))).toBe(true);
    expect(readFileSync(join(r, "etc/inittab"), "utf8")).toContain("::sysinit:/etc/init.d/rcS");
    expect(lstatSync(join(r, "etc/metalform/report-up")).mode & 0o777).toBe(0o700);
    const dep = readFileSync(join(r, "lib/modules", kernel.version, "modules.dep"), "utf8");
    for (const m of VIRTIO_EXT4_MODULES) expect(dep).toMatch(new RegExp(`/${m}\\.ko:`));
    // The IPMI modules ride along for the installer (its bmc step), not loaded by the image itself.
    for (const m of IPMI_MODULES) expect(dep).toMatch(new RegExp(`/${m}\\.ko:`));
    expect(readFileSync(join(r, "etc/modules"), "utf8")).not.toContain("ipmi");
    expect(existsSync(join(r, "boot/initrd.img"))).toBe(true);
  });

  it("is deterministic: a rebuild gives the same tree, byte for byte, mode and mtime", async () => {
    const again = await buildLabImage({ root: join(dir, "image2"), kernel, rebuild: true });
    expect(treeDigest(again.root)).toBe(treeDigest(image.root));
  }, 60_000);

  it("boots from the lab kernel, brings eth0 up and POSTs UP with its name and digest", async () => {
    await createLabNetwork({
      namespace: ns,
      bridge: "mfbr0",
      bridgeMac: "52:54:00:4d:46:00",
      headAddress: "10.77.0.1",
      prefixLength: 24,
      bmcInterface: "mfbmc0",
      bmcHeadAddress: "10.78.0.1",
      bmcPrefixLength: 24,
      bmcAddresses: [],
      taps: ["mftap1"],
    });
    const port = 18080;
    // The head node's side: a node:http listener inside the namespace printing each request.
    const server = spawn(
      "ip",
      [
        "netns",
        "exec",
        ns,
        process.execPath,
        "-e",
        `require("http").createServer((q, s) => { let b = ""; q.on("data", (d) => (b += d)); q.on("end", () => { console.log(JSON.stringify({ method: q.method, url: q.url, auth: q.headers.authorization, body: b })); s.end("ok"); }); }).listen(${port}, "10.77.0.1", () => console.log("listening"));`,
      ],
      { stdio: ["ignore", "pipe", "pipe"] },
    );
    children.push(server);
    let out = "";
    server.stdout.on("data", (b: Buffer) => (out += b.toString()));
    const until = async (pred: () => boolean, ms: number) => {
      const end = Date.now() + ms;
      while (!pred() && Date.now() < end) await new Promise((r) => setTimeout(r, 100));
      return pred();
    };
    expect(await until(() => out.includes("listening"), 10_000)).toBe(true);

    const digest = "sha256:" + "ab".repeat(32);
    const initrd = join(dir, "boot-test.cpio.gz");
    writeFileSync(
      initrd,
      imageInitramfs(image.root, {
        "etc/hostname": { content: "lab1\n" },
        "etc/network/interfaces": { content: "auto lo\niface lo inet loopback\n\nauto eth0\niface eth0 inet static\n\taddress 10.77.0.11\n\tnetmask 255.255.255.0\n" },
        "etc/metalform/api": { content: `http://10.77.0.1:${port}/api/v1/installer/nodes/lab1/up\n` },
        "etc/metalform/token": { content: "up-token-1\n", mode: 0o600 },
        "etc/metalform/image-digest": { content: digest + "\n" },
      }),
    );
    const serial = join(dir, "boot-test.serial.log");
    const t0 = Date.now();
    const vm = spawn(
      "ip",
      [
        "netns",
        "exec",
        ns,
        "qemu-system-x86_64",
        "-machine",
        "pc",
        "-accel",
        "tcg",
        "-cpu",
        "max",
        "-m",
        "256",
        "-smp",
        "1",
        "-nographic",
        "-monitor",
        "none",
        "-no-reboot",
        "-serial",
        `file:${serial}`,
        "-kernel",
        image.kernel,
        "-initrd",
        initrd,
        "-append",
        "console=ttyS0 rdinit=/sbin/init panic=-1",
        "-netdev",
        "tap,id=n0,ifname=mftap1,script=no,downscript=no",
        "-device",
        "virtio-net-pci,netdev=n0,mac=52:54:00:4d:46:01,romfile=",
      ],
      { stdio: "ignore" },
    );
    children.push(vm);
    const got = await until(() => out.includes('"method"'), 90_000);
    const ms = Date.now() - t0;
    const console_ = existsSync(serial) ? readFileSync(serial, "utf8") : "";
    expect(got, `no UP report; serial console:\n${console_.slice(-3000)}`).toBe(true);
    console.log(`lab image: kernel start -> UP report ${ms} ms`);
    const req = JSON.parse(out.split("\n").find((l) => l.includes('"method"'))!) as { method: string; url: string; auth: string; body: string };
    expect(req.method).toBe("POST");
    expect(req.url).toBe("/api/v1/installer/nodes/lab1/up");
    expect(req.auth).toBe("Bearer up-token-1");
    expect(JSON.parse(req.body)).toEqual({ node: "lab1", status: "up", imageDigest: digest, image: digest });
    // The guest's address came from /etc/network/interfaces: it answers on it.
    const ping = await runCommand(["ip", "netns", "exec", ns, "busybox", "ping", "-c", "1", "-W", "2", "10.77.0.11"]);
    expect(ping.code, ping.stdout + ping.stderr).toBe(0);
    expect(readFileSync(serial, "utf8")).toContain("metalform lab image: lab1 up");
  }, 120_000);

  it("boots an installed disk through its own initrd: root=LABEL=root, modules, switch_root, init", async () => {
    // An ext4 file system holding the image, as the installer leaves it (mkfs.ext4 -d copies the tree).
    const disk = join(dir, "installed.raw");
    const mk = await runCommand(["mkfs.ext4", "-q", "-F", "-L", "root", "-d", image.root, disk, "128M"]);
    expect(mk.code, mk.stderr).toBe(0);
    const serial = join(dir, "local-boot.serial.log");
    const t0 = Date.now();
    const vm = spawn(
      "qemu-system-x86_64",
      [
        "-machine",
        "pc",
        "-accel",
        "tcg",
        "-cpu",
        "max",
        "-m",
        "256",
        "-smp",
        "1",
        "-nographic",
        "-monitor",
        "none",
        "-no-reboot",
        "-nic",
        "none",
        "-serial",
        `file:${serial}`,
        "-kernel",
        image.kernel,
        "-initrd",
        image.initrd,
        "-append",
        "console=ttyS0 root=LABEL=root panic=-1",
        "-drive",
        `file=${disk},if=virtio,format=raw`,
      ],
      { stdio: "ignore" },
    );
    children.push(vm);
    const end = Date.now() + 60_000;
    let log = "";
    while (Date.now() < end) {
      log = existsSync(serial) ? readFileSync(serial, "utf8") : "";
      if (log.includes("metalform lab image:") || log.includes("cannot mount")) break;
      await new Promise((r) => setTimeout(r, 200));
    }
    vm.kill("SIGKILL");
    expect(log, log.slice(-3000)).toContain("metalform lab image: lab up");
    expect(log).not.toContain("cannot mount");
    console.log(`lab image: local disk boot -> init ${Date.now() - t0} ms`);
  }, 90_000);
});
