// A firmware change is a field change like the others: an in-place update (the next
// network boot uses the new loader), shown with before and after; BIOS stays implicit,
// so states written before firmware settings existed plan no change for BIOS nodes.
import { describe, expect, it } from "vitest";
import type { Firmware, Node } from "../../src/config/types.js";
import { changeText } from "../../src/plan/format.js";
import { planChanges } from "../../src/plan/planner.js";
import { cluster, digests, image, layout, node } from "./fixtures.js";
import { applyAll } from "./scenario.js";

const V1 = digests({ compute: "compute-v1" });
const base = (nodes: Node[]) => cluster(nodes, { images: [image("compute")], layouts: [layout("std")] });
const fw = (over: Partial<Firmware>): Firmware => ({ mode: "bios", secureBoot: false, arch: "x86_64", persistentBootDevice: false, ...over });
const plan = (old: Node[], now: Node[]) => planChanges(base(now), applyAll(base(old), V1), { imageDigests: V1 });

describe("firmware in the plan", () => {
  it("BIOS nodes carry no firmware attribute: an old state plans no change", () => {
    const p = plan([node(1)], [node(1)]);
    expect(p.nodeChanges).toEqual([]);
    const fresh = planChanges(base([node(1)]), applyAll(base([]), V1), { imageDigests: V1 });
    expect(fresh.nodeChanges[0]!.after!.firmware).toBeUndefined();
  });

  it("BIOS → UEFI with Secure Boot is a sync boot (the disk's boot loader changes) with reason firmware-changed, before and after", () => {
    const p = plan([node(1)], [node(1, { firmware: fw({ mode: "uefi", secureBoot: true }) })]);
    const c = p.nodeChanges[0]!;
    expect(c.kind).toBe("sync");
    expect(c.wipesDisks).toBe(false);
    expect(c.reasons.map((r) => r.code)).toEqual(["sync-boot", "firmware-changed"]);
    expect(c.fields).toEqual([{ field: "firmware", before: { mode: "bios", secureBoot: false }, after: { mode: "uefi", secureBoot: true }, forcesReimage: false }]);
    // As people read it in the terminal and Markdown plans.
    expect(changeText(c.fields[0]!.before, c.fields[0]!.after)).toBe("bios → uefi (Secure Boot)");
  });

  it("a new UEFI node shows its firmware among its attributes; only the boot device's persistence changing is no plan change", () => {
    const uefi = node(1, { firmware: fw({ mode: "uefi" }) });
    const p = planChanges(base([uefi]), applyAll(base([]), V1), { imageDigests: V1 });
    expect(p.nodeChanges[0]!.fields.find((f) => f.field === "firmware")).toMatchObject({ before: null, after: { mode: "uefi", secureBoot: false } });
    const same = plan([uefi], [node(1, { firmware: fw({ mode: "uefi", persistentBootDevice: true }) })]);
    expect(same.nodeChanges).toEqual([]);
  });
});
