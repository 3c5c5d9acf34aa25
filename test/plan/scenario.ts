// A state made by applying an "old" configuration, and a "new" configuration that
// differs from it in every way the planner knows about. Used by golden and CLI tests.
import { newState } from "../../src/state/codec.js";
import type { ClusterState } from "../../src/state/types.js";
import { planChanges } from "../../src/plan/planner.js";
import { recordApplied } from "../../src/plan/record.js";
import type { DesiredCluster } from "../../src/config/types.js";
import type { ImageDigest } from "../../src/plan/desired.js";
import { cluster, digestOf, digests, image, layout, node } from "./fixtures.js";

/** The state after everything in `desired` was applied. */
export function applyAll(desired: DesiredCluster, imageDigests: Map<string, ImageDigest>, state?: ClusterState): ClusterState {
  const s = state ?? newState(desired.name, "6f1c2a4e-0000-4000-8000-00000000abcd");
  const plan = planChanges(desired, s, { imageDigests, allowWipe: desired.nodes.map((n) => n.name) });
  for (const c of plan.imageChanges) recordApplied(s, c, desired);
  for (const c of plan.nodeChanges) recordApplied(s, c, desired);
  s.serial += 1;
  return s;
}

export function mixedScenario() {
  const oldNodes = [...[3, 4, 5, 6, 7, 8, 9, 10, 12, 13, 14, 15].map((i) => node(i)), node(11, { protect: true })];
  for (const i of [9, 12, 15]) oldNodes[oldNodes.findIndex((n) => n.name === node(i).name)] = node(i, { image: "gpu" });
  oldNodes[oldNodes.findIndex((n) => n.name === "node014")] = node(14, { installMode: "nosync" });
  const oldCluster = cluster(oldNodes, {
    images: [image("compute"), image("gpu"), image("old")],
    layouts: [layout("std")],
    digest: digestOf("config-old"),
  });
  const oldDigests = digests({ compute: "compute-v1", gpu: "gpu-v1", old: "old-v1" });
  const state = applyAll(oldCluster, oldDigests);
  // The gpu image's record predates this state: it shows up as a new image.
  delete state.images.gpu;
  // node010 says it runs something else than the state recorded.
  state.nodes.node010!.reported = {
    imageDigest: digestOf("rogue"),
    layoutFingerprint: state.nodes.node010!.applied!.diskLayout.digest,
    phase: "up",
    time: "2026-11-24T20:00:00.000Z",
  };

  const newNodes = [
    node(1),
    node(2),
    node(3, { diskLayout: "big" }),
    ...[4, 5, 6, 7, 8, 10].map((i) => node(i)),
    node(9, { image: "gpu", ip: "10.0.0.109", kernelArgs: ["quiet"] }),
    node(11, { protect: true, diskLayout: "big" }),
    node(12, { image: "gpu" }),
    node(14, { installMode: "nosync" }),
    node(15, { image: "gpu", bmc: { driver: "ipmi", address: "10.1.0.15", user: "admin", password: { kind: "file", path: "/etc/metalform/bmc.pass" }, port: 623 } }),
  ];
  const desired = cluster(newNodes, {
    images: [image("compute"), image("gpu")],
    layouts: [layout("std"), layout("big", "xfs", 8)],
    digest: digestOf("config-new"),
  });
  const imageDigests = digests({ compute: "compute-v2", gpu: "gpu-v1" });
  // node010 already runs compute-v2 per the state's record (it was updated by hand).
  state.nodes.node010!.applied!.image.digest = imageDigests.get("compute")!.digest;
  return { state, desired, imageDigests };
}
