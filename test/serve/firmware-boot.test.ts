// What nodes boot before iPXE, by their firmware settings (unit): the DHCP boot file
// per node — shim for Secure Boot nodes, none for arm64 clients (logged once) — and
// the TFTP files of the signed chain: shim, GRUB, grub.cfg by MAC, and exactly the
// kernels and installers the configuration names.
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import type { Image, Node } from "../../src/config/types.js";
import { ARCH } from "../../src/services/dhcp/codec/constants.js";
import type { DhcpOptions } from "../../src/services/dhcp/codec/options.js";
import { bootReplyFor } from "../../src/services/dhcp/pxe.js";
import type { BootMode } from "../../src/serve/boot-control.js";
import { checkSignedLoaders, FirmwareBoot, macOfGrubConfig } from "../../src/serve/firmware-boot.js";
import { createLogger, memorySink, type LogRecord } from "../../src/util/log.js";
import { image as imageFixture, node as nodeFixture } from "../boot/fixtures.js";

const dir = mkdtempSync(join(tmpdir(), "mf-fwboot-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const file = (name: string, content: string) => {
  writeFileSync(join(dir, name), content);
  return join(dir, name);
};
const shim = file("shimx64.efi.signed", "SHIM");
const grub = file("grubnetx64.efi.signed", "GRUB");
const image: Image = { ...imageFixture, kernel: file("vmlinuz", "KERNEL"), initrd: file("initrd.img", "INITRD") };
const installer = file("installer-abc.img", "INSTALLER");
file("secret.txt", "not served");

const sb = nodeFixture({ name: "sb1", mac: "52:54:00:00:00:01", ip: "10.141.0.11", firmware: { mode: "uefi", secureBoot: true, arch: "x86_64", persistentBootDevice: false } });
const uefi = nodeFixture({ name: "efi1", mac: "52:54:00:00:00:02", ip: "10.141.0.12", firmware: { mode: "uefi", secureBoot: false, arch: "x86_64", persistentBootDevice: false } });
const nodes: Node[] = [sb, uefi];
const modes = new Map<string, BootMode>([["sb1", { mode: "install", reason: "install: new node", allowWipe: false }]]);
const logs: LogRecord[] = [];

const fb = new FirmwareBoot({
  nodeByMac: (mac) => nodes.find((n) => n.mac === mac),
  nodes: () => nodes,
  image: (name) => (name === image.name ? image : undefined),
  bootMode: (name) => modes.get(name) ?? { mode: "local" },
  installerFor: () => installer,
  apiUrl: (n) => `http://10.141.0.1:8080/api/v1/installer/nodes/${n.name}`,
  rootLabel: () => "root",
  tftpServer: "10.141.0.1",
  signedLoaders: { shim, grub },
  logger: createLogger({ component: "test", sink: memorySink(logs) }),
});
const get = (path: string) => {
  const v = fb.provider(path, { address: "10.141.0.11", port: 1000 });
  if (v === undefined || typeof v === "string") return v;
  if (Buffer.isBuffer(v)) return v.toString("utf8");
  throw new Error(`${path}: the provider answered asynchronously`);
};

describe("DHCP boot files by firmware", () => {
  it("a Secure Boot node's UEFI firmware gets shimx64.efi; other nodes keep their architecture's loader", () => {
    expect(fb.bootFile(sb.mac, ARCH.EFI_X86_64)).toBe("shimx64.efi");
    expect(fb.bootFile(sb.mac, ARCH.EFI_BC)).toBe("shimx64.efi");
    expect(fb.bootFile(uefi.mac, ARCH.EFI_X86_64)).toBeUndefined();
    expect(fb.bootFile("52:54:00:99:99:99", ARCH.BIOS)).toBeUndefined();
  });

  it("an arm64 client gets no boot file at all, logged once per MAC", () => {
    expect(fb.bootFile("52:54:00:00:00:aa", ARCH.EFI_ARM64)).toBeNull();
    expect(fb.bootFile("52:54:00:00:00:aa", ARCH.EFI_ARM64)).toBeNull();
    expect(fb.bootFile("52:54:00:00:00:aa", ARCH.EFI_HTTP_ARM64)).toBeNull();
    expect(logs.filter((l) => l.event === "arm64-no-loader").map((l) => l.fields.mac)).toEqual(["52:54:00:00:00:aa"]);
  });

  it("the DHCP reply follows the hook: the shim as file name, or no boot information", () => {
    const req = (arch: number): DhcpOptions => ({ vendorClassId: "PXEClient:Arch:00007:UNDI:003016", clientArch: [arch] });
    const pxe = { bootFile: fb.bootFile, scriptUrl: "http://x/${mac}.ipxe" };
    expect(bootReplyFor(req(ARCH.EFI_X86_64), sb.mac, sb.ip, "10.141.0.1", pxe)?.file).toBe("shimx64.efi");
    expect(bootReplyFor(req(ARCH.EFI_X86_64), uefi.mac, uefi.ip, "10.141.0.1", pxe)?.file).toBe("snponly.efi");
    expect(bootReplyFor(req(ARCH.EFI_ARM64), "52:54:00:00:00:bb", undefined, "10.141.0.1", pxe)).toBeUndefined();
  });
});

describe("TFTP files of the signed chain", () => {
  it("serves shim and the signed GRUB under the names shim and the firmware ask for", () => {
    expect(get("shimx64.efi")).toBe("SHIM");
    expect(get("grubx64.efi")).toBe("GRUB");
    expect(get("grub/grub.cfg")).toContain("configfile");
  });

  it("a node's grub.cfg-01-<mac>: the installer (no credential: the installer claims it), or back to the firmware", () => {
    const cfg = get("grub/grub.cfg-01-52-54-00-00-00-01")!;
    expect(cfg).toContain("'(tftp,10.141.0.1)/metalform/kernel-compute/vmlinuz'");
    expect(cfg).toContain("'(tftp,10.141.0.1)/metalform/installer-compute/installer-abc.img'");
    expect(cfg).toContain("mf.api=");
    expect(cfg).not.toContain("token");
    expect(cfg).toContain("install: new node");
    // efi1 has nothing to install and boots pxe: the image's kernel with its installed root.
    expect(get("grub/grub.cfg-01-52-54-00-00-00-02")).toContain("root=LABEL=root");
    expect(get("grub/grub.cfg-01-52-54-00-00-00-99")).toBeUndefined();
  });

  it("names the node a per-node GRUB configuration belongs to (its fetch opens the install attempt)", () => {
    expect(macOfGrubConfig("grub/grub.cfg-01-52-54-00-00-00-01")).toBe("52:54:00:00:00:01");
    expect(macOfGrubConfig("grub/grub.cfg")).toBeUndefined();
    expect(macOfGrubConfig("grub/grub.cfg-01-52-54-00-00-00")).toBeUndefined();
  });

  it("serves exactly the kernel, initrd and installer the configuration names, nothing beside them", () => {
    expect(get("metalform/kernel-compute/vmlinuz")).toBe("KERNEL");
    expect(get("metalform/initrd-compute/initrd.img")).toBe("INITRD");
    expect(get("metalform/installer-compute/installer-abc.img")).toBe("INSTALLER");
    expect(get("metalform/kernel-compute/secret.txt")).toBeUndefined();
    expect(get("metalform/kernel-other/vmlinuz")).toBeUndefined();
    // Anything else is left to the TFTP root (iPXE's loaders).
    expect(get("snponly.efi")).toBeUndefined();
  });

  it("re-reads a file that changed", () => {
    writeFileSync(image.kernel, "KERNEL-2 (longer)");
    expect(get("metalform/kernel-compute/vmlinuz")).toBe("KERNEL-2 (longer)");
  });

  it("refuses to start for Secure Boot nodes when Debian's signed loaders are missing", () => {
    expect(checkSignedLoaders(nodes, { shim, grub })).toBeUndefined();
    expect(checkSignedLoaders([uefi], { shim: "/nonexistent/shim", grub })).toBeUndefined();
    expect(checkSignedLoaders(nodes, { shim: "/nonexistent/shim", grub: "/nonexistent/grub" })).toMatch(/install the Debian packages shim-signed grub-efi-amd64-signed/);
  });
});
