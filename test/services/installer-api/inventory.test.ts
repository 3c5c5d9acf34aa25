// What a host may post as its inventory (issue 19): parseInventory keeps only bounded,
// typed fields; DiscoverySessions lets one inventory per script fetch in, from the
// fetching address, with a per-MAC rate and a cap on open sessions. Also the
// installer's own inventory functions, run by sh against a made-up sysfs and procfs,
// produce what the parser accepts.
import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { installerInitScript } from "../../../src/boot/installer-init.js";
import { DiscoverySessions } from "../../../src/services/installer-api/discovery.js";
import { parseInventory } from "../../../src/services/installer-api/inventory.js";
import { discoveryRoute } from "../../../src/services/installer-api/route.js";
import { configuredBmcAddress } from "../../../src/state/inventory.js";

const GOOD = {
  dmi: { vendor: "QEMU", product: "Standard PC (i440FX + PIIX, 1996)", serial: "S123", _: 0 },
  cpu: { logical: 2, model: "AMD EPYC", sockets: 1 },
  memoryBytes: 402_653_184,
  disks: [{ name: "vda", bytes: 2_147_483_648, vendor: "0x1af4", serial: "", rotational: true, extra: "dropped" }],
  nics: [{ name: "eth0", mac: "52:54:00:4D:46:02", driver: "virtio_net", link: true }],
  bmc: { ip: "10.78.0.12", netmask: "255.255.255.0", source: "ipmitool lan print 1" },
};

describe("parseInventory", () => {
  it("keeps the known fields, drops empty and unknown ones, lower-cases MACs", () => {
    const p = parseInventory(GOOD);
    expect(p).toEqual({
      ok: true,
      value: {
        dmi: { vendor: "QEMU", product: "Standard PC (i440FX + PIIX, 1996)", serial: "S123" },
        cpu: { logical: 2, model: "AMD EPYC", sockets: 1 },
        memoryBytes: 402_653_184,
        disks: [{ name: "vda", bytes: 2_147_483_648, vendor: "0x1af4", rotational: true }],
        nics: [{ name: "eth0", mac: "52:54:00:4d:46:02", driver: "virtio_net", link: true }],
        bmc: { ip: "10.78.0.12", netmask: "255.255.255.0", source: "ipmitool lan print 1" },
      },
    });
  });

  it.each([
    [[], "inventory must be a JSON object"],
    [{ ...GOOD, memoryBytes: -1 }, "inventory.memoryBytes must be a non-negative integer"],
    [{ ...GOOD, memoryBytes: undefined }, "inventory.memoryBytes is required"],
    [{ ...GOOD, disks: "vda" }, "disks must be a list"],
    [{ ...GOOD, disks: Array.from({ length: 300 }, () => GOOD.disks[0]) }, "disks has more than 256 entries"],
    [{ ...GOOD, disks: [{ name: "../../etc", bytes: 1 }] }, "disks[0].name must be a device name"],
    [{ ...GOOD, disks: [{ name: "vda", bytes: 1.5 }] }, "disks[0].bytes must be a non-negative integer"],
    [{ ...GOOD, disks: [{ name: "vda", bytes: 1, model: "x".repeat(200) }] }, "disks[0].model is longer than 128 characters"],
    [{ ...GOOD, nics: [{ name: "eth0", mac: "not-a-mac" }] }, "nics[0].mac must be a MAC address"],
    [{ ...GOOD, nics: [{ name: "eth0", mac: "52:54:00:00:00:01", link: "yes" }] }, "nics[0].link must be true or false"],
    [{ ...GOOD, bmc: { ip: "10.78.0.300" } }, "bmc.ip must be an IPv4 address"],
    [{ ...GOOD, bmc: "10.78.0.1" }, "bmc must be an object or null"],
  ])("refuses %#: %s", (body, error) => {
    expect(parseInventory(body)).toEqual({ ok: false, error });
  });

  it("strips control characters from text (a hostile DMI string cannot forge log lines)", () => {
    const p = parseInventory({ ...GOOD, dmi: { vendor: "ACME\n\u001b[31mroot\u0000" } });
    expect(p.ok && p.value.dmi.vendor).toBe("ACME[31mroot");
  });
});

describe("configuredBmcAddress", () => {
  it("takes a BMC's reported address, never an unset 0.0.0.0 (what a BMC never configured reads back)", () => {
    expect(configuredBmcAddress({ ip: "10.78.0.12", netmask: "255.255.0.0" })).toBe("10.78.0.12");
    expect(configuredBmcAddress({ ip: "0.0.0.0", netmask: "0.0.0.0" })).toBeUndefined();
    expect(configuredBmcAddress({})).toBeUndefined();
    expect(configuredBmcAddress(null)).toBeUndefined();
  });
});

describe("DiscoverySessions", () => {
  let t = 0;
  const sessions = () => new DiscoverySessions({ now: () => t, windowMs: 1000, maxOpen: 2, minIntervalMs: 100 });

  it("one inventory per script fetch, from the fetching address", () => {
    t = 0;
    const s = sessions();
    expect(s.accept("52:54:00:00:00:01", "10.0.0.5")).toEqual({ ok: false, refusal: "no-session" });
    expect(s.open("52:54:00:00:00:01", "::ffff:10.0.0.5")).toBe(true);
    expect(s.accept("52:54:00:00:00:01", "10.0.0.6")).toEqual({ ok: false, refusal: "wrong-address" });
    expect(s.accept("52:54:00:00:00:01", "10.0.0.5")).toEqual({ ok: true });
    expect(s.accept("52:54:00:00:00:01", "10.0.0.5")).toEqual({ ok: false, refusal: "no-session" });
  });

  it("a MAC opens at most one session per interval; sessions expire; the oldest goes past the cap", () => {
    t = 0;
    const s = sessions();
    expect(s.open("52:54:00:00:00:01", "10.0.0.5")).toBe(true);
    expect(s.open("52:54:00:00:00:01", "10.0.0.5")).toBe(false);
    t = 150;
    expect(s.open("52:54:00:00:00:01", "10.0.0.5")).toBe(true);
    expect(s.open("52:54:00:00:00:02", "10.0.0.6")).toBe(true);
    expect(s.open("52:54:00:00:00:03", "10.0.0.7")).toBe(true);
    expect(s.size).toBe(2);
    expect(s.accept("52:54:00:00:00:01", "10.0.0.5")).toEqual({ ok: false, refusal: "no-session" });
    t = 2000;
    expect(s.accept("52:54:00:00:00:02", "10.0.0.6")).toEqual({ ok: false, refusal: "expired" });
  });

  it("routes only discovery/<mac>/inventory", () => {
    const p = "/api/v1/installer";
    expect(discoveryRoute(p, `${p}/discovery/52:54:00:AA:00:01/inventory`)).toEqual({ mac: "52:54:00:aa:00:01" });
    expect(discoveryRoute(p, `${p}/discovery/52%3A54%3A00%3Aaa%3A00%3A01/inventory`)).toEqual({ mac: "52:54:00:aa:00:01" });
    for (const bad of [`${p}/discovery/52:54:00:aa:00:01/plan`, `${p}/discovery/lab1/inventory`, `${p}/discovery/%E0%A4%A/inventory`, `${p}/discovery/52:54:00:aa:00:01`]) {
      expect(discoveryRoute(p, bad)).toBeUndefined();
    }
  });
});

describe("the installer's inventory functions", () => {
  const root = mkdtempSync(join(tmpdir(), "mf-inventory-"));
  afterAll(() => rmSync(root, { recursive: true, force: true }));

  function put(path: string, text: string): void {
    mkdirSync(dirname(join(root, path)), { recursive: true });
    writeFileSync(join(root, path), text);
  }

  it("read DMI, CPUs, memory, disks and NICs from sysfs and procfs into an inventory the head accepts", () => {
    put("sys/class/dmi/id/sys_vendor", "Dell Inc.\n");
    put("sys/class/dmi/id/product_name", "PowerEdge R650\n");
    put("sys/class/dmi/id/product_serial", "ABC1234\n");
    put("sys/block/sda/size", "3907029168\n");
    put("sys/class/block/sda/size", "3907029168\n");
    put("sys/class/block/sda/device/model", "ST2000NM0055    \n");
    put("sys/class/block/sda/device/vendor", "ATA     \n");
    put("sys/class/block/sda/device/wwid", "naa.5000c500a1b2c3d4\n");
    put("sys/class/block/sda/queue/rotational", "1\n");
    put("sys/class/block/sda/serial", "ZC1ABC\n");
    put("sys/block/loop0/size", "0\n");
    put("sys/class/net/eno1/address", "b0:26:28:00:00:01\n");
    put("sys/class/net/eno1/speed", "10000\n");
    put("sys/class/net/eno1/carrier", "1\n");
    mkdirSync(join(root, "sys/devices/pci/0000:01:00.0"), { recursive: true });
    mkdirSync(join(root, "sys/bus/pci/drivers/ixgbe"), { recursive: true });
    symlinkSync(join(root, "sys/devices/pci/0000:01:00.0"), join(root, "sys/class/net/eno1/device"));
    symlinkSync(join(root, "sys/bus/pci/drivers/ixgbe"), join(root, "sys/devices/pci/0000:01:00.0/driver"));
    put("sys/class/net/lo/address", "00:00:00:00:00:00\n");
    put(
      "proc/cpuinfo",
      "processor\t: 0\nmodel name\t: Intel(R) Xeon(R) Gold 6330\nphysical id\t: 0\n\nprocessor\t: 1\nmodel name\t: Intel(R) Xeon(R) Gold 6330\nphysical id\t: 1\n",
    );
    put("proc/meminfo", "MemTotal:       263852912 kB\nMemFree: 1 kB\n");
    // The script without its last line (main), then one call: what the installer would post.
    const script = installerInitScript().replace(/\nmain "\$@"\n*$/, "\ninventory_json\n");
    const out = execFileSync("sh", ["-c", script], { env: { ...process.env, MF_SYS: join(root, "sys"), MF_PROC: join(root, "proc"), PATH: "/usr/bin:/bin" }, encoding: "utf8" });
    const parsed = parseInventory(JSON.parse(out));
    expect(parsed.ok, out).toBe(true);
    if (!parsed.ok) return;
    expect(parsed.value).toMatchObject({
      dmi: { vendor: "Dell Inc.", product: "PowerEdge R650", serial: "ABC1234" },
      cpu: { logical: 2, sockets: 2, model: "Intel(R) Xeon(R) Gold 6330" },
      memoryBytes: 263852912 * 1024,
      disks: [{ name: "sda", bytes: 3907029168 * 512, model: "ST2000NM0055", vendor: "ATA", serial: "ZC1ABC", wwn: "0x5000c500a1b2c3d4", rotational: true }],
      nics: [{ name: "eno1", mac: "b0:26:28:00:00:01", driver: "ixgbe", speedMbps: 10000, link: true }],
    });
  });
});
