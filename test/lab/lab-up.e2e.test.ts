// `lab up --nodes 1` for real: namespace and bridges, a VM under its ipmi_sim BMC,
// power really controlled over IPMI, the VM's iPXE firmware really sending a DHCP
// DISCOVER on the bridge, router advertisements on the segment, and `lab down` (twice).
import { spawn } from "node:child_process";
import { existsSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadCluster } from "../../src/config/load.js";
import { imageInitramfs, IPMI_MODULES, labDown, labExec, labIpmitool, labStatus, labUp, labConsole, modulePaths, vmPid } from "../../src/lab/index.js";
import type { LabInfo } from "../../src/lab/index.js";
import { processAlive } from "../../src/lab/run.js";
import { cleanupStale, LAB_TOOLS, requireTools, tempLabDir, uniqueNamespace } from "./helpers/lab-env.js";

const TAG = "u";
const ns = uniqueNamespace(TAG);
const dir = tempLabDir(TAG);
const opts = { namespace: ns, dir, nodes: 1, memoryMiB: 256, powerOn: false };
let lab: LabInfo;
const timings: Record<string, number> = {};

async function ip(args: string[]): Promise<string> {
  const r = await labExec(opts, ["ip", ...args], { capture: true });
  if (r.code !== 0) throw new Error(`ip ${args.join(" ")}: ${r.stderr}`);
  return r.stdout;
}

/** Starts tcpdump in the namespace; resolves with its text once it has seen `count` packets. */
function capture(filter: string, count: number, timeoutMs: number): { ready: Promise<void>; done: Promise<string> } {
  const child = spawn("ip", ["netns", "exec", ns, "tcpdump", "-i", lab.bridge, "-n", "-e", "-vv", "-l", "-c", String(count), filter], { stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  let err = "";
  let readyResolve!: () => void;
  const ready = new Promise<void>((r) => (readyResolve = r));
  child.stdout.on("data", (b: Buffer) => (out += b.toString()));
  child.stderr.on("data", (b: Buffer) => {
    err += b.toString();
    if (/listening on/.test(err)) readyResolve();
  });
  const done = new Promise<string>((resolve, reject) => {
    const t = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`no packet matching "${filter}" within ${timeoutMs} ms; tcpdump said: ${err}`));
    }, timeoutMs);
    child.on("close", () => {
      clearTimeout(t);
      resolve(out);
    });
  });
  return { ready, done };
}

beforeAll(async () => {
  requireTools(LAB_TOOLS);
  cleanupStale(TAG);
  const t = Date.now();
  lab = await labUp(opts);
  timings.labUpMs = Date.now() - t;
}, 300_000);

afterAll(async () => {
  await labDown({ namespace: ns, dir });
  rmSync(dirname(dir), { recursive: true, force: true });
  console.log(`lab timings (ms): ${JSON.stringify(timings)}`);
}, 60_000);

describe("lab up --nodes 1", () => {
  it("creates the namespace, the bridge with the head address, the BMC network and the VM's tap", async () => {
    expect(lab.namespace).toBe(ns);
    const addrs = await ip(["-4", "-o", "addr", "show"]);
    expect(addrs).toMatch(new RegExp(`${lab.bridge}\\s+inet 10\\.77\\.0\\.1/24`));
    expect(addrs).toMatch(/inet 10\.78\.0\.11\/32/);
    const links = await ip(["-o", "link", "show"]);
    expect(links).toMatch(new RegExp(`mftap1.*master ${lab.bridge}`));
    expect(lab.nodes).toHaveLength(1);
    expect(lab.nodes[0]).toMatchObject({ name: "lab1", mac: "52:54:00:4d:46:01", ip: "10.77.0.11", bmcAddress: "10.78.0.11" });
  });

  it("keeps the BMC password in a 0600 file and out of the cluster configuration", () => {
    expect(statSync(lab.bmcPasswordFile).mode & 0o777).toBe(0o600);
    const pw = readFileSync(lab.bmcPasswordFile, "utf8").trim();
    expect(pw).toMatch(/^[A-Za-z0-9]{16}$/);
    const yaml = readFileSync(lab.configPath, "utf8");
    expect(yaml).not.toContain(pw);
    expect(yaml).toContain(lab.bmcPasswordFile);
  });

  it("writes a cluster configuration metalform loads, with the lab's real MAC, IP and BMC", async () => {
    const r = await loadCluster(lab.configPath);
    const errors = r.diagnostics.filter((d) => d.severity === "error");
    expect(errors).toEqual([]);
    const node = r.cluster!.nodes.find((n) => n.name === "lab1");
    expect(node).toMatchObject({ mac: "52:54:00:4d:46:01", ip: "10.77.0.11" });
    expect(node?.bmc).toMatchObject({ driver: "ipmi", address: "10.78.0.11", port: 623, user: "admin", password: { kind: "file", path: lab.bmcPasswordFile } });
    expect(r.cluster!.network.interface).toBe(lab.bridge);
    expect(existsSync(lab.kernel.path)).toBe(true);
    expect(existsSync(`${lab.imageRoot}/boot/vmlinuz`)).toBe(true);
  });

  it("powers the VM on through its BMC, and the VM's iPXE sends a DHCP DISCOVER on the bridge", async () => {
    expect(vmPid(lab.nodes[0]!)).toBeUndefined();
    const off = await labIpmitool(lab, "lab1", ["chassis", "power", "status"]);
    expect(off.stdout).toContain("Chassis Power is off");
    const cap = capture("udp dst port 67", 1, 90_000);
    await cap.ready;
    const t = Date.now();
    const on = await labIpmitool(lab, "lab1", ["chassis", "power", "on"]);
    expect(on.code, on.stderr).toBe(0);
    const pkt = await cap.done;
    timings.powerOnToDhcpDiscoverMs = Date.now() - t;
    expect(pkt.toLowerCase()).toContain("52:54:00:4d:46:01");
    expect(pkt).toMatch(/DHCP-Message[^\n]*Discover/);
    // iPXE identifies itself: PXEClient vendor class, BIOS architecture (option 93 = 0).
    expect(pkt).toMatch(/Vendor-Class[^\n]*PXEClient/);
    expect(pkt).toMatch(/ARCH \(93\), length 2: 0\b/);
  }, 120_000);

  it("sends IPv6 router advertisements on the bridge", async () => {
    // radvd advertises every 3-10 s (and answers router solicitations).
    const cap = capture("icmp6 and ip6[40] == 134", 1, 30_000);
    await cap.ready;
    const t = Date.now();
    const out = await cap.done;
    timings.firstRouterAdvertisementMs = Date.now() - t;
    expect(out).toMatch(/router advertisement/);
  }, 40_000);

  it("reports the VM on through the BMC and lab status", async () => {
    const r = await labIpmitool(lab, "lab1", ["chassis", "power", "status"]);
    expect(r.stdout).toContain("Chassis Power is on");
    const st = await labStatus({ ...opts, queryBmc: true });
    expect(st.namespaceExists).toBe(true);
    expect(st.radvdRunning).toBe(true);
    expect(st.nodes[0]).toMatchObject({ name: "lab1", vmRunning: true, bmcRunning: true, power: "on" });
  });

  it("accepts chassis bootdev pxe (what metalform's power driver sends)", async () => {
    const r = await labIpmitool(lab, "lab1", ["chassis", "bootdev", "pxe"]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain("Set Boot Device to pxe");
    const g = await labIpmitool(lab, "lab1", ["chassis", "bootparam", "get", "5"]);
    expect(g.stdout).toContain("Force PXE");
  });

  it("power off really stops the VM's QEMU process, power on starts it again, cycle restarts it", async () => {
    const before = vmPid(lab.nodes[0]!);
    expect(before).toBeDefined();
    const off = await labIpmitool(lab, "lab1", ["chassis", "power", "off"]);
    expect(off.code, off.stderr).toBe(0);
    expect(vmPid(lab.nodes[0]!)).toBeUndefined();
    // Gone, or a zombie waiting for PID 1 to reap it.
    expect(processAlive(before!)).toBe(false);
    expect((await labIpmitool(lab, "lab1", ["chassis", "power", "status"])).stdout).toContain("Chassis Power is off");

    await labIpmitool(lab, "lab1", ["chassis", "power", "on"]);
    const again = vmPid(lab.nodes[0]!);
    expect(again).toBeDefined();
    expect(again).not.toBe(before);
    expect((await labIpmitool(lab, "lab1", ["chassis", "power", "status"])).stdout).toContain("Chassis Power is on");

    const cyc = await labIpmitool(lab, "lab1", ["chassis", "power", "cycle"]);
    expect(cyc.code, cyc.stderr).toBe(0);
    // ipmi_sim powers off now and on again after 1 s.
    const start = Date.now();
    let third: number | undefined;
    while (Date.now() - start < 10_000) {
      third = vmPid(lab.nodes[0]!);
      if (third && third !== again) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(third).toBeDefined();
    expect(third).not.toBe(again);
  }, 60_000);

  it("refuses a wrong BMC password", async () => {
    const r = await labExec(
      opts,
      ["ipmitool", "-I", "lanplus", "-C", "3", "-H", "10.78.0.11", "-U", "admin", "-P", "wrong-password", "-R", "1", "-N", "1", "chassis", "power", "status"],
      { capture: true },
    );
    expect(r.code).not.toBe(0);
    expect(r.stdout).not.toContain("Chassis Power is");
  });

  it("shows the serial console, where the firmware printed its boot", () => {
    const c = labConsole(opts, "lab1");
    expect(c.path).toBe(lab.nodes[0]!.serialLog);
    expect(c.content).toContain("iPXE");
  });

  it("gives the guest a real BMC over KCS: the lab kernel's ipmi_si finds ipmi_sim's MC", async () => {
    // The node's own VM holds the BMC's VM port while it runs: power it off first.
    await labIpmitool(lab, "lab1", ["chassis", "power", "off"]);
    expect(vmPid(lab.nodes[0]!)).toBeUndefined();
    const v = lab.kernel.version;
    const overlay: Record<string, { content: Buffer | string; mode?: number }> = {};
    for (const rel of modulePaths(lab.kernel.modulesDir, IPMI_MODULES)) overlay[`lib/modules/${v}/${rel}`] = { content: readFileSync(join(lab.kernel.modulesDir, rel)) };
    overlay["etc/init.d/S10ipmi"] = {
      mode: 0o755,
      content: `#!/bin/sh\nfor m in ${IPMI_MODULES.join(" ")}; do modprobe $m; done\nsleep 1\n[ -c /dev/ipmi0 ] && echo "ipmi-check: /dev/ipmi0 present"\n`,
    };
    // The image's modules.dep does not list the ipmi modules: add their lines.
    const dep = readFileSync(join(lab.imageRoot, "lib/modules", v, "modules.dep"), "utf8");
    const kdep = readFileSync(join(lab.kernel.modulesDir, "modules.dep"), "utf8")
      .split("\n")
      .filter((l) => /\/ipmi_(msghandler|devintf|si)\.ko:/.test(l));
    overlay[`lib/modules/${v}/modules.dep`] = { content: dep + kdep.join("\n") + "\n" };
    const initrd = join(lab.dir, "kcs-test.cpio.gz");
    writeFileSync(initrd, imageInitramfs(lab.imageRoot, overlay));
    const serial = join(lab.dir, "kcs-test.serial.log");
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
        "-nographic",
        "-monitor",
        "none",
        "-no-reboot",
        "-nic",
        "none",
        "-serial",
        `file:${serial}`,
        "-kernel",
        lab.kernel.path,
        "-initrd",
        initrd,
        "-append",
        "console=ttyS0 rdinit=/sbin/init",
        "-chardev",
        "socket,id=ipmi0,host=127.0.0.1,port=9100,reconnect=2",
        "-device",
        "ipmi-bmc-extern,id=bmc0,chardev=ipmi0",
        "-device",
        "isa-ipmi-kcs,bmc=bmc0",
      ],
      { stdio: "ignore" },
    );
    let log = "";
    try {
      while (Date.now() - t0 < 60_000) {
        log = existsSync(serial) ? readFileSync(serial, "utf8") : "";
        if (log.includes("ipmi-check:") || log.includes("metalform lab image:")) break;
        await new Promise((r) => setTimeout(r, 200));
      }
    } finally {
      vm.kill("SIGKILL");
    }
    // man_id 0x001291 / prod_id 0x0f02: the MC our bmc.emu defines.
    expect(log, log.slice(-3000)).toMatch(/Found new BMC \(man_id: 0x001291, prod_id: 0x0f02/);
    expect(log).toContain("ipmi-check: /dev/ipmi0 present");
  }, 90_000);

  it("refuses a second lab up on the same namespace", async () => {
    await expect(labUp(opts)).rejects.toThrow(/exists already|lab down/);
  });
});

describe("lab down", () => {
  it("removes the VM, the BMC, the namespace and the lab directory, and succeeds a second time", async () => {
    const pid = vmPid(lab.nodes[0]!);
    const bmc = lab.nodes[0]!.bmcPid!;
    const first = await labDown({ namespace: ns, dir });
    expect(first.removed).toBe(true);
    for (const p of [pid, bmc]) expect(processAlive(p!)).toBe(false);
    const st = await labStatus({ namespace: ns, dir });
    expect(st.namespaceExists).toBe(false);
    expect(existsSync(dir)).toBe(false);
    const second = await labDown({ namespace: ns, dir });
    expect(second.removed).toBe(false);
  }, 60_000);
});
