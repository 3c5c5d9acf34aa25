// GRUB configurations for Secure Boot nodes (golden): the shared grub/grub.cfg that
// finds a node's own file by MAC, and the per-node files that run the installer, boot
// the installed system with the head node's kernel, or go back to the firmware.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { grubConfigName, renderGrubChain, renderGrubInstaller, renderGrubLocal, renderGrubNetboot } from "../../src/boot/grub.js";
import { apiUrlFor, image, node } from "./fixtures.js";

const goldenDir = join(dirname(fileURLToPath(import.meta.url)), "golden");

/** Compares with test/boot/golden/NAME; UPDATE_GOLDEN=1 rewrites it. */
function golden(name: string, actual: string): void {
  const file = join(goldenDir, name);
  if (process.env.UPDATE_GOLDEN === "1" || !existsSync(file)) {
    if (process.env.UPDATE_GOLDEN !== "1") throw new Error(`golden file ${name} missing: run with UPDATE_GOLDEN=1`);
    mkdirSync(goldenDir, { recursive: true });
    writeFileSync(file, actual);
  }
  expect(actual).toBe(readFileSync(file, "utf8"));
}

const installer = (over: Partial<Parameters<typeof renderGrubInstaller>[0]> = {}) =>
  renderGrubInstaller({
    node: node(),
    image,
    kernelPath: "metalform/kernel-compute/vmlinuz",
    initrdPath: "metalform/installer-compute/installer-0123abcd.img",
    tftpServer: "10.141.0.1",
    apiUrl: apiUrlFor("node001"),
    ...over,
  });

describe("GRUB configurations (golden)", () => {
  it("names a node's file as GRUB's netboot convention does: grub.cfg-01-<mac with dashes>", () => {
    expect(grubConfigName("52:54:00:AB:34:01")).toBe("grub.cfg-01-52-54-00-ab-34-01");
  });

  it("grub/grub.cfg turns $net_default_mac into that name and loads it, else exits to the firmware", () => {
    const chain = renderGrubChain();
    golden("chain.grub.cfg", chain);
    expect(chain).toContain('configfile "$mf_cfg"');
    expect(chain.trimEnd().endsWith("exit")).toBe(true);
  });

  it("runs the installer: the signed kernel and the installer over TFTP, the installer's arguments", () => {
    const cfg = installer({ reason: "install: new node" });
    golden("node001.installer.grub.cfg", cfg);
    expect(cfg).toContain("linux '(tftp,10.141.0.1)/metalform/kernel-compute/vmlinuz' mf.api=");
    // No credential: the configuration is public (TFTP) and its command line stays in /proc/cmdline.
    expect(cfg).toContain("mf.api=http://10.141.0.1:8080/api/v1/installer/nodes/node001 mf.mac=52:54:00:12:34:01");
    expect(cfg).not.toMatch(/token|password|secret|credential/i);
    // GRUB's `initrd` names the file itself: no initrd= argument as iPXE on UEFI needs.
    expect(cfg).not.toContain("initrd=");
  });

  it("boots the installed system with the head node's kernel, or exits to the local disk", () => {
    golden(
      "node001.netboot.grub.cfg",
      renderGrubNetboot({
        node: node(),
        image,
        kernelPath: "metalform/kernel-compute/vmlinuz",
        initrdPath: "metalform/initrd-compute/initrd.img",
        tftpServer: "10.141.0.1",
        rootLabel: "root",
      }),
    );
    golden("node001.local.grub.cfg", renderGrubLocal(node()));
  });

  it("quotes a kernel argument GRUB would split and refuses one it cannot pass", () => {
    expect(installer({ node: node({ kernelArgs: ["acpi_osi=!Windows 2012"] }) })).toContain("'acpi_osi=!Windows 2012'");
    expect(() => installer({ node: node({ kernelArgs: ["it's"] }) })).toThrow(/cannot be passed through GRUB/);
    expect(() => installer({ node: node({ kernelArgs: ["a\nb"] }) })).toThrow(/cannot be passed through GRUB/);
    expect(() => installer({ tftpServer: "evil;reboot" })).toThrow(/not an IPv4 address/);
  });
});
