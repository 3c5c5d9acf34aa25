// The boot loader a node's disk gets (src/boot/bootloader.ts): GRUB for BIOS into each
// disk holding / (or /boot), GRUB for UEFI on the ESP with the EFI order by `boot:`, and
// Secure Boot's signed chain (shim, signed GRUB) on the ESP, and the layouts, firmware
// and images that get none — a warning, never a failure.
import { describe, expect, it } from "vitest";
import { execFileSync } from "node:child_process";
import { bootLoaderProblem, renderBootLoader } from "../../src/boot/bootloader.js";
import { renderInstallPlan } from "../../src/boot/install-plan.js";
import { renderPlanShell } from "../../src/boot/plan-shell.js";
import type { DiskLayout, Firmware, Image } from "../../src/config/types.js";
import { apiUrlFor, image, layouts, node, part, planInputBase } from "./fixtures.js";

const uefi: Firmware = { mode: "uefi", secureBoot: false, arch: "x86_64", persistentBootDevice: false };
const secure: Firmware = { ...uefi, secureBoot: true };
const MiB = 1024 * 1024;

describe("boot loader on the node's disk", () => {
  it("BIOS on RAID1: GRUB into both member disks (each has a BIOS boot partition); grub.cfg from the installed system", () => {
    const d = renderBootLoader(node(), image, layouts.raid1!);
    expect("bootLoader" in d && d.bootLoader).toEqual({
      platform: "bios",
      install: [["grub-install", "--target=i386-pc"]],
      mkconfig: ["grub-mkconfig", "-o", "/boot/grub/grub.cfg"],
      disks: [0, 1],
    });
  });

  it("BIOS on msdos: the disk holding /boot; no BIOS boot partition needed", () => {
    const d = renderBootLoader(node(), image, layouts.msdos!);
    expect("bootLoader" in d && d.bootLoader.disks).toEqual([0]);
  });

  it("BIOS on GPT without a BIOS boot partition: a warning naming the disk, no boot loader", () => {
    const d = renderBootLoader(node({ name: "n1" }), image, layouts.single!);
    expect(d).toEqual({ warning: "no boot loader on n1's disk: disk sda has a GPT table but no BIOS boot partition (type: bios, 1MiB) for GRUB; it boots from the network only" });
  });

  it("UEFI: GRUB on the ESP under the distribution's name and at the removable path; network first for boot: pxe, disk first for boot: local", () => {
    const pxe = renderBootLoader(node({ firmware: uefi }), image, layouts.uefi!);
    expect("bootLoader" in pxe && pxe.bootLoader).toMatchObject({
      platform: "uefi",
      install: [
        ["grub-install", "--target=x86_64-efi", "--efi-directory=/boot/efi"],
        ["grub-install", "--target=x86_64-efi", "--efi-directory=/boot/efi", "--removable", "--no-nvram"],
      ],
      esp: "/boot/efi",
      order: "network-first",
    });
    const local = renderBootLoader(node({ firmware: uefi, boot: "local" }), image, layouts.uefi!);
    expect("bootLoader" in local && local.bootLoader.order).toBe("disk-first");
  });

  it("UEFI without an ESP, an ESP that is not vfat: warnings", () => {
    expect(renderBootLoader(node({ firmware: uefi }), image, layouts.single!)).toMatchObject({ warning: expect.stringContaining("has no ESP") });
    const xfsEsp: DiskLayout = structuredClone(layouts.uefi!);
    xfsEsp.disks[0]!.partitions[0] = part({ name: "esp", size: { kind: "bytes", bytes: 64 * MiB }, fs: "xfs", mount: "/boot/efi" });
    expect(renderBootLoader(node({ firmware: uefi }), image, xfsEsp)).toMatchObject({ warning: expect.stringContaining("is xfs, not vfat") });
    expect(renderBootLoader(node({ firmware: secure }), image, layouts.single!)).toMatchObject({ warning: expect.stringContaining("has no ESP") });
  });

  it("Secure Boot: grub-install --uefi-secure-boot (shim, signed GRUB) on the ESP and at the removable path; the image must hold the signed files", () => {
    const d = renderBootLoader(node({ firmware: secure }), image, layouts.uefi!);
    expect("bootLoader" in d && d.bootLoader).toEqual({
      platform: "uefi",
      install: [
        ["grub-install", "--target=x86_64-efi", "--efi-directory=/boot/efi", "--uefi-secure-boot"],
        ["grub-install", "--target=x86_64-efi", "--efi-directory=/boot/efi", "--uefi-secure-boot", "--removable", "--no-nvram"],
      ],
      mkconfig: ["grub-mkconfig", "-o", "/boot/grub/grub.cfg"],
      disks: [],
      esp: "/boot/efi",
      order: "network-first",
      signed: ["/usr/lib/shim/shimx64.efi.signed", "/usr/lib/grub/x86_64-efi-signed/grubx64.efi.signed"],
    });
    // Plain UEFI leaves the choice to the image's grub-install and checks for no signed files.
    const plain = renderBootLoader(node({ firmware: uefi }), image, layouts.uefi!);
    expect("bootLoader" in plain && plain.bootLoader.signed).toBeUndefined();
  });

  it("Secure Boot with a recipe image that does not list the signed packages: a warning naming them; with them: a loader", () => {
    const recipe = (packages: string[]): Image => ({
      ...image,
      name: "deb",
      source: { kind: "recipe", recipe: { suite: "bookworm", variant: "minbase", packages, customize: [] } },
    });
    expect(renderBootLoader(node({ name: "n3", firmware: secure }), recipe(["grub2-common", "grub-efi-amd64-bin", "shim-signed"]), layouts.uefi!)).toEqual({
      warning:
        "no boot loader on n3's disk: Secure Boot needs the signed chain (shim, signed GRUB) in the image, and image deb's recipe does not list grub-efi-amd64-signed; it boots from the network only",
    });
    expect(bootLoaderProblem(node({ firmware: secure }), recipe(["shim-signed", "grub-efi-amd64-signed"]), layouts.uefi!)).toBeUndefined();
    // A plain UEFI node needs neither.
    expect(bootLoaderProblem(node({ firmware: uefi }), recipe([]), layouts.uefi!)).toBeUndefined();
  });

  it("the Secure Boot plan's shell form names the signed files the installer checks", () => {
    const n = node({ firmware: secure });
    const sh = renderPlanShell(renderInstallPlan({ ...planInputBase, node: n, layout: layouts.uefi!, apiUrl: apiUrlFor(n.name) }));
    expect(sh).toContain("MF_BOOT_INSTALL_0='grub-install --target=x86_64-efi --efi-directory=/boot/efi --uefi-secure-boot'");
    expect(sh).toContain("MF_BOOT_SIGNED='/usr/lib/shim/shimx64.efi.signed /usr/lib/grub/x86_64-efi-signed/grubx64.efi.signed'");
    expect(renderPlanShell(renderInstallPlan({ ...planInputBase, node: node({ firmware: uefi }), layout: layouts.uefi!, apiUrl: apiUrlFor("node001") }))).toContain(
      "MF_BOOT_SIGNED=''",
    );
  });

  it("GRUB's settings name the distribution from the installed system's os-release unless its own settings do", () => {
    const d = renderBootLoader(node(), image, layouts.msdos!);
    const line = ("files" in d && d.files[0]!.content.split("\n").find((l) => l.startsWith("GRUB_DISTRIBUTOR="))) || "";
    const sh = (env: string) => execFileSync("sh", ["-ec", `${env}\n${line}\nprintf %s "$GRUB_DISTRIBUTOR"`], { encoding: "utf8" });
    // This machine's os-release stands in for the installed system's (grub-install and grub-mkconfig source the file chrooted).
    expect(sh("")).toBe(execFileSync("sh", ["-c", '. /etc/os-release; printf %s "${NAME%% *}"'], { encoding: "utf8" }));
    expect(sh("")).not.toBe("");
    expect(sh("GRUB_DISTRIBUTOR=Custom")).toBe("Custom");
  });

  it("GRUB's settings carry the network boot's kernel arguments; a quote or $ in one is a warning", () => {
    const d = renderBootLoader(node({ kernelArgs: ["quiet"] }), image, layouts.msdos!);
    expect("files" in d && d.files[0]!.path).toBe("/etc/default/grub.d/metalform.cfg");
    expect("files" in d && d.files[0]!.content).toMatch(/^GRUB_CMDLINE_LINUX="console=tty0 console=ttyS0,115200n8 .*quiet"$/m);
    expect(renderBootLoader(node({ kernelArgs: ['x="$(reboot)"'] }), image, layouts.msdos!)).toMatchObject({ warning: expect.stringContaining("GRUB's settings") });
  });

  it("the install plan carries it (and rsync leaves the settings file alone); the shell form numbers the grub-install runs", () => {
    const n = node({ firmware: uefi });
    const plan = renderInstallPlan({ ...planInputBase, node: n, layout: layouts.uefi!, apiUrl: apiUrlFor(n.name) });
    expect(plan.bootLoader?.platform).toBe("uefi");
    expect(plan.exclude.sync).toContain("/etc/default/grub.d/metalform.cfg");
    const sh = renderPlanShell(plan);
    expect(sh).toContain("MF_BOOT_INSTALL_COUNT='2'");
    expect(sh).toContain("MF_BOOT_INSTALL_1='grub-install --target=x86_64-efi --efi-directory=/boot/efi --removable --no-nvram'");
    expect(sh).toContain("MF_BOOT_ORDER='network-first'");
    const none = renderInstallPlan({ ...planInputBase, node: node(), layout: layouts.single!, apiUrl: apiUrlFor("node001") });
    expect(none.bootLoader).toBeUndefined();
    expect(none.bootLoaderWarning).toMatch(/^no boot loader on node001's disk: /);
    expect(renderPlanShell(none)).toContain("MF_BOOT_WARNING='no boot loader on node001'");
  });
});
