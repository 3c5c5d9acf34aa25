// What nodes boot before iPXE, by their firmware settings: the DHCP boot file per
// node (shim for Secure Boot nodes, nothing for arm64 clients) and the TFTP files of
// Debian's signed chain (shim, signed GRUB, grub.cfg by MAC, kernels and installers).
// Secure Boot nodes never see iPXE: GRUB loads the signed kernel and the installer
// initramfs over TFTP (Debian's signed GRUB has no http module).
import { existsSync, readFileSync, statSync } from "node:fs";
import { basename } from "node:path";
import { grubConfigName, renderGrubChain, renderGrubInstaller, renderGrubLocal, renderGrubNetboot } from "../boot/grub.js";
import type { Image, Node } from "../config/types.js";
import { ARCH } from "../services/dhcp/codec/constants.js";
import type { TftpFileProvider } from "../services/tftp/server.js";
import type { Logger } from "../util/log.js";
import type { BootMode } from "./boot-control.js";

/** Debian's shim-signed (Microsoft-signed shim with Debian's key) and grub-efi-amd64-signed. */
export const SIGNED_LOADERS = {
  shim: "/usr/lib/shim/shimx64.efi.signed",
  grub: "/usr/lib/grub/x86_64-efi-signed/grubnetx64.efi.signed",
};

/** The names nodes ask for: DHCP hands out the shim; shim loads grubx64.efi beside itself. */
export const SHIM_FILE = "shimx64.efi";
export const GRUB_FILE = "grubx64.efi";

/** What the boot files depend on, owned by the provisioner. */
export interface FirmwareBootContext {
  nodeByMac(mac: string): Node | undefined;
  nodes(): readonly Node[];
  image(name: string): Image | undefined;
  bootMode(node: string): BootMode;
  installerFor(image: Image): string | undefined;
  apiUrl(node: Node): string;
  /** The installed root's label (for `boot: pxe` nodes with nothing to install). */
  rootLabel(node: Node): string | undefined;
  tftpServer: string;
  signedLoaders?: { shim: string; grub: string };
  logger: Logger;
}

/** The MAC a per-node GRUB configuration path names (grub/grub.cfg-01-aa-bb-…), or undefined. */
export function macOfGrubConfig(path: string): string | undefined {
  const m = /^grub\/grub\.cfg-01-((?:[0-9a-f]{2}-){5}[0-9a-f]{2})$/i.exec(path);
  return m ? m[1]!.toLowerCase().replace(/-/g, ":") : undefined;
}

/** Refuses to start when a Secure Boot node is configured but Debian's signed loaders are missing. */
export function checkSignedLoaders(nodes: readonly Node[], loaders = SIGNED_LOADERS): string | undefined {
  if (!nodes.some((n) => n.firmware.secureBoot)) return undefined;
  const missing = [
    [loaders.shim, "shim-signed"],
    [loaders.grub, "grub-efi-amd64-signed"],
  ].filter(([f]) => !existsSync(f!));
  if (!missing.length) return undefined;
  return `Secure Boot nodes need ${missing.map(([f]) => f).join(" and ")}: install the Debian package${missing.length > 1 ? "s" : ""} ${missing.map(([, p]) => p).join(" ")}`;
}

/**
 * One copy in memory per file (kernels and installers are shared by every transfer),
 * reread when it changes. The least recently used beyond `max` files are dropped, so
 * installers rebuilt under new names do not pile up in a long-running serve.
 */
class SharedFiles {
  private readonly files = new Map<string, { mtimeMs: number; size: number; buf: Buffer }>();
  constructor(private readonly max = 16) {}
  read(path: string): Buffer {
    const st = statSync(path);
    const c = this.files.get(path);
    this.files.delete(path);
    const entry = c && c.mtimeMs === st.mtimeMs && c.size === st.size ? c : { mtimeMs: st.mtimeMs, size: st.size, buf: readFileSync(path) };
    this.files.set(path, entry);
    for (const old of this.files.keys()) {
      if (this.files.size <= this.max) break;
      this.files.delete(old);
    }
    return entry.buf;
  }
}

export class FirmwareBoot {
  private readonly files = new SharedFiles();
  private readonly warnedArm64 = new Set<string>();

  constructor(private readonly ctx: FirmwareBootContext) {}

  private get loaders() {
    return this.ctx.signedLoaders ?? SIGNED_LOADERS;
  }

  /** The DHCP boot file for a PXE client (see PxeOptions.bootFile). */
  readonly bootFile = (mac: string, arch: number): string | null | undefined => {
    if (arch === ARCH.EFI_ARM64 || arch === ARCH.EFI_HTTP_ARM64) {
      // Debian ships no arm64 EFI network loader this head node could serve (FACTS.md).
      if (!this.warnedArm64.has(mac)) {
        this.warnedArm64.add(mac);
        this.ctx.logger.warn("arm64-no-loader", { mac, reason: "no arm64 EFI network loader is available (Debian ships none); the client gets an address and no boot file" });
      }
      return null;
    }
    const node = this.ctx.nodeByMac(mac);
    if (node?.firmware.secureBoot && (arch === ARCH.EFI_X86_64 || arch === ARCH.EFI_BC)) return SHIM_FILE;
    return undefined;
  };

  /** TFTP files of the signed chain; undefined leaves the request to the TFTP root (iPXE's loaders). */
  readonly provider: TftpFileProvider = (path) => {
    if (path === SHIM_FILE) return this.files.read(this.loaders.shim);
    if (path === GRUB_FILE) return this.files.read(this.loaders.grub);
    if (path === "grub/grub.cfg") return renderGrubChain();
    if (path.startsWith("grub/grub.cfg-01-")) return this.grubConfig(path.slice("grub/".length));
    const m = /^metalform\/(kernel|initrd|installer)-([^/]+)\/([^/]+)$/.exec(path);
    if (m) return this.imageFile(m[1] as "kernel" | "initrd" | "installer", m[2]!, m[3]!);
    return undefined;
  };

  private kernelPath(image: Image): string {
    return `metalform/kernel-${image.name}/${basename(image.kernel)}`;
  }

  private imageFile(kind: "kernel" | "initrd" | "installer", name: string, file: string): Buffer | undefined {
    const image = this.ctx.image(name);
    if (!image) return undefined;
    const path = kind === "kernel" ? image.kernel : kind === "initrd" ? image.initrd : this.ctx.installerFor(image);
    // Only the exact file named in a node's config is served, never its neighbours.
    if (!path || basename(path) !== file) return undefined;
    return this.files.read(path);
  }

  /** A node's grub.cfg-01-<mac>, or undefined (file not found) for an unknown MAC. */
  private grubConfig(name: string): string | undefined {
    const node = this.ctx.nodes().find((n) => grubConfigName(n.mac) === name);
    if (!node) return undefined;
    const image = this.ctx.image(node.image);
    if (!image) return renderGrubLocal(node);
    const mode = this.ctx.bootMode(node.name);
    const server = this.ctx.tftpServer;
    if (mode.mode === "local") {
      const root = node.boot === "pxe" && image.initrd ? this.ctx.rootLabel(node) : undefined;
      if (!root || !image.initrd) return renderGrubLocal(node);
      const initrdPath = `metalform/initrd-${image.name}/${basename(image.initrd)}`;
      return renderGrubNetboot({ node, image, kernelPath: this.kernelPath(image), initrdPath, tftpServer: server, rootLabel: root });
    }
    const installer = this.ctx.installerFor(image);
    if (!installer) {
      this.ctx.logger.error("no-installer", { node: node.name, image: image.name });
      return renderGrubLocal(node);
    }
    return renderGrubInstaller({
      node,
      image,
      kernelPath: this.kernelPath(image),
      initrdPath: `metalform/installer-${image.name}/${basename(installer)}`,
      tftpServer: server,
      apiUrl: this.ctx.apiUrl(node),
      ...(mode.reason ? { reason: mode.reason } : {}),
    });
  }
}
