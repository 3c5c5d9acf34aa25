// Validation of what installers post: bounded, typed, never trusted as-is.

/** `progress`: a running step's bytes so far (the image sync), with `percent` when known. */
export type StepStatus = "started" | "progress" | "finished" | "failed";

export interface NodeReport {
  node: string;
  step: string;
  status: StepStatus;
  bytes?: number;
  files?: number;
  /** 0..100, with status "progress". */
  percent?: number;
  message?: string;
  /** When the head node received it (ISO 8601). */
  time: string;
}

export interface NodeUp {
  node: string;
  /** Image digest the installed system reports. */
  image: string;
  time: string;
}

export const MAX_MESSAGE_CHARS = 4096;

export type Parsed<T> = { ok: true; value: T } | { ok: false; error: string };

function isCount(v: unknown): v is number {
  return typeof v === "number" && Number.isSafeInteger(v) && v >= 0;
}

/** Parses a step report body; the node comes from the URL, never from the body. */
export function parseReport(node: string, body: unknown, now: Date): Parsed<NodeReport> {
  if (typeof body !== "object" || body === null || Array.isArray(body)) return { ok: false, error: "report must be a JSON object" };
  const b = body as Record<string, unknown>;
  if (typeof b.step !== "string" || !/^[a-z][a-z0-9-]{0,31}$/.test(b.step)) return { ok: false, error: "step must be a short lower-case name" };
  if (b.status !== "started" && b.status !== "progress" && b.status !== "finished" && b.status !== "failed") {
    return { ok: false, error: "status must be started, progress, finished or failed" };
  }
  const r: NodeReport = { node, step: b.step, status: b.status, time: now.toISOString() };
  if (b.bytes !== undefined) {
    if (!isCount(b.bytes)) return { ok: false, error: "bytes must be a non-negative integer" };
    r.bytes = b.bytes;
  }
  if (b.files !== undefined) {
    if (!isCount(b.files)) return { ok: false, error: "files must be a non-negative integer" };
    r.files = b.files;
  }
  if (b.percent !== undefined) {
    if (typeof b.percent !== "number" || !(b.percent >= 0 && b.percent <= 100)) return { ok: false, error: "percent must be a number from 0 to 100" };
    r.percent = b.percent;
  }
  if (b.message !== undefined) {
    if (typeof b.message !== "string") return { ok: false, error: "message must be a string" };
    // Keep the end: the tail of a failing command is what explains the failure.
    r.message = b.message.length > MAX_MESSAGE_CHARS ? "…" + b.message.slice(-MAX_MESSAGE_CHARS) : b.message;
  }
  return { ok: true, value: r };
}

export function parseUp(node: string, body: unknown, now: Date): Parsed<NodeUp> {
  if (typeof body !== "object" || body === null || Array.isArray(body)) return { ok: false, error: "UP report must be a JSON object" };
  const img = (body as Record<string, unknown>).image;
  if (typeof img !== "string" || img.length > 200 || !/^[A-Za-z0-9:._-]*$/.test(img)) return { ok: false, error: "image must be a digest string" };
  return { ok: true, value: { node, image: img, time: now.toISOString() } };
}
