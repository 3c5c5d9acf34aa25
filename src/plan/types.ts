// The plan model: what would change, node by node and image by image, and why.
// Renderers (terminal, Markdown, JSON) read this; nothing here knows how it prints.
import type { AppliedNode } from "../state/types.js";

/** Terraform-style action lists: a policy tool finds every wipe by looking for "delete". */
export type Action = "create" | "update" | "delete";

export type NodeChangeKind = "install" | "reimage" | "sync" | "update" | "remove";
export type ImageChangeKind = "create" | "update" | "delete";

export const ACTIONS: Record<NodeChangeKind, Action[]> = {
  install: ["create"],
  reimage: ["delete", "create"],
  sync: ["update"],
  update: ["update"],
  remove: ["delete"],
};

export type ReasonCode =
  | "new-node"
  | "never-installed"
  | "layout-changed"
  | "layout-mismatch-on-disk"
  | "install-mode-full"
  | "image-changed"
  | "image-drift"
  | "drift-image"
  | "drift-files"
  | "drift-down"
  | "image-not-synced"
  | "install-skipped"
  | "layout-renamed"
  | "network-changed"
  | "bmc-changed"
  | "boot-changed"
  | "firmware-changed"
  | "kernel-args-changed"
  | "install-mode-changed"
  | "excludes-changed"
  | "files-changed"
  | "scripts-changed"
  | "sync-boot"
  | "change-not-delivered"
  | "removed-from-config"
  | "new-image"
  | "image-content-changed"
  | "image-rollback"
  | "image-removed";

export interface Reason {
  code: ReasonCode;
  message: string;
}

/** One attribute that differs: its path (snake_case, e.g. "network.ip"), before and after. */
export interface FieldChange {
  field: string;
  before: unknown;
  after: unknown;
  /** This field alone makes the change a reimage. */
  forcesReimage: boolean;
  /** Multi-line renderings of before and after (disk layouts), diffed line by line. */
  beforeText?: string;
  afterText?: string;
}

export interface NodeChange {
  node: string;
  kind: NodeChangeKind;
  actions: Action[];
  wipesDisks: boolean;
  protected: boolean;
  reasons: Reason[];
  /** Applied attributes in the state (null: none). */
  before: AppliedNode | null;
  /** Attributes this change would apply (null for remove). */
  after: AppliedNode | null;
  fields: FieldChange[];
}

export interface ImageSummary {
  digest: string;
  size: number;
}

export interface ImageChange {
  image: string;
  kind: ImageChangeKind;
  actions: Action[];
  reasons: Reason[];
  before: ImageSummary | null;
  after: ImageSummary | null;
  fields: FieldChange[];
}

/** A node reported something other than what the state expected. */
export interface Drift {
  node: string;
  field: "image_digest" | "layout_fingerprint";
  expected: string;
  reported: string;
  phase: string;
  reportedAt: string;
}

export interface PlanSummary {
  install: number;
  reimage: number;
  sync: number;
  update: number;
  remove: number;
}

export interface Plan {
  formatVersion: string;
  metalformVersion: string;
  cluster: string;
  /** Digest of the configuration files the plan was made from. */
  configDigest: string;
  /** The state the plan was made against; lineage null when there was none. */
  state: { lineage: string | null; serial: number };
  /** Set when the plan is saved. */
  createdAt: string | null;
  options: { target: string[]; allowWipe: string[] };
  warnings: string[];
  drift: Drift[];
  imageChanges: ImageChange[];
  nodeChanges: NodeChange[];
  unchanged: { nodes: number; images: number };
  summary: PlanSummary;
}

export const PLAN_FORMAT_VERSION = "1.0";

export function hasChanges(plan: Plan): boolean {
  return plan.nodeChanges.length > 0 || plan.imageChanges.length > 0;
}
