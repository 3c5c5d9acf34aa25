// Config fixtures for boot rendering tests (normalized model, as the loader returns it).
import type { DiskLayout, Image, Network, Node, Partition } from "../../src/config/types.js";

const pos = { file: "cluster.yaml", line: 1, col: 1 };
export const MiB = 1024 * 1024;
export const GiB = 1024 * MiB;

export const network: Network = {
  interface: "eth1",
  address: "10.141.0.1",
  prefix: 16,
  networkAddress: "10.141.0.0",
  netmask: "255.255.0.0",
  broadcast: "10.141.255.255",
  gateway: "10.141.0.1",
  dns: ["10.141.0.1"],
  domain: "cluster.local",
  dhcp: { mode: "authoritative", leaseTime: 3600 },
  ports: { dhcp: 67, proxyDhcp: 4011, tftp: 69, http: 8080, rsync: 873 },
};

export const image: Image = {
  name: "compute",
  root: "/srv/images/compute",
  rootType: "directory",
  kernel: "/srv/images/compute/boot/vmlinuz",
  initrd: "/srv/images/compute/boot/initrd.img",
  kernelArgs: ["quiet"],
  excludeSync: ["/var/log/*", "/tmp/*"],
  excludeFull: ["/tmp/*"],
  pos,
};

export function node(over: Partial<Node> = {}): Node {
  return {
    name: "node001",
    category: "compute",
    mac: "52:54:00:12:34:01",
    ip: "10.141.0.11",
    hostname: "node001.cluster.local",
    image: "compute",
    diskLayout: "single",
    installMode: "auto",
    boot: "pxe",
    kernelArgs: [],
    sshAuthorizedKeys: [],
    excludeSync: [],
    excludeFull: [],
    protect: false,
    firmware: { mode: "bios", secureBoot: false, arch: "x86_64", persistentBootDevice: false },
    pos,
    ...over,
  };
}

export function part(over: Partial<Partition> & Pick<Partition, "name">): Partition {
  return { size: { kind: "rest" }, fs: "ext4", type: "linux", mountOptions: [], ...over };
}

export const layouts: Record<string, DiskLayout> = {
  single: {
    name: "single",
    disks: [{ name: "sda", match: { device: "/dev/sda" }, table: "gpt", partitions: [part({ name: "root", mount: "/" })] }],
    raid: [],
    pos,
  },
  uefi: {
    name: "uefi",
    disks: [
      {
        name: "sda",
        match: { minSize: 20 * GiB },
        table: "gpt",
        partitions: [
          part({ name: "esp", size: { kind: "bytes", bytes: 512 * MiB }, fs: "vfat", type: "esp", mount: "/boot/efi", mountOptions: ["umask=0077"] }),
          part({ name: "swap", size: { kind: "percent", percent: 10 }, fs: "swap", type: "swap" }),
          part({ name: "var", size: { kind: "bytes", bytes: 8 * GiB }, fs: "xfs", mount: "/var", mountOptions: ["noatime"] }),
          part({ name: "root", mount: "/" }),
        ],
      },
    ],
    raid: [],
    pos,
  },
  raid1: {
    name: "raid1",
    disks: ["sda", "sdb"].map((d) => ({
      name: d,
      match: { minSize: 10 * GiB },
      table: "gpt" as const,
      partitions: [part({ name: `${d}-boot`, size: { kind: "bytes", bytes: 1 * MiB }, fs: "none", type: "bios" }), part({ name: `${d}-root`, fs: "none", type: "raid" })],
    })),
    raid: [{ name: "root", level: 1, members: ["sda-root", "sdb-root"], fs: "ext4", mount: "/", mountOptions: [], label: "root" }],
    pos,
  },
  protected: {
    name: "protected",
    disks: [
      {
        name: "sda",
        match: { serial: "SYS-0001" },
        table: "gpt",
        partitions: [part({ name: "root", size: { kind: "bytes", bytes: 20 * GiB }, mount: "/" }), part({ name: "scratch", mount: "/scratch" })],
      },
      { name: "sdb", match: { serial: "DATA-0001", model: "BigDisk 8T" }, table: "gpt", partitions: [part({ name: "data", fs: "xfs", mount: "/data", label: "data" })] },
    ],
    raid: [],
    pos,
  },
  msdos: {
    name: "msdos",
    disks: [
      {
        name: "sda",
        match: { device: "/dev/vda" },
        table: "msdos",
        partitions: [
          part({ name: "boot", size: { kind: "bytes", bytes: 256 * MiB }, mount: "/boot" }),
          part({ name: "swap", size: { kind: "bytes", bytes: 1 * GiB }, fs: "swap", type: "swap" }),
          part({ name: "root", mount: "/" }),
        ],
      },
    ],
    raid: [],
    pos,
  },
  lvm: {
    name: "lvm",
    disks: ["sda", "sdb"].map((d) => ({
      name: d,
      match: d === "sda" ? { device: "/dev/disk/by-path/pci-0000:00:1f.2-ata-1", rotational: false } : { wwn: "0x5000C500A1B2C3D4" },
      table: "gpt" as const,
      partitions: [
        part({ name: `${d}-bios`, size: { kind: "bytes", bytes: 1 * MiB }, fs: "none", type: "bios" }),
        part({ name: `${d}-sys`, size: { kind: "bytes", bytes: 40 * GiB }, fs: "none", type: "raid" }),
        part({ name: `${d}-data`, fs: "none", type: "lvm" }),
      ],
    })),
    raid: [{ name: "sys", level: 1, members: ["sda-sys", "sdb-sys"], fs: "none", mountOptions: [] }],
    volumeGroups: [
      { name: "vgsys", devices: ["sys"] },
      { name: "vgdata", devices: ["sda-data", "sdb-data"] },
    ],
    logicalVolumes: [
      { name: "scratch", vg: "vgdata", size: { kind: "rest" }, fs: "xfs", mount: "/scratch", mountOptions: ["noatime"] },
      { name: "root", vg: "vgsys", size: { kind: "percent", percent: 60 }, fs: "ext4", mount: "/", mountOptions: [] },
      { name: "var", vg: "vgsys", size: { kind: "bytes", bytes: 4 * GiB }, fs: "ext4", mount: "/var", mountOptions: [] },
      { name: "swap", vg: "vgsys", size: { kind: "bytes", bytes: 1536 * 1024 }, fs: "swap", mountOptions: [] },
    ],
    pos,
  },
};

export const planInputBase = {
  image,
  network,
  imageDigest: "sha256:" + "ab".repeat(32),
  rsyncUrl: "rsync://10.141.0.1:873/img-compute/",
  nodeCredential: "node-credential-fixture",
};

export function apiUrlFor(n: string): string {
  return `http://10.141.0.1:8080/api/v1/installer/nodes/${n}`;
}
