// The lab's pure parts: options and addressing, the cpio writer (read back by a real
// cpio), ipmi_sim's configuration, the QEMU command line and the cluster configuration.
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync, mkdirSync, symlinkSync, chmodSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parse } from "yaml";
import { describe, expect, it } from "vitest";
import { controlScript, randomBmcPassword, renderLanConf } from "../../src/lab/bmc.js";
import { prefixToNetmask, renderLabConfig } from "../../src/lab/cluster-config.js";
import { S_IFDIR, S_IFLNK, S_IFREG, treeEntries, writeCpio } from "../../src/lab/cpio.js";
import { hostAddress, nodeMac, resolveLabOptions } from "../../src/lab/options.js";
import { qemuArgv, vmStartScript } from "../../src/lab/qemu.js";
import { radvdConfig } from "../../src/lab/network.js";

describe("lab options", () => {
  it("has the documented defaults", () => {
    const o = resolveLabOptions();
    expect(o).toMatchObject({
      namespace: "mflab",
      nodes: 3,
      bridge: "mfbr0",
      headAddress: "10.77.0.1",
      prefixLength: 24,
      bmcHeadAddress: "10.78.0.1",
      bmcPort: 623,
      memoryMiB: 512,
    });
    expect(o.dir).toMatch(/metalform\/lab\/mflab$/);
  });

  it("derives deterministic MACs and addresses", () => {
    expect(nodeMac("52:54:00:4d:46", 1)).toBe("52:54:00:4d:46:01");
    expect(nodeMac("52:54:00:4d:46", 26)).toBe("52:54:00:4d:46:1a");
    expect(hostAddress("10.77.0.1", 24, 11)).toBe("10.77.0.11");
    expect(hostAddress("10.141.255.254", 16, 300)).toBe("10.141.1.44");
  });

  it("refuses bad names, subnets and counts with a message naming the option", () => {
    expect(() => resolveLabOptions({ namespace: "bad name" })).toThrow(/namespace/);
    expect(() => resolveLabOptions({ nodes: 0 })).toThrow(/number of lab nodes/);
    expect(() => resolveLabOptions({ headAddress: "10.77.0.1" })).toThrow(/head address/);
    expect(() => resolveLabOptions({ headAddress: "10.77.0.1/30", nodes: 3 })).toThrow(/do not fit/);
    expect(() => resolveLabOptions({ bridge: "a-very-long-bridge-name" })).toThrow(/bridge/);
    expect(() => resolveLabOptions({ macPrefix: "52:54:00" })).toThrow(/macPrefix/);
  });
});

describe("cpio newc writer", () => {
  it("writes an archive that cpio lists and extracts with the same names, modes and contents", () => {
    const t = mkdtempSync(join(tmpdir(), "mflab-cpio-"));
    try {
      const arc = writeCpio([
        { path: "etc", mode: S_IFDIR | 0o755 },
        { path: "etc/hello", mode: S_IFREG | 0o640, data: Buffer.from("hi there\n") },
        { path: "etc/odd", mode: S_IFREG | 0o644, data: Buffer.from("12345") },
        { path: "sh", mode: S_IFLNK | 0o777, data: Buffer.from("/bin/busybox") },
      ]);
      writeFileSync(join(t, "a.cpio"), arc);
      const list = execFileSync("sh", ["-c", `busybox cpio -t < a.cpio`], { cwd: t, encoding: "utf8" });
      expect(list.trim().split("\n")).toEqual(["etc", "etc/hello", "etc/odd", "sh"]);
      mkdirSync(join(t, "x"));
      execFileSync("sh", ["-c", `busybox cpio -i -d < ../a.cpio`], { cwd: join(t, "x") });
      expect(execFileSync("cat", [join(t, "x/etc/hello")], { encoding: "utf8" })).toBe("hi there\n");
      expect(execFileSync("stat", ["-c", "%a", join(t, "x/etc/hello")], { encoding: "utf8" }).trim()).toBe("640");
      expect(execFileSync("readlink", [join(t, "x/sh")], { encoding: "utf8" }).trim()).toBe("/bin/busybox");
    } finally {
      rmSync(t, { recursive: true, force: true });
    }
  });

  it("refuses paths that climb out of the archive", () => {
    expect(() => writeCpio([{ path: "../etc/passwd", mode: S_IFREG | 0o644 }])).toThrow(/bad cpio path/);
    expect(() => writeCpio([{ path: "/", mode: S_IFDIR | 0o755 }])).toThrow(/bad cpio path/);
  });

  it("walks a tree parents first, sorted, leaving out excluded paths", () => {
    const t = mkdtempSync(join(tmpdir(), "mflab-tree-"));
    try {
      mkdirSync(join(t, "b/c"), { recursive: true });
      mkdirSync(join(t, "boot"));
      writeFileSync(join(t, "boot/vmlinuz"), "k");
      writeFileSync(join(t, "b/c/f"), "x");
      chmodSync(join(t, "b/c/f"), 0o600);
      symlinkSync("c/f", join(t, "b/l"));
      const e = treeEntries(t, ["boot"]);
      expect(e.map((x) => x.path)).toEqual(["b", "b/c", "b/c/f", "b/l"]);
      expect(e[2]!.mode).toBe(S_IFREG | 0o600);
      expect(e[3]!.mode & 0o170000).toBe(S_IFLNK);
    } finally {
      rmSync(t, { recursive: true, force: true });
    }
  });
});

describe("BMC (ipmi_sim) configuration", () => {
  const spec = { name: "lab1", address: "10.78.0.11", port: 623, serialPort: 9100, password: "Secret123", controlScript: "/lab/nodes/lab1/bmc-control.sh" };

  it("listens on the node's BMC address, hands power to the control script, links the VM port", () => {
    const c = renderLanConf(spec);
    expect(c).toContain("addr 10.78.0.11 623");
    expect(c).toContain('chassis_control "/lab/nodes/lab1/bmc-control.sh"');
    expect(c).toContain("serial 15 127.0.0.1 9100 codec VM");
    expect(c).toMatch(/user 2 true "admin" "Secret123" admin/);
  });

  it("refuses values that would break out of a lan.conf string", () => {
    expect(() => renderLanConf({ ...spec, password: 'a"b' })).toThrow(/BMC password/);
    expect(() => renderLanConf({ ...spec, controlScript: "/x\nstartcmd evil" })).toThrow(/chassis control/);
  });

  it("makes 16-character passwords from random bytes", () => {
    const p = randomBmcPassword(Buffer.from(Array.from({ length: 16 }, (_, i) => i * 17)));
    expect(p).toMatch(/^[A-Za-z0-9]{16}$/);
    expect(randomBmcPassword(Buffer.alloc(16, 1))).not.toBe(p);
  });

  it("control script answers get power from the VM's pid file and records the boot device", () => {
    const t = mkdtempSync(join(tmpdir(), "mflab-ctl-"));
    try {
      const script = join(t, "ctl.sh");
      writeFileSync(
        script,
        controlScript({ name: "lab1", dir: t, startScript: "/bin/false", pidFile: join(t, "qemu.pid"), bootFile: join(t, "boot"), qemuLog: join(t, "q.log") }),
        { mode: 0o755 },
      );
      const run = (...a: string[]) => execFileSync(script, a, { encoding: "utf8" });
      expect(run("get", "power", "boot")).toBe("power:0\nboot:pxe\n");
      run("set", "boot", "default");
      expect(run("get", "boot")).toBe("boot:default\n");
      // A pid file naming a live process that is not QEMU is not a running VM.
      writeFileSync(join(t, "qemu.pid"), String(process.pid));
      expect(run("get", "power")).toBe("power:0\n");
    } finally {
      rmSync(t, { recursive: true, force: true });
    }
  });
});

describe("QEMU command line", () => {
  const v = {
    name: "lab1",
    memoryMiB: 256,
    tap: "mftap1",
    mac: "52:54:00:4d:46:01",
    disk: "/l/disk.raw",
    serialLog: "/l/serial.log",
    pidFile: "/l/qemu.pid",
    qmpSocket: "/l/qmp.sock",
    bmcSerialPort: 9100,
  };

  it("uses TCG with -cpu max, the tap, the MAC, network-then-disk boot and the extern BMC", () => {
    const a = qemuArgv(v).join(" ");
    expect(a).toContain("-accel tcg -cpu max");
    expect(a).toContain("tap,id=n0,ifname=mftap1,script=no,downscript=no");
    expect(a).toContain("virtio-net-pci,netdev=n0,mac=52:54:00:4d:46:01");
    expect(a).toContain("-boot order=nc,reboot-timeout=5000");
    expect(a).toContain("socket,id=ipmi0,host=127.0.0.1,port=9100,reconnect=2");
    expect(a).toContain("ipmi-bmc-extern,id=bmc0,chardev=ipmi0");
    expect(a).toContain("isa-ipmi-kcs,bmc=bmc0");
    expect(a).toContain("file,id=serial0,path=/l/serial.log,append=on");
    expect(a).not.toContain("enable-kvm");
  });

  it("start script boots the disk first when the BMC's boot device is the disk", () => {
    const s = vmStartScript(v, "/l/boot-device");
    expect(s).toContain('[ "$(cat /l/boot-device 2>/dev/null)" = default ] && order=cn');
    expect(s).toContain('"order=$order,reboot-timeout=5000"');
    expect(s).toMatch(/^exec qemu-system-x86_64 /m);
  });
});

describe("router advertisements", () => {
  it("advertise no prefix, no default route and no DHCPv6", () => {
    const c = radvdConfig("mfbr0");
    expect(c).toContain("interface mfbr0");
    expect(c).toContain("AdvDefaultLifetime 0;");
    expect(c).toContain("AdvManagedFlag off;");
    expect(c).toContain("AdvOtherConfigFlag off;");
    expect(c).not.toMatch(/prefix\s/);
  });
});

describe("lab cluster configuration", () => {
  it("names the bridge, the real MACs and BMC addresses, and the password only as a file", () => {
    const y = renderLabConfig({
      clusterName: "mflab",
      bridge: "mfbr0",
      headAddress: "10.77.0.1",
      prefixLength: 24,
      imageRoot: "/lab/image",
      kernel: "/lab/image/boot/vmlinuz",
      initrd: "/lab/image/boot/initrd.img",
      bmcPasswordFile: "/lab/bmc-password",
      bmcUser: "admin",
      bmcPort: 623,
      bmcNetmask: prefixToNetmask(24),
      ports: { http: 8080 },
      nodes: [
        { name: "lab1", mac: "52:54:00:4d:46:01", ip: "10.77.0.11", bmcAddress: "10.78.0.11" },
        { name: "lab2", mac: "52:54:00:4d:46:02", ip: "10.77.0.12", bmcAddress: "10.78.0.12" },
      ],
    });
    // eslint-disable-next-line @typescript-eslint/no-explicit-any -- YAML read back: the assertions below are its type check
    const d = parse(y) as Record<string, any>;
    expect(d.network).toMatchObject({ interface: "mfbr0", address: "10.77.0.1/24", ports: { http: 8080 } });
    expect(d.categories.default.bmc).toEqual({ driver: "ipmi", user: "admin", password: { file: "/lab/bmc-password" }, port: 623, netmask: "255.255.255.0" });
    expect(d.nodes).toEqual([
      { name: "lab1", category: "default", mac: "52:54:00:4d:46:01", ip: "10.77.0.11", bmc: { address: "10.78.0.11" } },
      { name: "lab2", category: "default", mac: "52:54:00:4d:46:02", ip: "10.77.0.12", bmc: { address: "10.78.0.12" } },
    ]);
    expect(d.images.lab).toMatchObject({ root: "/lab/image", kernel: "/lab/image/boot/vmlinuz", initrd: "/lab/image/boot/initrd.img" });
  });

  it("converts prefix lengths to netmasks", () => {
    expect(prefixToNetmask(24)).toBe("255.255.255.0");
    expect(prefixToNetmask(16)).toBe("255.255.0.0");
    expect(prefixToNetmask(30)).toBe("255.255.255.252");
  });
});

describe("lab text output", () => {
  it("renders status as a table, and a lab that is down as one line", async () => {
    const { formatLabStatus } = await import("../../src/lab/format.js");
    expect(formatLabStatus({ namespace: "mflab", namespaceExists: false, radvdRunning: false, nodes: [] })).toBe("Lab mflab is down.");
    const t = formatLabStatus({
      namespace: "mflab",
      namespaceExists: true,
      phase: "up",
      radvdRunning: true,
      configPath: "/l/cluster.yaml",
      nodes: [
        { name: "lab1", mac: "52:54:00:4d:46:01", ip: "10.77.0.11", bmcAddress: "10.78.0.11", vmRunning: true, vmPid: 42, bmcRunning: true, power: "on", serialLog: "/l/s.log" },
      ],
    });
    expect(t).toContain("Lab mflab: up; router advertisements on.");
    expect(t).toMatch(/lab1\s+52:54:00:4d:46:01\s+10\.77\.0\.11\s+10\.78\.0\.11\s+running\s+running \(pid 42\)\s+on/);
  });
});
