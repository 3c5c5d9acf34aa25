// What each kind of field change needs before it is true on the node: the one table
// the planner reads (and docs/operations.md documents). A change the state records
// must have reached what it describes: the head's services (head-only), or the node
// itself — which only the installer writes to (the node agent only reports), so
// changes that need the node are delivered by a sync boot.

/**
 * - `head-only`: the head's DHCP, boot scripts or future installs; nothing on the node changes.
 * - `next-boot`: the node uses it when it next boots (kernel arguments, firmware's loader).
 * - `running-node`: files on the node's disks or its BMC, which the installer writes.
 * - `reinstall`: only repartitioning delivers it (the disk layout).
 */
export type FieldEffect = "head-only" | "next-boot" | "running-node" | "reinstall";

export interface FieldEffectRow {
  /** A field path as in FieldChange.field, or a prefix ending in "." for a group. */
  field: string;
  effect: FieldEffect;
  /** Why, in the words of the plan and the docs. */
  why: string;
}

export const FIELD_EFFECTS: readonly FieldEffectRow[] = [
  { field: "disk_layout", effect: "reinstall", why: "the disks are repartitioned (a reimage)" },
  { field: "image", effect: "running-node", why: "the image is synced onto the node's disks" },
  { field: "network.ip", effect: "running-node", why: "the installer writes the node's network configuration; DHCP's reservation changes on the head" },
  { field: "network.hostname", effect: "running-node", why: "the installer writes /etc/hostname and /etc/hosts" },
  {
    field: "network.mac",
    effect: "running-node",
    why: "the installer writes network configuration that matches the NIC by MAC (systemd-networkd); DHCP's reservation changes on the head",
  },
  { field: "network.interfaces.", effect: "running-node", why: "the installer writes the interfaces' configuration for the image's network stack" },
  { field: "files", effect: "running-node", why: "the installer writes the node's files" },
  { field: "scripts", effect: "running-node", why: "initialize and finalize run in the installer" },
  { field: "bmc.driver", effect: "head-only", why: "how the head talks to the BMC" },
  { field: "bmc.port", effect: "head-only", why: "how the head talks to the BMC" },
  { field: "bmc.password", effect: "running-node", why: "the installer sets the BMC's password through its local interface" },
  { field: "bmc.", effect: "running-node", why: "the installer sets the BMC's LAN settings through its local interface" },
  { field: "bmc", effect: "head-only", why: "the head starts or stops managing the BMC (a new BMC's LAN settings are written by the next install or sync)" },
  { field: "kernel_args", effect: "next-boot", why: "the boot script (and GRUB's settings on the disk) carry them; the node uses them when it next boots" },
  { field: "firmware", effect: "next-boot", why: "the next network boot uses the new loader; the disk's boot loader is installed for it by the installer" },
  { field: "boot", effect: "head-only", why: "the boot script the head serves" },
  { field: "install_mode", effect: "head-only", why: "used by the next install" },
  { field: "exclude_sync", effect: "head-only", why: "used by the next sync" },
  { field: "exclude_full", effect: "head-only", why: "used by the next full install" },
];

/** The row of a field: an exact match first, then the longest group prefix; unknown fields count as needing the node. */
export function fieldEffect(field: string): FieldEffectRow {
  const exact = FIELD_EFFECTS.find((r) => r.field === field);
  if (exact) return exact;
  const group = FIELD_EFFECTS.filter((r) => r.field.endsWith(".") && field.startsWith(r.field)).sort((a, b) => b.field.length - a.field.length)[0];
  return group ?? { field, effect: "running-node", why: "not classified: delivered to the node to be safe" };
}

/** Whether a change of this field reaches the node only through the node itself (today: a sync boot). */
export function needsNode(field: string): boolean {
  const e = fieldEffect(field).effect;
  return e === "running-node" || e === "next-boot";
}

/** `ip`, `hostname`, `kernel args`: how a field is named in a reason. */
export function shortFieldName(field: string): string {
  return field.replace(/^network\./, "").replace(/[._]/g, " ");
}
