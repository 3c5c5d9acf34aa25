// Reading and writing the state file's text. Parsing checks the shape so that a
// hand-edited or truncated file is refused with a message instead of being
// half-understood (and later overwritten).
import { randomUUID } from "node:crypto";
import { StateError } from "./errors.js";
import { isStoppedOutcome } from "../progress/outcome.js";
import { inventoryRecordWellFormed } from "./inventory.js";
import { STATE_FORMAT_VERSION, type ClusterState, type NodeReport } from "./types.js";
import { METALFORM_VERSION } from "./version.js";

/** A fresh, empty state with a new lineage and serial 0 (never written yet). */
export function newState(cluster?: string, lineage: string = randomUUID()): ClusterState {
  const s: ClusterState = {
    formatVersion: STATE_FORMAT_VERSION,
    metalformVersion: METALFORM_VERSION,
    lineage,
    serial: 0,
    images: {},
    layouts: {},
    nodes: {},
  };
  if (cluster !== undefined) s.cluster = cluster;
  return s;
}

export function serializeState(state: ClusterState): string {
  return JSON.stringify(state, null, 2) + "\n";
}

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);

type Corrupt = (why: string) => StateError;

/** Parses a state file's text; `where` names the file in messages. */
export function parseState(text: string, where: string): ClusterState {
  const corrupt: Corrupt = (why) =>
    new StateError(
      "corrupt",
      `state file ${where} is corrupt (${why}); it was left untouched. ` + `Restore it from ${where}.backup or from version control, or move it aside to start afresh.`,
    );
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (e) {
    throw corrupt(`not valid JSON: ${(e as Error).message}`);
  }
  if (!isObj(doc)) throw corrupt("not a JSON object");
  checkHeader(doc, { where, corrupt });
  for (const k of ["images", "layouts", "nodes"] as const) if (!isObj(doc[k])) throw corrupt(`"${k}" missing or not an object`);
  for (const [name, img] of Object.entries(doc.images as object)) {
    if (!isObj(img) || typeof img.digest !== "string" || typeof img.size !== "number") throw corrupt(`image "${name}" malformed`);
  }
  for (const [digest, l] of Object.entries(doc.layouts as object)) {
    if (!isObj(l) || typeof l.name !== "string" || typeof l.text !== "string") throw corrupt(`layout "${digest}" malformed`);
  }
  for (const [name, n] of Object.entries(doc.nodes as object)) checkNode(name, n, corrupt);
  if (doc.inventory !== undefined) {
    if (!isObj(doc.inventory)) throw corrupt(`"inventory" not an object`);
    for (const [mac, r] of Object.entries(doc.inventory)) if (!inventoryRecordWellFormed(r)) throw corrupt(`inventory of "${mac}" malformed`);
  }
  return doc as unknown as ClusterState;
}

/** Format version (refusing a newer one), lineage and serial. */
function checkHeader(doc: Record<string, unknown>, ctx: { where: string; corrupt: Corrupt }): void {
  const { where, corrupt } = ctx;
  const fv = doc.formatVersion;
  if (typeof fv !== "number" || !Number.isInteger(fv) || fv < 1) throw corrupt("formatVersion missing or not a positive integer");
  if (fv > STATE_FORMAT_VERSION) {
    const by = typeof doc.metalformVersion === "string" ? ` by metalform ${doc.metalformVersion}` : "";
    throw new StateError(
      "newer-format",
      `state file ${where} was written${by} in format ${fv}; this metalform (${METALFORM_VERSION}) reads format ` +
        `${STATE_FORMAT_VERSION} and older. Upgrade metalform; the file was left untouched.`,
    );
  }
  if (typeof doc.lineage !== "string" || doc.lineage === "") throw corrupt("lineage missing");
  if (typeof doc.serial !== "number" || !Number.isInteger(doc.serial) || doc.serial < 0) throw corrupt("serial missing or invalid");
}

/** Checks a node's entry; a report in the old string form is read as {phase, outcome}. */
function checkNode(name: string, n: unknown, corrupt: Corrupt): void {
  if (!isObj(n)) throw corrupt(`node "${name}" malformed`);
  if (n.applied !== undefined && !appliedWellFormed(n.applied)) throw corrupt(`node "${name}": applied attributes malformed`);
  const r = n.reported;
  if (r !== undefined && (!isObj(r) || typeof r.phase !== "string" || typeof r.time !== "string" || (r.outcome !== undefined && !isStoppedOutcome(r.outcome)))) {
    throw corrupt(`node "${name}": report malformed`);
  }
  if (r !== undefined) n.reported = upgradeReport(r as unknown as NodeReport);
}

/**
 * Before reports had an `outcome`, a node that stopped short of UP was recorded as
 * the string "failed:PHASE" or "interrupted:PHASE"; read as {phase, outcome}.
 */
export function upgradeReport(r: NodeReport): NodeReport {
  const m = /^(failed|interrupted):(.+)$/.exec(r.phase);
  if (r.outcome !== undefined || !m || !isStoppedOutcome(m[1])) return r;
  return { ...r, phase: m[2]!, outcome: m[1] };
}

/** The applied attributes the planner reads are there, with their types. */
function appliedWellFormed(a: unknown): boolean {
  return (
    isObj(a) &&
    isObj(a.image) &&
    typeof a.image.digest === "string" &&
    isObj(a.diskLayout) &&
    typeof a.diskLayout.digest === "string" &&
    isObj(a.network) &&
    typeof a.network.ip === "string" &&
    typeof a.boot === "string" &&
    typeof a.installMode === "string" &&
    Array.isArray(a.kernelArgs) &&
    Array.isArray(a.excludeSync) &&
    Array.isArray(a.excludeFull)
  );
}
