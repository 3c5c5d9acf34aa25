// The diff engine: a pure function of (desired cluster, state, image digests) to a
// plan. No I/O: the plan command computes image digests first and passes them in.
import { expandHostRange } from "../config/hostrange.js";
import type { DesiredCluster, Node } from "../config/types.js";
import type { AppliedNode, ClusterState, NodeState } from "../state/types.js";
import { METALFORM_VERSION } from "../state/version.js";
import { desiredApplied, LayoutIndex, PlanError, type ImageDigest } from "./desired.js";
import { diffApplied, type LayoutTexts } from "./fields.js";
import { changeText, shortDigest } from "./format.js";
import { markRollbacks } from "./rollback.js";
import {
  ACTIONS,
  PLAN_FORMAT_VERSION,
  type Drift,
  type FieldChange,
  type ImageChange,
  type NodeChange,
  type NodeChangeKind,
  type Plan,
  type Reason,
  type ReasonCode,
} from "./types.js";

export interface PlanOptions {
  /** Content digest and size of every image of the configuration. */
  imageDigests: ReadonlyMap<string, ImageDigest>;
  /** Protected nodes (names or host ranges) whose disks may be wiped. */
  allowWipe?: readonly string[];
  /** Limit the plan to these nodes (names or host ranges). */
  target?: readonly string[];
}

function expandPatterns(patterns: readonly string[], flag: string): Map<string, Set<string>> {
  const out = new Map<string, Set<string>>();
  for (const p of patterns) {
    const names = expandHostRange(p);
    if (!Array.isArray(names)) throw new PlanError("bad-target", `${flag} ${p}: ${names.message}`);
    out.set(p, new Set(names));
  }
  return out;
}

/** Every applied attribute as a field, for installs (before null) and removals (after null). */
export function allFields(a: AppliedNode, side: "before" | "after", layoutText?: string): FieldChange[] {
  const vals: Array<[string, unknown]> = [
    ["image", { ...a.image }],
    ["disk_layout", { ...a.diskLayout }],
    ["network.ip", a.network.ip],
    ["network.mac", a.network.mac],
    ["network.hostname", a.network.hostname],
    ["boot", a.boot],
    ["install_mode", a.installMode],
    ["kernel_args", a.kernelArgs],
    ["exclude_sync", a.excludeSync],
    ["exclude_full", a.excludeFull],
  ];
  if (a.bmc) vals.push(["bmc", { ...a.bmc }]);
  return vals.map(([field, v]) => {
    const fc: FieldChange =
      side === "after"
        ? { field, before: null, after: v, forcesReimage: false }
        : { field, before: v, after: null, forcesReimage: false };
    if (field === "disk_layout" && layoutText !== undefined) {
      if (side === "after") fc.afterText = layoutText;
      else fc.beforeText = layoutText;
    }
    return fc;
  });
}

const UPDATE_REASONS: Array<[RegExp, ReasonCode, string]> = [
  [/^network\./, "network-changed", "network settings changed"],
  [/^bmc/, "bmc-changed", "BMC settings changed"],
  [/^boot$/, "boot-changed", "boot mode changed"],
  [/^kernel_args$/, "kernel-args-changed", "kernel arguments changed"],
  [/^install_mode$/, "install-mode-changed", "install mode changed"],
  [/^exclude_/, "excludes-changed", "rsync exclude lists changed"],
];

function driftOf(name: string, st: NodeState): Drift[] {
  const a = st.applied;
  const r = st.reported;
  if (!a || !r) return [];
  const out: Drift[] = [];
  if (r.imageDigest !== undefined && r.imageDigest !== a.image.digest) {
    out.push({ node: name, field: "image_digest", expected: a.image.digest, reported: r.imageDigest, phase: r.phase, reportedAt: r.time });
  }
  if (r.layoutFingerprint !== undefined && r.layoutFingerprint !== a.diskLayout.digest) {
    out.push({
      node: name,
      field: "layout_fingerprint",
      expected: a.diskLayout.digest,
      reported: r.layoutFingerprint,
      phase: r.phase,
      reportedAt: r.time,
    });
  }
  return out;
}

function nodeChange(
  node: string,
  kind: NodeChangeKind,
  protect: boolean,
  reasons: Reason[],
  before: AppliedNode | null,
  after: AppliedNode | null,
  fields: FieldChange[],
): NodeChange {
  return { node, kind, actions: [...ACTIONS[kind]], wipesDisks: kind === "reimage", protected: protect, reasons, before, after, fields };
}

/** Decides what one configured node that the state knows needs. Undefined: nothing. */
function changeForKnownNode(node: Node, st: NodeState & { applied: AppliedNode }, want: AppliedNode, drift: Drift[], texts: LayoutTexts): NodeChange | undefined {
  const fields = diffApplied(st.applied, want, texts);
  const reasons: Reason[] = [];
  const imageField = fields.find((f) => f.field === "image");
  const layoutField = fields.find((f) => f.field === "disk_layout");
  const imgDrift = drift.find((d) => d.field === "image_digest" && d.reported !== want.image.digest);
  const diskDrift = drift.find((d) => d.field === "layout_fingerprint" && d.reported !== want.diskLayout.digest);

  let wipe = false;
  let copy = false;
  if (layoutField?.forcesReimage) {
    wipe = true;
    reasons.push({ code: "layout-changed", message: `disk layout changed: ${changeText(layoutField.before, layoutField.after)}` });
  } else if (layoutField) {
    reasons.push({ code: "layout-renamed", message: `disk layout renamed, same content: ${changeText(layoutField.before, layoutField.after)}` });
  }
  if (diskDrift) {
    wipe = true;
    reasons.push({
      code: "layout-mismatch-on-disk",
      message: `the node reported disk layout ${shortDigest(diskDrift.reported)} on its disks; the configuration wants ${shortDigest(want.diskLayout.digest)}`,
    });
  }
  if (imageField) {
    copy = true;
    reasons.push({ code: "image-changed", message: `image changed: ${changeText(imageField.before, imageField.after)}` });
  }
  if (imgDrift) {
    copy = true;
    reasons.push({
      code: "image-drift",
      message: `the node reported running image ${shortDigest(imgDrift.reported)}; the configuration wants ${shortDigest(want.image.digest)}`,
    });
  }
  const mode = want.installMode;
  if (mode === "skip" && (wipe || copy)) {
    wipe = copy = false;
    for (const f of fields) f.forcesReimage = false;
    reasons.push({ code: "install-skipped", message: "install mode skip: disks and image are left as they are; only the record changes" });
  } else if (mode === "full" && copy && !wipe) {
    wipe = true;
    if (imageField) imageField.forcesReimage = true;
    reasons.push({ code: "install-mode-full", message: "install mode full: a new image is installed by repartitioning" });
  } else if (mode === "nosync" && copy && !wipe) {
    copy = false;
    reasons.push({ code: "image-not-synced", message: "install mode nosync: the disks are kept as they are and the new image is not copied" });
  }
  for (const [re, code, message] of UPDATE_REASONS) {
    if (fields.some((f) => re.test(f.field)) && !reasons.some((r) => r.code === code)) reasons.push({ code, message });
  }
  const kind: NodeChangeKind | undefined = wipe ? "reimage" : copy ? "sync" : fields.length ? "update" : undefined;
  if (!kind) return undefined;
  return nodeChange(node.name, kind, node.protect, reasons, st.applied, want, fields);
}

/**
 * Compares the configuration with the state. Throws PlanError when a protected node
 * would be wiped without --allow-wipe, or when a node refers to something undefined.
 */
export function planChanges(desired: DesiredCluster, state: ClusterState | undefined, opts: PlanOptions): Plan {
  const target = opts.target ?? [];
  const allowWipe = opts.allowWipe ?? [];
  const warnings: string[] = [];
  const targetSets = expandPatterns(target, "--target");
  const allowSets = expandPatterns(allowWipe, "--allow-wipe");
  const inTarget = (name: string) => targetSets.size === 0 || [...targetSets.values()].some((s) => s.has(name));
  const allowed = new Set<string>();
  for (const s of allowSets.values()) for (const n of s) allowed.add(n);

  const stNodes = state?.nodes ?? {};
  const stateNode = (name: string): NodeState | undefined => (Object.hasOwn(stNodes, name) ? stNodes[name] : undefined);
  const layouts = new LayoutIndex(desired.diskLayouts);
  const texts: LayoutTexts = {
    text(digest) {
      const l = state && Object.hasOwn(state.layouts, digest) ? state.layouts[digest] : undefined;
      if (l) return l.text;
      for (const name of desired.diskLayouts.keys()) {
        const v = layouts.get(name);
        if (v?.digest === digest) return v.text;
      }
      return undefined;
    },
  };

  const nodeChanges: NodeChange[] = [];
  const drift: Drift[] = [];
  const configured = new Set<string>();
  const usedImages = new Set<string>();
  let inScope = 0;
  for (const node of desired.nodes) {
    configured.add(node.name);
    if (!inTarget(node.name)) continue;
    inScope++;
    usedImages.add(node.image);
    const want = desiredApplied(node, desired, opts.imageDigests, layouts);
    const st = stateNode(node.name);
    const layoutTextNow = layouts.get(node.diskLayout)?.text;
    if (!st || !st.applied) {
      const reason: Reason = st
        ? { code: "never-installed", message: "known to the state but never installed" }
        : { code: "new-node", message: "new node: not in the state" };
      nodeChanges.push(nodeChange(node.name, "install", node.protect, [reason], null, want, allFields(want, "after", layoutTextNow)));
      continue;
    }
    const d = driftOf(node.name, st);
    drift.push(...d);
    const c = changeForKnownNode(node, st as NodeState & { applied: AppliedNode }, want, d, texts);
    if (c) nodeChanges.push(c);
  }
  for (const name of Object.keys(stNodes).sort()) {
    if (configured.has(name) || !inTarget(name)) continue;
    inScope++;
    const st = stNodes[name]!;
    drift.push(...driftOf(name, st));
    const before = st.applied ?? null;
    const fields = before ? allFields(before, "before", texts.text(before.diskLayout.digest)) : [];
    nodeChanges.push(
      nodeChange(name, "remove", false, [
        { code: "removed-from-config", message: "not in the configuration: its DHCP reservation and boot files go; its disks are not touched" },
      ], before, null, fields),
    );
  }
  nodeChanges.sort((a, b) => (a.node < b.node ? -1 : a.node > b.node ? 1 : 0));

  // Protected nodes: a wipe needs the operator to name the node. Only reimages count:
  // a first install has no recorded disks to protect, and remove never touches disks.
  const refused = nodeChanges.filter((c) => c.wipesDisks && c.protected && !allowed.has(c.node));
  if (refused.length) {
    const list = refused.map((c) => `  ${c.node}: ${c.reasons.map((r) => r.message).join("; ")}`).join("\n");
    const flags = refused.map((c) => `--allow-wipe ${c.node}`).join(" ");
    throw new PlanError(
      "protected-wipe",
      `refusing to plan: ${refused.length} protected node${refused.length === 1 ? "" : "s"} would have ${refused.length === 1 ? "its" : "their"} disks wiped:\n${list}\n` +
        `These nodes have protect: true. If the data on their disks may be destroyed, plan again with ${flags}`,
      refused.map((c) => c.node),
    );
  }
  for (const [pattern, names] of allowSets) {
    const used = nodeChanges.some((c) => c.wipesDisks && names.has(c.node));
    if (!used) warnings.push(`--allow-wipe ${pattern}: this plan wipes no disks of ${names.size === 1 ? "that node" : "those nodes"}`);
  }

  // Images: all of them without --target; with it, only those targeted nodes use (and no removals).
  const imageChanges: ImageChange[] = [];
  let imagesUnchanged = 0;
  const stImages = state?.images ?? {};
  for (const name of [...desired.images.keys()].sort()) {
    if (targetSets.size && !usedImages.has(name)) continue;
    const d = opts.imageDigests.get(name);
    if (!d) throw new PlanError("missing-image-digest", `no content digest was computed for image "${name}"`);
    const before = Object.hasOwn(stImages, name) ? stImages[name]! : undefined;
    const after = { digest: d.digest, size: d.size };
    if (!before) {
      imageChanges.push({
        image: name,
        kind: "create",
        actions: ["create"],
        reasons: [{ code: "new-image", message: "new image: not in the state" }],
        before: null,
        after,
        fields: [
          { field: "digest", before: null, after: d.digest, forcesReimage: false },
          { field: "size", before: null, after: d.size, forcesReimage: false },
        ],
      });
    } else if (before.digest !== d.digest || before.size !== d.size) {
      const fields: FieldChange[] = [];
      if (before.digest !== d.digest) fields.push({ field: "digest", before: before.digest, after: d.digest, forcesReimage: false });
      if (before.size !== d.size) fields.push({ field: "size", before: before.size, after: d.size, forcesReimage: false });
      imageChanges.push({
        image: name,
        kind: "update",
        actions: ["update"],
        reasons: [{ code: "image-content-changed", message: `content changed: ${shortDigest(before.digest)} → ${shortDigest(d.digest)}` }],
        before: { digest: before.digest, size: before.size },
        after,
        fields,
      });
    } else {
      imagesUnchanged++;
    }
  }
  if (!targetSets.size) {
    for (const name of Object.keys(stImages).sort()) {
      if (desired.images.has(name)) continue;
      const b = stImages[name]!;
      imageChanges.push({
        image: name,
        kind: "delete",
        actions: ["delete"],
        reasons: [{ code: "image-removed", message: "not in the configuration: its exported files go" }],
        before: { digest: b.digest, size: b.size },
        after: null,
        fields: [
          { field: "digest", before: b.digest, after: null, forcesReimage: false },
          { field: "size", before: b.size, after: null, forcesReimage: false },
        ],
      });
    }
  }

  if (targetSets.size) {
    const total = new Set([...configured, ...Object.keys(stNodes)]).size;
    warnings.unshift(
      `--target is in effect: this plan covers ${inScope} of ${total} nodes; changes to other nodes and image removals are left out. ` +
        "Use it to repair or to roll out in steps, then plan without it.",
    );
    for (const [pattern, names] of targetSets) {
      if (![...names].some((n) => configured.has(n) || Object.hasOwn(stNodes, n))) {
        warnings.push(`--target ${pattern} matches no node in the configuration or the state`);
      }
    }
  }

  if (state?.cluster !== undefined && state.cluster !== desired.name) {
    warnings.push(`the state belongs to cluster "${state.cluster}" but the configuration describes "${desired.name}": check --config and --state`);
  }

  markRollbacks(imageChanges, nodeChanges, opts.imageDigests);
  const summary = { install: 0, reimage: 0, sync: 0, update: 0, remove: 0 };
  for (const c of nodeChanges) summary[c.kind]++;
  return {
    formatVersion: PLAN_FORMAT_VERSION,
    metalformVersion: METALFORM_VERSION,
    cluster: desired.name,
    configDigest: desired.digest,
    state: { lineage: state?.lineage ?? null, serial: state?.serial ?? 0 },
    createdAt: null,
    options: { target: [...target], allowWipe: [...allowWipe] },
    warnings,
    drift,
    imageChanges,
    nodeChanges,
    unchanged: { nodes: inScope - nodeChanges.length, images: imagesUnchanged },
    summary,
  };
}
