// The disk selection decision (src/boot/disk-select.ts): normalized rules, and the
// shared case table that the installer's shell is held to as well.
import { describe, expect, it } from "vitest";
import { diskSelector, normalizeWwn, selectDisks } from "../../src/boot/disk-select.js";
import { CASES, FACTS } from "./disk-select-cases.js";

describe("disk selectors", () => {
  it("normalizes device paths into the rule they name", () => {
    expect(diskSelector({ device: "/dev/nvme0n1" })).toEqual({ kernelName: "nvme0n1" });
    expect(diskSelector({ device: "/dev/disk/by-path/pci-0000:00:1f.2-ata-1" })).toEqual({ byPath: "pci-0000:00:1f.2-ata-1" });
    expect(diskSelector({ device: "/dev/disk/by-id/wwn-0x5000C500A1B2C3D4" })).toEqual({ wwn: "0x5000c500a1b2c3d4" });
    expect(diskSelector({ device: "/dev/disk/by-id/nvme-eui.0025385B71B0A1B2" })).toEqual({ wwn: "eui.0025385b71b0a1b2" });
    expect(diskSelector({ device: "/dev/disk/by-id/ata-Samsung_SSD_860_S3Z1" })).toEqual({ byId: "ata-Samsung_SSD_860_S3Z1" });
    expect(diskSelector({ serial: " ZC1234AB ", model: "SSD", vendor: "Seagate", minSize: 1, maxSize: 2, rotational: false })).toEqual({
      serial: "ZC1234AB",
      model: "ssd",
      vendor: "seagate",
      minSize: 1,
      maxSize: 2,
      rotational: false,
    });
  });

  it("spells WWNs as udev does", () => {
    expect(normalizeWwn("naa.5000C500A1B2C3D4")).toBe("0x5000c500a1b2c3d4");
    expect(normalizeWwn("5000c500a1b2c3d4")).toBe("0x5000c500a1b2c3d4");
    expect(normalizeWwn("0X5000C500A1B2C3D4")).toBe("0x5000c500a1b2c3d4");
    expect(normalizeWwn("eui.ABCDEF0123456789")).toBe("eui.abcdef0123456789");
  });
});

describe("selectDisks", () => {
  it.each(CASES.map((c) => [c.name, c] as const))("%s", (_n, c) => {
    const got = selectDisks(
      c.disks.map((d) => ({ name: d.name, selector: diskSelector(d.match) })),
      FACTS,
    );
    if (Array.isArray(c.expect)) expect(got).toEqual({ ok: true, devices: c.expect });
    else expect(got).toEqual({ ok: false, ...c.expect });
  });
});
