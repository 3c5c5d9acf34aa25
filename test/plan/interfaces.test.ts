// A node's interfaces in the plan: one field per interface, so adding, changing and
// removing one is an in-place update (reason network-changed) that names the
// interface and shows it before and after as one line; nodes without interfaces plan
// as before, and the JSON plan stays valid against its schema.
import { describe, expect, it } from "vitest";
import type { Node, NodeInterface } from "../../src/config/types.js";
import { changeText } from "../../src/plan/format.js";
import { planToJson } from "../../src/plan/json.js";
import { planChanges } from "../../src/plan/planner.js";
import { validatePlanJson } from "../../src/plan/schema.js";
import { cluster, digests, image, layout, node } from "./fixtures.js";
import { applyAll } from "./scenario.js";

const V1 = digests({ compute: "compute-v1" });
const base = (nodes: Node[]) => cluster(nodes, { images: [image("compute")], layouts: [layout("std")] });
const plan = (old: Node[], now: Node[]) => planChanges(base(now), applyAll(base(old), V1), { imageDigests: V1 });

const common = { dhcp4: false, dhcp6: false, dns: [], domains: [], routes: [] };
const data0: NodeInterface = { ...common, name: "data0", kind: "ethernet", mac: "52:54:00:12:35:01", network: "data", ipv4: { address: "10.79.0.11", prefix: 24 }, mtu: 9000 };
const bond0: NodeInterface = {
  ...common,
  name: "bond0",
  kind: "bond",
  bond: { mode: "active-backup", members: [{ name: "ens5" }, { mac: "52:54:00:12:35:02" }], miimon: 100 },
  dhcp4: true,
};

describe("interfaces in the plan", () => {
  it("nodes without interfaces plan no change against a state written before interfaces existed", () => {
    expect(plan([node(1)], [node(1)]).nodeChanges).toEqual([]);
    expect(plan([node(1, { interfaces: [data0] })], [node(1, { interfaces: [data0] })]).nodeChanges).toEqual([]);
  });

  it("adding, changing and removing interfaces are sync boots (the installer writes them) naming each interface, shown as one line", () => {
    const p = plan([node(1, { interfaces: [data0] })], [node(1, { interfaces: [{ ...data0, ipv4: { address: "10.79.0.12", prefix: 24 } }, bond0] })]);
    const c = p.nodeChanges[0]!;
    expect(c.kind).toBe("sync");
    expect(c.wipesDisks).toBe(false);
    expect(c.reasons.map((r) => r.code)).toEqual(["sync-boot", "network-changed"]);
    expect(c.fields.map((f) => f.field)).toEqual(["network.interfaces.data0", "network.interfaces.bond0"]);
    expect(changeText(c.fields[0]!.before, c.fields[0]!.after)).toBe(
      "data0: ethernet 52:54:00:12:35:01 network data 10.79.0.11/24 mtu 9000 → data0: ethernet 52:54:00:12:35:01 network data 10.79.0.12/24 mtu 9000",
    );
    expect(changeText(c.fields[1]!.before, c.fields[1]!.after)).toBe("(none) → bond0: bond active-backup [ens5 52:54:00:12:35:02] dhcp4");
    const removed = plan([node(1, { interfaces: [data0, bond0] })], [node(1)]).nodeChanges[0]!;
    expect(removed.fields).toEqual([
      { field: "network.interfaces.data0", before: data0, after: null, forcesReimage: false },
      { field: "network.interfaces.bond0", before: bond0, after: null, forcesReimage: false },
    ]);
  });

  it("a new node lists its interfaces among its attributes; the JSON plan is valid", () => {
    const p = planChanges(base([node(1, { interfaces: [data0, bond0] })]), applyAll(base([]), V1), { imageDigests: V1 });
    expect(p.nodeChanges[0]!.fields.filter((f) => f.field.startsWith("network.interfaces.")).map((f) => f.field)).toEqual(["network.interfaces.data0", "network.interfaces.bond0"]);
    expect(validatePlanJson(planToJson(p))).toEqual([]);
  });
});
