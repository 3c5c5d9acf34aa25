import { describe, expect, it } from "vitest";
import { planChanges, type PlanOptions } from "../../src/plan/planner.js";
import { PlanError } from "../../src/plan/desired.js";
import type { DesiredCluster, Node } from "../../src/config/types.js";
import type { ClusterState } from "../../src/state/types.js";
import type { NodeChangeKind, ReasonCode } from "../../src/plan/types.js";
import { cluster, digestOf, digests, image, layout, node } from "./fixtures.js";
import { applyAll } from "./scenario.js";

const V1 = digests({ compute: "compute-v1", gpu: "gpu-v1" });
const V2 = digests({ compute: "compute-v2", gpu: "gpu-v1" });
const LAYOUTS = [layout("std"), layout("big", "xfs", 8), { ...layout("std"), name: "std-renamed" }];
const IMAGES = [image("compute"), image("gpu")];

const base = (nodes: Node[]) => cluster(nodes, { images: IMAGES, layouts: LAYOUTS });
/** State after applying node001 as `old` describes it. */
const stateOf = (old: Node[]) => applyAll(base(old), V1);

interface Row {
  name: string;
  old: Node[] | null;
  now: Node[];
  digests?: typeof V1;
  mutate?: (s: ClusterState) => void;
  opts?: Partial<PlanOptions>;
  expect: { node: string; kind: NodeChangeKind | null; reasons?: ReasonCode[]; fields?: string[]; forces?: string[] };
}

const REPORT_TIME = "2026-11-24T20:00:00.000Z";

const rows: Row[] = [
  { name: "new node → install", old: null, now: [node(1)], expect: { node: "node001", kind: "install", reasons: ["new-node"] } },
  {
    name: "known but never installed → install",
    old: [],
    now: [node(1)],
    mutate: (s) => (s.nodes.node001 = { reported: { phase: "discovered", time: REPORT_TIME } }),
    expect: { node: "node001", kind: "install", reasons: ["never-installed"] },
  },
  { name: "nothing changed → no change", old: [node(1)], now: [node(1)], expect: { node: "node001", kind: null } },
  {
    name: "disk layout content changed → reimage, layout forces it",
    old: [node(1)],
    now: [node(1, { diskLayout: "big" })],
    expect: { node: "node001", kind: "reimage", reasons: ["layout-changed"], fields: ["disk_layout"], forces: ["disk_layout"] },
  },
  {
    name: "disk layout renamed, same content → update, no wipe",
    old: [node(1)],
    now: [node(1, { diskLayout: "std-renamed" })],
    expect: { node: "node001", kind: "update", reasons: ["layout-renamed"], fields: ["disk_layout"], forces: [] },
  },
  {
    name: "node reports a different layout on disk → reimage",
    old: [node(1)],
    now: [node(1)],
    mutate: (s) => (s.nodes.node001!.reported = { layoutFingerprint: digestOf("other-layout"), phase: "up", time: REPORT_TIME }),
    expect: { node: "node001", kind: "reimage", reasons: ["layout-mismatch-on-disk"], fields: [] },
  },
  {
    name: "image content changed → sync",
    old: [node(1)],
    now: [node(1)],
    digests: V2,
    expect: { node: "node001", kind: "sync", reasons: ["image-changed"], fields: ["image"], forces: [] },
  },
  {
    name: "image switched → sync",
    old: [node(1)],
    now: [node(1, { image: "gpu" })],
    expect: { node: "node001", kind: "sync", reasons: ["image-changed"], fields: ["image"] },
  },
  {
    name: "node reports another image than recorded → sync (drift)",
    old: [node(1)],
    now: [node(1)],
    mutate: (s) => (s.nodes.node001!.reported = { imageDigest: digestOf("rogue"), phase: "up", time: REPORT_TIME }),
    expect: { node: "node001", kind: "sync", reasons: ["image-drift"], fields: [] },
  },
  {
    name: "install mode full + image changed → reimage, image forces it",
    old: [node(1, { installMode: "full" })],
    now: [node(1, { installMode: "full" })],
    digests: V2,
    expect: { node: "node001", kind: "reimage", reasons: ["image-changed", "install-mode-full"], forces: ["image"] },
  },
  {
    name: "install mode nosync + image changed → update, not copied",
    old: [node(1, { installMode: "nosync" })],
    now: [node(1, { installMode: "nosync" })],
    digests: V2,
    expect: { node: "node001", kind: "update", reasons: ["image-changed", "image-not-synced"], fields: ["image"] },
  },
  {
    name: "install mode skip + layout changed → update, disks untouched",
    old: [node(1, { installMode: "skip" })],
    now: [node(1, { installMode: "skip", diskLayout: "big" })],
    expect: { node: "node001", kind: "update", reasons: ["layout-changed", "install-skipped"], fields: ["disk_layout"], forces: [] },
  },
  {
    name: "install mode changed → update",
    old: [node(1)],
    now: [node(1, { installMode: "full" })],
    expect: { node: "node001", kind: "update", reasons: ["install-mode-changed"], fields: ["install_mode"] },
  },
  {
    name: "ip and mac changed → sync boot (the node's network configuration is on its disk)",
    old: [node(1)],
    now: [node(1, { ip: "10.0.9.9", mac: "52:54:00:99:99:99" })],
    expect: { node: "node001", kind: "sync", reasons: ["sync-boot", "network-changed"], fields: ["network.ip", "network.mac"] },
  },
  {
    name: "only the mac changed → sync boot (networkd's configuration matches the NIC by MAC)",
    old: [node(1)],
    now: [node(1, { mac: "52:54:00:99:99:99" })],
    expect: { node: "node001", kind: "sync", reasons: ["sync-boot", "network-changed"], fields: ["network.mac"] },
  },
  {
    name: "ip changed, install mode nosync → update that says the node is not reached",
    old: [node(1, { installMode: "nosync" })],
    now: [node(1, { installMode: "nosync", ip: "10.0.9.9" })],
    expect: { node: "node001", kind: "update", reasons: ["change-not-delivered", "network-changed"], fields: ["network.ip"] },
  },
  {
    name: "ip changed, install mode full → reimage (full always repartitions)",
    old: [node(1, { installMode: "full" })],
    now: [node(1, { installMode: "full", ip: "10.0.9.9" })],
    expect: { node: "node001", kind: "reimage", fields: ["network.ip"] },
  },
  {
    name: "hostname changed → sync boot",
    old: [node(1)],
    now: [node(1, { hostname: "n1.lab" })],
    expect: { node: "node001", kind: "sync", reasons: ["sync-boot", "network-changed"], fields: ["network.hostname"] },
  },
  {
    name: "boot mode changed → update",
    old: [node(1)],
    now: [node(1, { boot: "local" })],
    expect: { node: "node001", kind: "update", reasons: ["boot-changed"], fields: ["boot"] },
  },
  {
    name: "kernel args changed → sync boot (GRUB's settings on the disk carry them)",
    old: [node(1)],
    now: [node(1, { kernelArgs: ["quiet"] })],
    expect: { node: "node001", kind: "sync", reasons: ["sync-boot", "kernel-args-changed"], fields: ["kernel_args"] },
  },
  {
    name: "exclude lists changed → update",
    old: [node(1)],
    now: [node(1, { excludeSync: ["/scratch/*"] })],
    expect: { node: "node001", kind: "update", reasons: ["excludes-changed"], fields: ["exclude_sync"] },
  },
  {
    name: "BMC address and password reference changed → sync boot (the installer sets the BMC)",
    old: [node(1)],
    now: [node(1, { bmc: { driver: "ipmi", address: "10.1.9.9", user: "admin", password: { kind: "file", path: "/etc/bmc.pass" }, port: 623 } })],
    expect: { node: "node001", kind: "sync", reasons: ["sync-boot", "bmc-changed"], fields: ["bmc.address", "bmc.password"] },
  },
  {
    name: "in-band BMC settings (VLAN, user slot, privilege) changed → sync boot (the installer sets them)",
    old: [node(1)],
    now: [
      node(1, {
        bmc: { driver: "ipmi", address: "10.1.0.1", user: "admin", password: { kind: "env", name: "BMC_PASSWORD" }, port: 623, vlan: 42, userId: 3, privilege: "operator" },
      }),
    ],
    expect: { node: "node001", kind: "sync", reasons: ["sync-boot", "bmc-changed"], fields: ["bmc.vlan", "bmc.userId", "bmc.privilege"] },
  },
  {
    name: "BMC removed → update",
    old: [node(1)],
    now: [node(1, { bmc: undefined })],
    expect: { node: "node001", kind: "update", reasons: ["bmc-changed"], fields: ["bmc"] },
  },
  {
    name: "gone from the configuration → remove",
    old: [node(1), node(2)],
    now: [node(2)],
    expect: { node: "node001", kind: "remove", reasons: ["removed-from-config"] },
  },
  {
    name: "protected node, layout changed, allowed → reimage",
    old: [node(1, { protect: true })],
    now: [node(1, { protect: true, diskLayout: "big" })],
    opts: { allowWipe: ["node[001-002]"] },
    expect: { node: "node001", kind: "reimage", reasons: ["layout-changed"] },
  },
  {
    name: "protected node, image changed → sync needs no permission",
    old: [node(1, { protect: true })],
    now: [node(1, { protect: true })],
    digests: V2,
    expect: { node: "node001", kind: "sync", reasons: ["image-changed"] },
  },
];

describe("planChanges: every action and reason", () => {
  it.each(rows)("$name", (row) => {
    const state = row.old === null ? undefined : stateOf(row.old);
    if (state && row.mutate) row.mutate(state);
    const plan = planChanges(base(row.now), state, { imageDigests: row.digests ?? V1, ...row.opts });
    const c = plan.nodeChanges.find((x) => x.node === row.expect.node);
    if (row.expect.kind === null) {
      expect(c).toBeUndefined();
      expect(plan.summary).toEqual({ install: 0, reimage: 0, sync: 0, update: 0, remove: 0 });
      return;
    }
    expect(c, JSON.stringify(plan.nodeChanges, null, 1)).toBeDefined();
    expect(c!.kind).toBe(row.expect.kind);
    expect(c!.actions).toEqual({ install: ["create"], reimage: ["delete", "create"], sync: ["update"], update: ["update"], remove: ["delete"] }[row.expect.kind]);
    expect(c!.wipesDisks).toBe(row.expect.kind === "reimage");
    if (row.expect.reasons) expect(c!.reasons.map((r) => r.code)).toEqual(row.expect.reasons);
    if (row.expect.fields) expect(c!.fields.map((f) => f.field)).toEqual(row.expect.fields);
    if (row.expect.forces) expect(c!.fields.filter((f) => f.forcesReimage).map((f) => f.field)).toEqual(row.expect.forces);
    expect(plan.summary[row.expect.kind]).toBe(1);
    for (const f of c!.fields) if (c!.kind !== "install" && c!.kind !== "remove") expect(f.before).not.toEqual(f.after);
  });
});

describe("planChanges: protected nodes, targets, drift, images", () => {
  it("refuses to wipe protected nodes, naming each and the flag to pass", () => {
    const state = stateOf([node(1, { protect: true }), node(2, { protect: true }), node(3)]);
    const now = base([node(1, { protect: true, diskLayout: "big" }), node(2, { protect: true, diskLayout: "big" }), node(3, { diskLayout: "big" })]);
    let err: unknown;
    try {
      planChanges(now, state, { imageDigests: V1, allowWipe: ["node002"] });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(PlanError);
    const pe = err as PlanError;
    expect(pe.code).toBe("protected-wipe");
    expect(pe.nodes).toEqual(["node001"]);
    expect(pe.message).toContain("node001: disk layout changed");
    expect(pe.message).toContain("--allow-wipe node001");
    expect(pe.message).not.toContain("node003");
  });

  it("warns about --allow-wipe that wipes nothing", () => {
    const state = stateOf([node(1)]);
    const plan = planChanges(base([node(1)]), state, { imageDigests: V1, allowWipe: ["node001"] });
    expect(plan.warnings).toEqual(["--allow-wipe node001: this plan wipes no disks of that node"]);
  });

  it("--target limits nodes and images, warns, and leaves out removals elsewhere", () => {
    const state = stateOf([node(1), node(2), node(3, { image: "gpu" }), node(9)]);
    const now = base([node(1), node(2), node(3, { image: "gpu" })]);
    const plan = planChanges(now, state, { imageDigests: digests({ compute: "compute-v2", gpu: "gpu-v2" }), target: ["node[001-002]", "nodeX"] });
    expect(plan.nodeChanges.map((c) => `${c.node}:${c.kind}`)).toEqual(["node001:sync", "node002:sync"]);
    expect(plan.imageChanges.map((c) => c.image)).toEqual(["compute"]);
    expect(plan.warnings[0]).toMatch(/^--target is in effect: this plan covers 2 of 4 nodes/);
    expect(plan.warnings).toContain("--target nodeX matches no node in the configuration or the state");
    expect(plan.options.target).toEqual(["node[001-002]", "nodeX"]);
    const all = planChanges(now, state, { imageDigests: digests({ compute: "compute-v2", gpu: "gpu-v2" }) });
    expect(all.nodeChanges.map((c) => `${c.node}:${c.kind}`)).toEqual(["node001:sync", "node002:sync", "node003:sync", "node009:remove"]);
    expect(all.warnings).toEqual([]);
  });

  it("a targeted removal is planned", () => {
    const state = stateOf([node(1), node(9)]);
    const plan = planChanges(base([node(1)]), state, { imageDigests: V1, target: ["node009"] });
    expect(plan.nodeChanges.map((c) => `${c.node}:${c.kind}`)).toEqual(["node009:remove"]);
    expect(plan.nodeChanges[0]!.reasons[0]!.message).toContain("disks are not touched");
  });

  it("rejects a malformed --target", () => {
    expect(() => planChanges(base([node(1)]), undefined, { imageDigests: V1, target: ["node[3-1]"] })).toThrow(/--target node\[3-1\]: .*backwards/);
  });

  it("reports drift against the state, before changes", () => {
    const state = stateOf([node(1), node(2)]);
    state.nodes.node001!.reported = { imageDigest: digestOf("rogue"), layoutFingerprint: digestOf("odd"), phase: "up", time: REPORT_TIME };
    state.nodes.node002!.reported = {
      imageDigest: state.nodes.node002!.applied!.image.digest,
      layoutFingerprint: state.nodes.node002!.applied!.diskLayout.digest,
      phase: "up",
      time: REPORT_TIME,
    };
    const plan = planChanges(base([node(1), node(2)]), state, { imageDigests: V1 });
    expect(plan.drift.map((d) => `${d.node}:${d.field}:${d.reported === digestOf("rogue") || d.reported === digestOf("odd")}`)).toEqual([
      "node001:image_digest:true",
      "node001:layout_fingerprint:true",
    ]);
    expect(plan.nodeChanges.map((c) => `${c.node}:${c.kind}`)).toEqual(["node001:reimage"]);
    expect(plan.nodeChanges[0]!.reasons.map((r) => r.code)).toEqual(["layout-mismatch-on-disk", "image-drift"]);
  });

  it("plans image creation, update and removal; counts unchanged", () => {
    const s = stateOf([node(1)]);
    s.images.old = { digest: digestOf("old"), size: 5 };
    const desired = cluster([node(1)], { images: [image("compute"), image("gpu"), image("new")], layouts: LAYOUTS });
    const plan = planChanges(desired, s, { imageDigests: digests({ compute: "compute-v2", gpu: "gpu-v1", new: "new-v1" }) });
    expect(plan.imageChanges.map((c) => `${c.image}:${c.kind}:${c.actions.join("+")}`)).toEqual(["compute:update:update", "new:create:create", "old:delete:delete"]);
    expect(plan.unchanged).toEqual({ nodes: 0, images: 1 });
    expect(plan.imageChanges[0]!.fields.map((f) => f.field)).toEqual(["digest"]);
  });

  it("binds the plan to the configuration digest and the state's lineage and serial", () => {
    const s = stateOf([node(1)]);
    const plan = planChanges(base([node(1)]), s, { imageDigests: V1 });
    expect(plan.configDigest).toBe(base([]).digest);
    expect(plan.state).toEqual({ lineage: s.lineage, serial: s.serial });
    expect(planChanges(base([node(1)]), undefined, { imageDigests: V1 }).state).toEqual({ lineage: null, serial: 0 });
  });

  it("fails clearly on a missing image digest or an undefined layout", () => {
    expect(() => planChanges(base([node(1)]), undefined, { imageDigests: new Map() })).toThrow(/no content digest was computed for image "compute"/);
    const bad: DesiredCluster = base([node(1, { diskLayout: "nope" })]);
    expect(() => planChanges(bad, undefined, { imageDigests: V1 })).toThrow(/disk layout "nope" is not defined/);
  });

  it("never puts a secret value in the plan (only the reference)", () => {
    process.env.BMC_PASSWORD = "hunter2-secret-value";
    try {
      const plan = planChanges(base([node(1)]), undefined, { imageDigests: V1 });
      const text = JSON.stringify(plan);
      expect(text).toContain('"password":{"kind":"env","name":"BMC_PASSWORD"}');
      expect(text).not.toContain("hunter2");
    } finally {
      delete process.env.BMC_PASSWORD;
    }
  });

  it("groups nothing away: every changed node is listed once, sorted", () => {
    const nodes = Array.from({ length: 40 }, (_, i) => node(i + 1));
    const plan = planChanges(base(nodes), stateOf(nodes.slice(0, 20)), { imageDigests: V2 });
    expect(plan.nodeChanges.map((c) => c.node)).toEqual(nodes.map((n) => n.name));
    expect(plan.summary).toEqual({ install: 20, reimage: 0, sync: 20, update: 0, remove: 0 });
  });
});

describe("recordReport and foreign states", () => {
  it("a recorded report shows up as drift and drives the next plan", async () => {
    const { recordReport } = await import("../../src/plan/record.js");
    const state = stateOf([node(1)]);
    recordReport(state, "node001", { imageDigest: digestOf("rogue"), phase: "up", time: REPORT_TIME });
    const plan = planChanges(base([node(1)]), state, { imageDigests: V1 });
    expect(plan.drift.map((d) => d.field)).toEqual(["image_digest"]);
    expect(plan.nodeChanges.map((c) => c.kind)).toEqual(["sync"]);
    recordReport(state, "node777", { phase: "discovered", time: REPORT_TIME });
    expect(state.nodes.node777!.applied).toBeUndefined();
  });

  it("warns when the state belongs to another cluster", () => {
    const state = stateOf([node(1)]);
    state.cluster = "other";
    const plan = planChanges(base([node(1)]), state, { imageDigests: V1 });
    expect(plan.warnings).toEqual([`the state belongs to cluster "other" but the configuration describes "lab": check --config and --state`]);
  });
});

describe("planChanges: boot loaders", () => {
  it("warns once per reason for boot: local nodes the installer runs on whose disks get no boot loader; boot: pxe nodes stay quiet", () => {
    // The fixtures' std layout is GPT without a BIOS boot partition: GRUB for BIOS cannot embed itself.
    const nodes = [node(1, { boot: "local" }), node(2, { boot: "local" }), node(3)];
    const plan = planChanges(base(nodes), undefined, { imageDigests: V1 });
    expect(plan.warnings).toEqual([
      "no boot loader on the disks of node001, node002 (boot: local): disk sda has a GPT table but no BIOS boot partition (type: bios, 1MiB) for GRUB; they do not boot once installed",
    ]);
    // Nothing to install: nothing to warn about.
    expect(planChanges(base(nodes), applyAll(base(nodes), V1), { imageDigests: V1 }).warnings).toEqual([]);
  });
});
