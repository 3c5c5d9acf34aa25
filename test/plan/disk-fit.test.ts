// The plan's fit warning (issue 19): a node whose disk layout needs more than the
// disks its hardware inventory lists is named, with the layout's file, line and field.
import { describe, expect, it } from "vitest";
import { planChanges } from "../../src/plan/planner.js";
import { bytesNeeded, unfitDisks } from "../../src/plan/disk-fit.js";
import { newState } from "../../src/state/codec.js";
import type { InventoryDisk, InventoryRecord } from "../../src/state/inventory.js";
import { cluster, digests, layout, node } from "./fixtures.js";

const V1 = digests({ compute: "compute-v1" });
const GiB = 1024 ** 3;

function record(mac: string, disks: InventoryDisk[]): InventoryRecord {
  return { mac, time: "2026-12-05T01:00:00.000Z", facts: { dmi: {}, cpu: { logical: 2 }, memoryBytes: 2 * GiB, disks, nics: [], bmc: null } };
}

describe("plan: layouts against known disks", () => {
  // layout("std"): sda with 512 MiB ESP + 4 GiB swap + rest.
  const std = layout("std");

  it("a layout disk needs its fixed partitions, a MiB per share, and the table's overhead", () => {
    expect(bytesNeeded(std.disks[0]!)).toBe(512 * 2 ** 20 + 4 * GiB + 2 ** 20 + 2 * 2 ** 20);
    expect(unfitDisks(std, [{ name: "sda", bytes: 8 * GiB }])).toEqual([]);
    expect(unfitDisks(std, [{ name: "sda", bytes: 4 * GiB }])).toEqual([0]);
    // match.device names the disk: a big vdb does not stand in for sda.
    expect(unfitDisks(std, [{ name: "vdb", bytes: 100 * GiB }])).toEqual([0]);
  });

  it("warns with file:line and field when a node's known disk is too small; quiet when it fits or nothing is known", () => {
    const n1 = node(1);
    const n2 = node(2);
    const n3 = node(3);
    const state = newState("lab");
    state.inventory = {
      [n1.mac]: record(n1.mac, [{ name: "sda", bytes: 2 * GiB, model: "QEMU HARDDISK" }]),
      [n2.mac]: record(n2.mac, [{ name: "sda", bytes: 500 * GiB }]),
    };
    const plan = planChanges(cluster([n1, n2, n3]), state, { imageDigests: V1 });
    const fit = plan.warnings.filter((w) => w.includes("known disks"));
    expect(fit).toEqual([
      "/cfg/cluster.yaml:1: diskLayouts.std.disks[0] (sda) needs /dev/sda with at least 4.5 GiB, but node node001's known disks (inventory of 2026-12-05T01:00:00.000Z) are: sda 2.0 GiB",
    ]);
  });

  it("a node with fewer disks than its layout: each missing one is named", () => {
    const two = { ...std, name: "two", disks: [std.disks[0]!, { ...std.disks[0]!, name: "sdb", match: { device: "/dev/sdb" } }] };
    const n = node(1, { diskLayout: "two" });
    const state = newState("lab");
    state.inventory = { [n.mac]: record(n.mac, [{ name: "sda", bytes: 100 * GiB }]) };
    const plan = planChanges(cluster([n], { layouts: [two] }), state, { imageDigests: V1 });
    expect(plan.warnings.filter((w) => w.includes("known disks"))).toEqual([expect.stringContaining("diskLayouts.two.disks[1] (sdb) needs /dev/sdb")]);
  });
});
