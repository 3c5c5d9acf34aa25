// What a node (or a service on its behalf) reported, as apply follows it: the typed
// message every part passes along — the head's services emit it, serve streams it over
// the control socket, provisioners store it in PostgreSQL, the executor consumes it.
// `parseObservation` is the one check for an observation that arrives as JSON.
import { isPhase, type Phase } from "./phases.js";

export interface Observation {
  phase?: Phase;
  /** Bytes so far in the current phase (sync) and the total when known. */
  bytes?: number;
  total?: number;
  /** Progress of the current phase when the node knows it better than bytes/total. */
  percent?: number;
  /** The installer reported a failure: no retry will help. */
  failed?: string;
  message?: string;
  imageDigest?: string;
  layoutFingerprint?: string;
  /**
   * The node's install moved (its provisioner died): boot it again from the start.
   * Does not count against the retries; the text says what happened.
   */
  requeue?: string;
}

/** An observation about one named node. */
export interface NodeObservation extends Observation {
  node: string;
}

type Rec = Record<string, unknown>;
const isRec = (v: unknown): v is Rec => typeof v === "object" && v !== null && !Array.isArray(v);
const isStr = (v: unknown, max: number): v is string => typeof v === "string" && v.length <= max;

const NUMBERS = ["bytes", "total", "percent"] as const;
const TEXTS = ["failed", "message", "imageDigest", "layoutFingerprint", "requeue"] as const;

/** An observation without its node, from JSON; undefined when any field is malformed. */
export function parseObservationBody(v: unknown): Observation | undefined {
  if (!isRec(v)) return undefined;
  const o: Observation = {};
  if (v.phase !== undefined) {
    if (typeof v.phase !== "string" || !isPhase(v.phase)) return undefined;
    o.phase = v.phase;
  }
  for (const k of NUMBERS) {
    const x = v[k];
    if (x === undefined) continue;
    if (typeof x !== "number" || !Number.isFinite(x) || x < 0) return undefined;
    o[k] = x;
  }
  for (const k of TEXTS) {
    const x = v[k];
    if (x === undefined) continue;
    if (!isStr(x, 65536)) return undefined;
    o[k] = x;
  }
  return o;
}

/** A node observation from JSON (the control socket); undefined when malformed. */
export function parseObservation(v: unknown): NodeObservation | undefined {
  if (!isRec(v) || !isStr(v.node, 256)) return undefined;
  const body = parseObservationBody(v);
  return body ? { node: v.node, ...body } : undefined;
}
