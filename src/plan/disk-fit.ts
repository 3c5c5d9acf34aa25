// Whether a node's disk layout fits the disks it is known to have (its hardware
// inventory in the state, state/inventory.ts): a warning per node whose layout needs
// a disk its inventory lacks, naming the layout's file, line and field. Known disks
// only: without an inventory the installer's own match is the check.
import type { Disk, DiskLayout, Node } from "../config/types.js";
import type { InventoryDisk, InventoryRecord } from "../state/inventory.js";
import { inventoryOf } from "../state/inventory.js";

const MiB = 1024 * 1024;

/** Bytes a layout disk needs at least: its fixed partitions, 1 MiB for each sized by share, the table's overhead, and match.minSize. */
export function bytesNeeded(d: Disk): number {
  let sum = 2 * MiB; // alignment at the start, GPT's backup header at the end
  for (const p of d.partitions) sum += p.size.kind === "bytes" ? p.size.bytes : MiB;
  return Math.max(sum, d.match.minSize ?? 0);
}

function fits(d: Disk, k: InventoryDisk): boolean {
  if (d.match.device !== undefined && d.match.device.replace(/^\/dev\//, "") !== k.name) return false;
  if (d.match.serial !== undefined && d.match.serial !== k.serial) return false;
  if (d.match.model !== undefined && d.match.model !== k.model) return false;
  return k.bytes >= bytesNeeded(d);
}

const gib = (n: number) => `${(n / 1024 ** 3).toFixed(1)} GiB`;

/** The layout disks (by index) no known disk is left for, matched largest need first onto the smallest disk that fits. */
export function unfitDisks(layout: DiskLayout, known: readonly InventoryDisk[]): number[] {
  const order = layout.disks.map((d, i) => ({ d, i })).sort((a, b) => bytesNeeded(b.d) - bytesNeeded(a.d));
  const free = [...known].sort((a, b) => a.bytes - b.bytes);
  const unfit: number[] = [];
  for (const { d, i } of order) {
    const at = free.findIndex((k) => fits(d, k));
    if (at < 0) unfit.push(i);
    else free.splice(at, 1);
  }
  return unfit.sort((a, b) => a - b);
}

export function diskFitWarnings(nodes: readonly Node[], layouts: ReadonlyMap<string, DiskLayout>, inventory: Readonly<Record<string, InventoryRecord>> | undefined): string[] {
  if (!inventory) return [];
  const out: string[] = [];
  for (const n of nodes) {
    const rec = inventoryOf(inventory, n);
    const layout = layouts.get(n.diskLayout);
    if (!rec || !layout) continue;
    const known = rec.facts.disks;
    for (const i of unfitDisks(layout, known)) {
      const d = layout.disks[i]!;
      const has = known.length ? known.map((k) => `${k.name} ${gib(k.bytes)}`).join(", ") : "none";
      out.push(
        `${layout.pos.file}:${layout.pos.line}: diskLayouts.${layout.name}.disks[${i}] (${d.name}) needs ${d.match.device ? `${d.match.device} with ` : ""}at least ${gib(bytesNeeded(d))}, ` +
          `but node ${n.name}'s known disks (inventory of ${rec.time}) are: ${has}`,
      );
    }
  }
  return out;
}
