// Which kernel modules the installer ships. Two kinds:
// - ALWAYS_LOAD: what every install needs whatever the hardware (virtio's core, file
//   systems, md, IPMI), loaded in dependency order from load.order;
// - driver classes: whole directories of the kernel tree (network, NVMe, SATA/SAS/RAID
//   HBAs, virtio, md/dm) shipped with their modules.alias lines, and loaded only when a
//   device asks for them (the installer's coldplug: every /sys modalias through modprobe),
//   so a new NIC or HBA driver in the image's kernel is covered without naming it here.

/** Loaded on every boot of the installer, in this order (dependencies first, FACTS.md). */
export const ALWAYS_LOAD = [
  "virtio_ring",
  "virtio",
  "virtio_pci_legacy_dev",
  "virtio_pci_modern_dev",
  "virtio_pci",
  "failover",
  "net_failover",
  "virtio_net",
  "virtio_blk",
  "virtio_scsi",
  "scsi_mod",
  "sd_mod",
  "libata",
  "libahci",
  "ahci",
  "nvme_core",
  "nvme",
  "crc32c_generic",
  "crc16",
  "mbcache",
  "jbd2",
  "ext4",
  "libcrc32c",
  "xfs",
  "fat",
  "vfat",
  "nls_cp437",
  "nls_ascii",
  "nls_utf8",
  "md_mod",
  "raid0",
  "raid1",
  "raid10",
  "raid456",
  "ipmi_msghandler",
  "ipmi_devintf",
  "ipmi_si",
];

export interface DriverClass {
  name: string;
  /** Paths under lib/modules/<version>/kernel/: a directory (ending in "/") or a module file stem. */
  paths: string[];
  /** Path prefixes left out (not disk or network controllers a node boots with). */
  except?: string[];
}

export const DRIVER_CLASSES: DriverClass[] = [
  {
    name: "network",
    paths: ["drivers/net/ethernet/", "drivers/net/virtio_net", "drivers/net/vmxnet3/", "drivers/net/mdio/", "drivers/net/phy/", "drivers/net/mii", "drivers/net/mdio"],
  },
  { name: "nvme", paths: ["drivers/nvme/host/", "drivers/nvme/common/"] },
  { name: "sata", paths: ["drivers/ata/"] },
  {
    name: "scsi-hba",
    paths: ["drivers/scsi/", "drivers/message/fusion/"],
    // Fibre Channel, FCoE and iSCSI initiators reach SAN storage, not the node's own disks.
    except: [
      "drivers/scsi/pcmcia/",
      "drivers/scsi/scsi_debug",
      "drivers/scsi/lpfc/",
      "drivers/scsi/qla2xxx/",
      "drivers/scsi/qla4xxx/",
      "drivers/scsi/bfa/",
      "drivers/scsi/csiostor/",
      "drivers/scsi/fcoe/",
      "drivers/scsi/libfc/",
      "drivers/scsi/fnic/",
      "drivers/scsi/bnx2fc/",
      "drivers/scsi/bnx2i/",
      "drivers/scsi/be2iscsi/",
      "drivers/scsi/cxgbi/",
      "drivers/scsi/qedf/",
      "drivers/scsi/qedi/",
      "drivers/scsi/snic/",
      "drivers/scsi/iscsi_tcp",
      "drivers/scsi/libiscsi",
      "drivers/scsi/scsi_transport_iscsi",
      "drivers/scsi/scsi_transport_fc",
    ],
  },
  { name: "virtio", paths: ["drivers/virtio/", "drivers/block/virtio_blk", "drivers/scsi/virtio_scsi", "drivers/char/hw_random/virtio-rng"] },
  { name: "md-dm", paths: ["drivers/md/"] },
  // EFI variables (efivarfs), for the boot loader's NVRAM entry and boot order; loaded on demand on UEFI nodes.
  { name: "efi", paths: ["fs/efivarfs/"] },
];

/** Whether a module path (relative to kernel/, without .ko) belongs to one of the classes. */
export function inDriverClass(rel: string, classes: readonly DriverClass[] = DRIVER_CLASSES): boolean {
  const hit = (p: string) => (p.endsWith("/") ? rel.startsWith(p) : rel === p);
  return classes.some((c) => c.paths.some(hit) && !(c.except ?? []).some((x) => rel.startsWith(x)));
}
