// The installer's Secure Boot helpers (src/boot/installer-init.sh), run by busybox sh
// against a directory standing in for the installed system: which of the plan's signed
// files the image lacks (the step then warns and installs no loader), and where shim
// landed on the ESP for the step's message. The whole chain on a real ESP under OVMF
// Secure Boot is test/e2e/diskboot.e2e.test.ts.
import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { SIGNED_CHAIN_FILES } from "../../src/boot/bootloader.js";
import { installerInitScript } from "../../src/boot/installer-init.js";

const dir = mkdtempSync(join(tmpdir(), "mfin-sb-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** The text of one shell function of the installer script. */
function shellFunction(name: string): string {
  const m = new RegExp(`^${name}\\(\\) \\{\\n[\\s\\S]*?\\n\\}\\n`, "m").exec(installerInitScript());
  if (!m) throw new Error(`no function ${name} in the installer script`);
  return m[0];
}

/** Runs `call` in busybox sh with the named functions defined and `env` set. */
function run(functions: string[], env: Record<string, string>, call: string): string {
  const r = spawnSync("busybox", ["sh", "-c", [...functions.map(shellFunction), call].join("\n")], { encoding: "utf8", env: { PATH: process.env.PATH, ...env } });
  expect(r.status, r.stderr).toBe(0);
  return r.stdout;
}

function touch(root: string, path: string): void {
  mkdirSync(dirname(join(root, path)), { recursive: true });
  writeFileSync(join(root, path), "x");
}

describe("installer: Secure Boot's signed chain", () => {
  const signed = SIGNED_CHAIN_FILES.join(" ");

  it("names each signed file the image lacks; nothing when all are there or the node has no Secure Boot", () => {
    const root = join(dir, "partial");
    touch(root, SIGNED_CHAIN_FILES[0]!);
    expect(run(["signed_chain_missing"], { MF_ROOT: root, MF_BOOT_SIGNED: signed }, "signed_chain_missing")).toBe(` ${SIGNED_CHAIN_FILES[1]}`);
    expect(run(["signed_chain_missing"], { MF_ROOT: join(dir, "empty"), MF_BOOT_SIGNED: signed }, "signed_chain_missing")).toBe(` ${SIGNED_CHAIN_FILES.join(" ")}`);
    const full = join(dir, "full");
    touch(full, SIGNED_CHAIN_FILES[1]!);
    // An absolute link points into the installed system, not the installer: present.
    mkdirSync(join(full, dirname(SIGNED_CHAIN_FILES[0]!)), { recursive: true });
    symlinkSync("/usr/lib/shim/shimx64.efi.signed.latest", join(full, SIGNED_CHAIN_FILES[0]!));
    expect(run(["signed_chain_missing"], { MF_ROOT: full, MF_BOOT_SIGNED: signed }, "signed_chain_missing")).toBe("");
    expect(run(["signed_chain_missing"], { MF_ROOT: join(dir, "empty"), MF_BOOT_SIGNED: "" }, "signed_chain_missing")).toBe("");
  });

  it("reports where shim is on the ESP (no NVRAM entry without EFI variables); nothing for a node without Secure Boot", () => {
    const root = join(dir, "esp");
    for (const f of ["boot/efi/EFI/debian/shimx64.efi", "boot/efi/EFI/debian/grubx64.efi", "boot/efi/EFI/BOOT/BOOTX64.EFI"]) touch(root, f);
    const env = { MF_ROOT: root, MF_BOOT_ESP: "/boot/efi", MF_EFIVARS: "" };
    expect(run(["esp_shims", "in_root_program"], { ...env, MF_BOOT_SIGNED: signed }, "esp_shims")).toBe(" (\\EFI\\debian\\shimx64.efi, \\EFI\\BOOT\\BOOTX64.EFI)");
    expect(run(["esp_shims", "in_root_program"], { ...env, MF_BOOT_SIGNED: "" }, "esp_shims")).toBe("");
  });
});
