// The diff engine: a pure function of (desired cluster, state, image digests) to a
// plan. No I/O: the plan command computes image digests first and passes them in.
import { diskFitWarnings } from "./disk-fit.js";
import { bootLoaderProblem } from "../boot/bootloader.js";
import { expandHostRange } from "../config/hostrange.js";
import type { DesiredCluster, Node } from "../config/types.js";
import type { AppliedNode, ClusterState, NodeState } from "../state/types.js";
import { METALFORM_VERSION } from "../state/version.js";
import { desiredApplied, LayoutIndex, PlanError, type ImageDigest } from "./desired.js";
import { needsNode, shortFieldName } from "./field-effects.js";
import { diffApplied, type LayoutTexts } from "./fields.js";
import { changeText, shortDigest } from "./format.js";
import { planImages } from "./image-changes.js";
import { driftReasons, withDrift, type ObservedNode } from "./refresh.js";
import { markRollbacks } from "./rollback.js";
import { ACTIONS, PLAN_FORMAT_VERSION, type Drift, type FieldChange, type NodeChange, type NodeChangeKind, type Plan, type Reason, type ReasonCode } from "./types.js";

export interface PlanOptions {
  /** Content digest and size of every image of the configuration. */
  imageDigests: ReadonlyMap<string, ImageDigest>;
  /** Protected nodes (names or host ranges) whose disks may be wiped. */
  allowWipe?: readonly string[];
  /** Limit the plan to these nodes (names or host ranges). */
  target?: readonly string[];
  /** `--refresh`: what the nodes' agents report they run (refresh.ts); absent: the state alone. */
  observed?: ReadonlyMap<string, ObservedNode>;
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
    ...(a.network.interfaces ?? []).map((i): [string, unknown] => [`network.interfaces.${i.name}`, i]),
    ["boot", a.boot],
    ["install_mode", a.installMode],
    ["kernel_args", a.kernelArgs],
    ["exclude_sync", a.excludeSync],
    ["exclude_full", a.excludeFull],
  ];
  if (a.bmc) vals.push(["bmc", { ...a.bmc }]);
  if (a.firmware) vals.push(["firmware", { ...a.firmware }]);
  if (a.files) vals.push(["files", a.files.map((f) => ({ ...f }))]);
  if (a.scripts) vals.push(["scripts", { ...a.scripts }]);
  return vals.map(([field, v]) => {
    const fc: FieldChange = side === "after" ? { field, before: null, after: v, forcesReimage: false } : { field, before: v, after: null, forcesReimage: false };
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
  [/^firmware$/, "firmware-changed", "firmware changed (the next network boot uses the new loader)"],
  [/^kernel_args$/, "kernel-args-changed", "kernel arguments changed"],
  [/^install_mode$/, "install-mode-changed", "install mode changed"],
  [/^exclude_/, "excludes-changed", "rsync exclude lists changed"],
  [/^files$/, "files-changed", "the node's files changed"],
  [/^scripts$/, "scripts-changed", "initialize or finalize script changed"],
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

interface NodeChangeParts {
  node: string;
  kind: NodeChangeKind;
  protect: boolean;
  reasons: Reason[];
  before: AppliedNode | null;
  after: AppliedNode | null;
  fields: FieldChange[];
}

function nodeChange(c: NodeChangeParts): NodeChange {
  const { node, kind, protect, reasons, before, after, fields } = c;
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
  const delivery = deliveryReason({ fields, mode, booted: wipe || copy });
  if (delivery) reasons.push(delivery.reason);
  copy ||= delivery?.syncBoot ?? false;
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
  return nodeChange({ node: node.name, kind, protect: node.protect, reasons, before: st.applied, after: want, fields });
}

/**
 * Changes that need the node (field-effects.ts) and that no install or sync delivers
 * already: a sync boot delivers them, so that the state records them only once the
 * node reported UP. Install modes nosync and skip write nothing on the node: the
 * plan says the change does not reach it.
 */
function deliveryReason(c: { fields: FieldChange[]; mode: Node["installMode"]; booted: boolean }): { reason: Reason; syncBoot: boolean } | undefined {
  const needed = c.fields.filter((f) => f.field !== "image" && needsNode(f.field));
  if (!needed.length || c.booted) return undefined;
  const names = [...new Set(needed.map((f) => shortFieldName(f.field)))].join(", ");
  if (c.mode === "nosync" || c.mode === "skip") {
    return {
      reason: { code: "change-not-delivered", message: `not delivered: ${names} changed but install mode ${c.mode} writes nothing on the node; only the record changes` },
      syncBoot: false,
    };
  }
  return { reason: { code: "sync-boot", message: `sync boot: ${names} changed` }, syncBoot: true };
}

/** The nodes a plan covers (--target) and those whose disks it may wipe (--allow-wipe), by the pattern that named them. */
interface Scope {
  targetSets: Map<string, Set<string>>;
  allowSets: Map<string, Set<string>>;
  inTarget(name: string): boolean;
  allowed: Set<string>;
}

function planScope(opts: PlanOptions): Scope {
  const targetSets = expandPatterns(opts.target ?? [], "--target");
  const allowSets = expandPatterns(opts.allowWipe ?? [], "--allow-wipe");
  const targeted = [...targetSets.values()];
  const allowed = new Set<string>();
  for (const s of allowSets.values()) for (const n of s) allowed.add(n);
  return { targetSets, allowSets, inTarget: (name) => targetSets.size === 0 || targeted.some((s) => s.has(name)), allowed };
}

/** Layout texts by digest, for diffs: the state keeps those it applied, the configuration has the rest. */
function layoutTexts(desired: DesiredCluster, state: ClusterState | undefined, layouts: LayoutIndex): LayoutTexts {
  return {
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
}

/** Node changes (sorted by name) and reported drift, for the nodes in scope. */
interface NodePlan {
  nodeChanges: NodeChange[];
  drift: Drift[];
  /** Names of all configured nodes, in scope or not. */
  configured: Set<string>;
  /** Images the nodes in scope use. */
  usedImages: Set<string>;
  inScope: number;
}

function planNodes(desired: DesiredCluster, state: ClusterState | undefined, ctx: { opts: PlanOptions; scope: Scope }): NodePlan {
  const stNodes = state?.nodes ?? {};
  const layouts = new LayoutIndex(desired.diskLayouts);
  const texts = layoutTexts(desired, state, layouts);
  const out: NodePlan = { nodeChanges: [], drift: [], configured: new Set(), usedImages: new Set(), inScope: 0 };
  for (const node of desired.nodes) {
    out.configured.add(node.name);
    if (!ctx.scope.inTarget(node.name)) continue;
    out.inScope++;
    out.usedImages.add(node.image);
    const want = desiredApplied(node, desired, ctx.opts.imageDigests, layouts);
    const st = Object.hasOwn(stNodes, node.name) ? stNodes[node.name] : undefined;
    if (!st || !st.applied) {
      out.nodeChanges.push(firstInstall(node, { known: st !== undefined, want, layoutText: layouts.get(node.diskLayout)?.text }));
      continue;
    }
    const d = driftOf(node.name, st);
    out.drift.push(...d);
    const known = st as NodeState & { applied: AppliedNode };
    const drifted = driftReasons(ctx.opts.observed?.get(node.name), known.applied.image.digest);
    const sync = () => nodeChange({ node: node.name, kind: "sync", protect: node.protect, reasons: [], before: known.applied, after: want, fields: [] });
    const c = withDrift(changeForKnownNode(node, known, want, d, texts), want.installMode === "skip" || want.installMode === "nosync" ? [] : drifted, sync);
    if (c) out.nodeChanges.push(c);
  }
  for (const name of Object.keys(stNodes).sort()) {
    if (out.configured.has(name) || !ctx.scope.inTarget(name)) continue;
    out.inScope++;
    const st = stNodes[name]!;
    out.drift.push(...driftOf(name, st));
    out.nodeChanges.push(removal(name, st, texts));
  }
  out.nodeChanges.sort((a, b) => (a.node < b.node ? -1 : a.node > b.node ? 1 : 0));
  return out;
}

/** A configured node never installed: new to the state, or known to it but never applied. */
function firstInstall(node: Node, s: { known: boolean; want: AppliedNode; layoutText: string | undefined }): NodeChange {
  const reason: Reason = s.known ? { code: "never-installed", message: "known to the state but never installed" } : { code: "new-node", message: "new node: not in the state" };
  return nodeChange({ node: node.name, kind: "install", protect: node.protect, reasons: [reason], before: null, after: s.want, fields: allFields(s.want, "after", s.layoutText) });
}

/** A node the state knows and the configuration no longer has. */
function removal(name: string, st: NodeState, texts: LayoutTexts): NodeChange {
  const before = st.applied ?? null;
  const fields = before ? allFields(before, "before", texts.text(before.diskLayout.digest)) : [];
  const reason: Reason = { code: "removed-from-config", message: "not in the configuration: its DHCP reservation and boot files go; its disks are not touched" };
  return nodeChange({ node: name, kind: "remove", protect: false, reasons: [reason], before, after: null, fields });
}

/**
 * Protected nodes: a wipe needs the operator to name the node. Only reimages count:
 * a first install has no recorded disks to protect, and remove never touches disks.
 */
function refuseProtectedWipes(nodeChanges: NodeChange[], allowed: Set<string>): void {
  const refused = nodeChanges.filter((c) => c.wipesDisks && c.protected && !allowed.has(c.node));
  if (!refused.length) return;
  const list = refused.map((c) => `  ${c.node}: ${c.reasons.map((r) => r.message).join("; ")}`).join("\n");
  const flags = refused.map((c) => `--allow-wipe ${c.node}`).join(" ");
  throw new PlanError(
    "protected-wipe",
    `refusing to plan: ${refused.length} protected node${refused.length === 1 ? "" : "s"} would have ${refused.length === 1 ? "its" : "their"} disks wiped:\n${list}\n` +
      `These nodes have protect: true. If the data on their disks may be destroyed, plan again with ${flags}`,
    refused.map((c) => c.node),
  );
}

/** What the reader of the plan should know about its scope and flags, in the order shown. */
function planWarnings(desired: DesiredCluster, state: ClusterState | undefined, ctx: { scope: Scope; nodes: NodePlan }): string[] {
  const { scope, nodes } = ctx;
  const warnings: string[] = [];
  const stNodes = state?.nodes ?? {};
  if (scope.targetSets.size) {
    const total = new Set([...nodes.configured, ...Object.keys(stNodes)]).size;
    warnings.push(
      `--target is in effect: this plan covers ${nodes.inScope} of ${total} nodes; changes to other nodes and image removals are left out. ` +
        "Use it to repair or to roll out in steps, then plan without it.",
    );
  }
  for (const [pattern, names] of scope.allowSets) {
    const used = nodes.nodeChanges.some((c) => c.wipesDisks && names.has(c.node));
    if (!used) warnings.push(`--allow-wipe ${pattern}: this plan wipes no disks of ${names.size === 1 ? "that node" : "those nodes"}`);
  }
  for (const [pattern, names] of scope.targetSets) {
    if (![...names].some((n) => nodes.configured.has(n) || Object.hasOwn(stNodes, n))) {
      warnings.push(`--target ${pattern} matches no node in the configuration or the state`);
    }
  }
  if (state?.cluster !== undefined && state.cluster !== desired.name) {
    warnings.push(`the state belongs to cluster "${state.cluster}" but the configuration describes "${desired.name}": check --config and --state`);
  }
  warnings.push(...bootLoaderWarnings(desired, nodes.nodeChanges));
  warnings.push(...diskFitWarnings(desired.nodes, desired.diskLayouts, state?.inventory));
  return warnings;
}

/**
 * `boot: local` nodes the installer runs on whose disks get no boot loader
 * (bootloader.ts), one line per reason: nothing would boot them once installed. (A
 * `boot: pxe` node without one still boots from the network; its installer says so in
 * the progress, and the plan stays quiet about what has always been so.)
 */
function bootLoaderWarnings(desired: DesiredCluster, changes: readonly NodeChange[]): string[] {
  const byReason = new Map<string, string[]>();
  const installs = new Set(changes.filter((c) => c.kind === "install" || c.kind === "reimage" || c.kind === "sync").map((c) => c.node));
  for (const n of desired.nodes) {
    if (n.boot !== "local" || !installs.has(n.name)) continue;
    const image = desired.images.get(n.image);
    const layout = desired.diskLayouts.get(n.diskLayout);
    const problem = image && layout ? bootLoaderProblem(n, image, layout) : undefined;
    if (problem !== undefined) byReason.set(problem, [...(byReason.get(problem) ?? []), n.name]);
  }
  return [...byReason].map(([reason, names]) => {
    const shown = names.length > 5 ? `${names.slice(0, 5).join(", ")} and ${names.length - 5} more` : names.join(", ");
    return `no boot loader on the disks of ${shown} (boot: local): ${reason}; ${names.length === 1 ? "it does" : "they do"} not boot once installed`;
  });
}

/**
 * Compares the configuration with the state. Throws PlanError when a protected node
 * would be wiped without --allow-wipe, or when a node refers to something undefined.
 */
export function planChanges(desired: DesiredCluster, state: ClusterState | undefined, opts: PlanOptions): Plan {
  const scope = planScope(opts);
  const nodes = planNodes(desired, state, { opts, scope });
  refuseProtectedWipes(nodes.nodeChanges, scope.allowed);
  // Images: all of them without --target; with it, only those targeted nodes use (and no removals).
  const images = planImages(desired, state, { imageDigests: opts.imageDigests, ...(scope.targetSets.size ? { only: nodes.usedImages } : {}) });
  markRollbacks(images.imageChanges, nodes.nodeChanges, opts.imageDigests);
  const summary = { install: 0, reimage: 0, sync: 0, update: 0, remove: 0 };
  for (const c of nodes.nodeChanges) summary[c.kind]++;
  return {
    formatVersion: PLAN_FORMAT_VERSION,
    metalformVersion: METALFORM_VERSION,
    cluster: desired.name,
    configDigest: desired.digest,
    state: { lineage: state?.lineage ?? null, serial: state?.serial ?? 0 },
    createdAt: null,
    options: { target: [...(opts.target ?? [])], allowWipe: [...(opts.allowWipe ?? [])] },
    warnings: planWarnings(desired, state, { scope, nodes }),
    drift: nodes.drift,
    imageChanges: images.imageChanges,
    nodeChanges: nodes.nodeChanges,
    unchanged: { nodes: nodes.inScope - nodes.nodeChanges.length, images: images.imagesUnchanged },
    summary,
  };
}
