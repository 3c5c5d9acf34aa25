// Disk selection cases shared by the pure decision (test/boot/disk-select.test.ts) and
// the installer's shell (test/installer/disk-select.int.test.ts, against a fake
// sysfs): one table, so both sides are held to the same semantics. Disk names are
// loop devices because the shell only considers names that are block devices.
import type { DiskFacts } from "../../src/boot/disk-select.js";
import type { DiskMatch } from "../../src/config/types.js";

const MiB = 1024 * 1024;
const GiB = 1024 * MiB;

/** A virtio disk at PCI slot 4, a SATA SSD on ATA port 1, a SAS HDD with a WWN, a second SATA SSD. */
export const FACTS: DiskFacts[] = [
  { name: "loop0", bytes: 16 * GiB, serial: "VIRT-0001", rotational: true, paths: ["pci-0000:00:04.0", "virtio-pci-0000:00:04.0"] },
  {
    name: "loop1",
    bytes: 480 * GiB,
    serial: "S3Z1NB0K100001",
    model: "Samsung SSD 860 EVO 500GB",
    vendor: "ATA",
    rotational: false,
    paths: ["pci-0000:00:1f.2-ata-1", "pci-0000:00:1f.2-ata-1.0"],
  },
  {
    name: "loop2",
    bytes: 4000 * GiB,
    serial: "ZC1234AB",
    wwn: "naa.5000c500a1b2c3d4",
    model: "ST4000NM0025",
    vendor: "SEAGATE",
    rotational: true,
    paths: ["pci-0000:03:00.0-scsi-0:0:2:0"],
  },
  {
    name: "loop3",
    bytes: 480 * GiB,
    serial: "S3Z1NB0K100002",
    model: "Samsung SSD 860 EVO 500GB",
    vendor: "ATA",
    rotational: false,
    paths: ["pci-0000:00:1f.2-ata-2", "pci-0000:00:1f.2-ata-2.0"],
  },
];

export interface SelectCase {
  name: string;
  disks: Array<{ name: string; match: DiskMatch }>;
  /** Chosen kernel names in layout order, or the refusal: the disk and the reason. */
  expect: string[] | { disk: string; reason: "missing" | "ambiguous"; candidates: string[] };
}

export const CASES: SelectCase[] = [
  { name: "kernel name", disks: [{ name: "os", match: { device: "/dev/loop2" } }], expect: ["loop2"] },
  { name: "serial", disks: [{ name: "os", match: { serial: "S3Z1NB0K100002" } }], expect: ["loop3"] },
  { name: "WWN as udev writes it, case-insensitive", disks: [{ name: "os", match: { wwn: "0x5000C500A1B2C3D4" } }], expect: ["loop2"] },
  { name: "WWN as a by-id link", disks: [{ name: "os", match: { device: "/dev/disk/by-id/wwn-0x5000c500a1b2c3d4" } }], expect: ["loop2"] },
  { name: "by-id link ending in the serial", disks: [{ name: "os", match: { device: "/dev/disk/by-id/ata-Samsung_SSD_860_EVO_500GB_S3Z1NB0K100001" } }], expect: ["loop1"] },
  { name: "virtio by-path", disks: [{ name: "os", match: { device: "/dev/disk/by-path/pci-0000:00:04.0" } }], expect: ["loop0"] },
  {
    name: "ATA by-path in either form",
    disks: [
      { name: "a", match: { device: "/dev/disk/by-path/pci-0000:00:1f.2-ata-2" } },
      { name: "b", match: { device: "/dev/disk/by-path/pci-0000:00:1f.2-ata-1.0" } },
    ],
    expect: ["loop3", "loop1"],
  },
  { name: "model substring, any case (the examples/hpc bug)", disks: [{ name: "hdd", match: { model: "st4000" } }], expect: ["loop2"] },
  { name: "vendor substring", disks: [{ name: "sas", match: { vendor: "seagate" } }], expect: ["loop2"] },
  { name: "size range", disks: [{ name: "small", match: { minSize: 8 * GiB, maxSize: 100 * GiB } }], expect: ["loop0"] },
  {
    name: "two SSDs for two disks with the same rules: kernel order",
    disks: [
      { name: "ssd-a", match: { rotational: false } },
      { name: "ssd-b", match: { rotational: false } },
    ],
    expect: ["loop1", "loop3"],
  },
  {
    name: "identity rules first: a later serial rule keeps its disk from an earlier model rule",
    disks: [
      { name: "any-ssd", match: { model: "SSD" } },
      { name: "this-ssd", match: { serial: "S3Z1NB0K100001" } },
    ],
    expect: ["loop3", "loop1"],
  },
  { name: "ambiguous: two SSDs for one disk", disks: [{ name: "os", match: { model: "SSD" } }], expect: { disk: "os", reason: "ambiguous", candidates: ["loop1", "loop3"] } },
  {
    name: "ambiguous: three disks over 10 GiB for two",
    disks: [
      { name: "r1", match: { minSize: 10 * GiB, rotational: true } },
      { name: "r2", match: { minSize: 10 * GiB, rotational: true } },
      { name: "data", match: { minSize: 10 * GiB } },
    ],
    expect: { disk: "data", reason: "ambiguous", candidates: ["loop1", "loop3"] },
  },
  {
    name: "missing: no such serial",
    disks: [{ name: "os", match: { serial: "NOPE" } }],
    expect: { disk: "os", reason: "missing", candidates: ["loop0", "loop1", "loop2", "loop3"] },
  },
  {
    name: "missing: the model of a virtio disk (it has none)",
    disks: [{ name: "os", match: { device: "/dev/loop0", model: "QEMU" } }],
    expect: { disk: "os", reason: "missing", candidates: ["loop0", "loop1", "loop2", "loop3"] },
  },
  {
    name: "missing: the second disk once the first took the only candidate",
    disks: [
      { name: "a", match: { wwn: "5000c500a1b2c3d4" } },
      { name: "b", match: { vendor: "SEAGATE" } },
    ],
    expect: { disk: "b", reason: "missing", candidates: ["loop0", "loop1", "loop3"] },
  },
];
