// DesiredCluster objects built in code, so the planner's tests never depend on YAML.
import { createHash } from "node:crypto";
import type { DesiredCluster, DiskLayout, Image, Node } from "../../src/config/types.js";
import type { ImageDigest } from "../../src/plan/desired.js";

export const POS = { file: "/cfg/cluster.yaml", line: 1, col: 1 };

/** A deterministic sha256 digest named by a short label. */
export function digestOf(label: string): string {
  return "sha256:" + createHash("sha256").update(label).digest("hex");
}

export function image(name: string, over: Partial<Image> = {}): Image {
  return {
    name,
    root: `/srv/images/${name}`,
    rootType: "directory",
    kernel: `/srv/images/${name}/boot/vmlinuz`,
    initrd: `/srv/images/${name}/boot/initrd.img`,
    kernelArgs: ["console=ttyS0"],
    excludeSync: ["/var/log/*"],
    excludeFull: [],
    pos: POS,
    ...over,
  };
}

export function layout(name: string, rootFs: "ext4" | "xfs" = "ext4", swapGiB = 4): DiskLayout {
  return {
    name,
    disks: [
      {
        name: "sda",
        match: { device: "/dev/sda" },
        table: "gpt",
        partitions: [
          { name: "sda1", size: { kind: "bytes", bytes: 512 * 2 ** 20 }, fs: "vfat", type: "esp", mount: "/boot/efi", mountOptions: [] },
          { name: "sda2", size: { kind: "bytes", bytes: swapGiB * 2 ** 30 }, fs: "swap", type: "swap", mountOptions: [] },
          { name: "sda3", size: { kind: "rest" }, fs: rootFs, type: "linux", mount: "/", mountOptions: ["noatime"] },
        ],
      },
    ],
    raid: [],
    pos: POS,
  };
}

export function node(i: number, over: Partial<Node> = {}): Node {
  const name = `node${String(i).padStart(3, "0")}`;
  return {
    name,
    category: "compute",
    mac: `52:54:00:00:${((i >> 8) & 255).toString(16).padStart(2, "0")}:${(i & 255).toString(16).padStart(2, "0")}`,
    ip: `10.0.${(i >> 8) & 255}.${i & 255}`,
    hostname: `${name}.lab`,
    image: "compute",
    diskLayout: "std",
    installMode: "auto",
    boot: "pxe",
    kernelArgs: [],
    sshAuthorizedKeys: [],
    excludeSync: [],
    excludeFull: [],
    bmc: { driver: "ipmi", address: `10.1.${(i >> 8) & 255}.${i & 255}`, user: "admin", password: { kind: "env", name: "BMC_PASSWORD" }, port: 623 },
    protect: false,
    firmware: { mode: "bios", secureBoot: false, arch: "x86_64", persistentBootDevice: false },
    pos: POS,
    ...over,
  };
}

export function cluster(nodes: Node[], opts: { images?: Image[]; layouts?: DiskLayout[]; digest?: string } = {}): DesiredCluster {
  const images = opts.images ?? [image("compute")];
  const layouts = opts.layouts ?? [layout("std")];
  return {
    name: "lab",
    network: {
      interface: "eth1",
      address: "10.0.0.1",
      prefix: 16,
      networkAddress: "10.0.0.0",
      netmask: "255.255.0.0",
      broadcast: "10.0.255.255",
      dns: [],
      dhcp: { mode: "authoritative", leaseTime: 3600 },
      ports: { dhcp: 67, proxyDhcp: 4011, tftp: 69, http: 80, rsync: 873 },
    },
    images: new Map(images.map((x) => [x.name, x])),
    diskLayouts: new Map(layouts.map((x) => [x.name, x])),
    categories: new Map([["compute", { name: "compute", pos: POS }]]),
    nodes: [...nodes].sort((a, b) => (a.name < b.name ? -1 : 1)),
    files: ["/cfg/cluster.yaml"],
    digest: opts.digest ?? digestOf("config-1"),
  };
}

export function digests(entries: Record<string, string>, size = 1 << 30): Map<string, ImageDigest> {
  return new Map(Object.entries(entries).map(([k, v]) => [k, { digest: digestOf(v), size }]));
}
