// The node agent's protocol, head side (the agent: boot/node-agent.ts). Pure: what an
// agent's report and a work item's outcome may hold, and how a work item is written
// for a shell to read. Every call carries the node credential from the node's address.
//   POST nodes/<node>/agent  {image, bootId, kernel, uptime, files: {path: sha256}}  at start and on demand
//   GET  nodes/<node>/work   204: nothing to do; 200: "id=N\nkind=KIND\n"            every poll (the heartbeat)
//   POST nodes/<node>/done   {id, status: ok|failed, message?, bytes?, files?}       after a work item
import type { Parsed } from "./reports.js";

/**
 * What the head can ask of a running node. `report`: send the full report now (what
 * `status` and a refresh read). Kinds for later (a live image sync, a graceful reboot)
 * join this union: an agent that does not know a kind answers it failed.
 */
export type WorkKind = "report";

export interface WorkItem {
  /** Increasing per head; the agent echoes it in its `done`. */
  id: number;
  kind: WorkKind;
}

export interface AgentReport {
  node: string;
  /** Image digest the node was installed with (/etc/metalform/image). */
  image: string;
  /** /proc/sys/kernel/random/boot_id: changes at every boot. */
  bootId: string;
  kernel: string;
  /** Seconds since the node booted, when it reported. */
  uptime: number;
  /** sha256 of each file metalform wrote ("missing" when gone). */
  files: Record<string, string>;
  /** When the head received it (ISO 8601). */
  time: string;
}

export interface WorkDone {
  node: string;
  id: number;
  status: "ok" | "failed";
  message?: string;
  bytes?: number;
  files?: number;
  time: string;
}

const MAX_FILES = 256;
const MAX_MESSAGE = 1024;
const DIGEST = /^([0-9a-f]{64}|missing)$/;
const PATH = /^\/[A-Za-z0-9._+@/-]{0,254}$/;

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function isCount(v: unknown): v is number {
  return typeof v === "number" && Number.isSafeInteger(v) && v >= 0;
}

function text(v: unknown, re: RegExp): v is string {
  return typeof v === "string" && re.test(v);
}

function parseFiles(v: unknown): Parsed<Record<string, string>> {
  if (!isObject(v)) return { ok: false, error: "files must be an object of path: sha256" };
  const entries = Object.entries(v);
  if (entries.length > MAX_FILES) return { ok: false, error: `files: at most ${MAX_FILES}` };
  const out: Record<string, string> = {};
  for (const [path, digest] of entries) {
    if (!PATH.test(path) || path.includes("/../")) return { ok: false, error: `files: ${JSON.stringify(path.slice(0, 80))} is not an absolute path of plain characters` };
    if (!text(digest, DIGEST)) return { ok: false, error: `files: ${path}: digest must be 64 hex digits or "missing"` };
    out[path] = digest;
  }
  return { ok: true, value: out };
}

/** An agent's report; the node comes from the URL, never from the body. */
export function parseAgentReport(node: string, body: unknown, now: Date): Parsed<AgentReport> {
  if (!isObject(body)) return { ok: false, error: "agent report must be a JSON object" };
  if (!text(body.image, /^[A-Za-z0-9:._-]{0,200}$/)) return { ok: false, error: "image must be a digest string" };
  if (!text(body.bootId, /^[0-9a-f-]{1,64}$/)) return { ok: false, error: "bootId must be the kernel's boot id" };
  if (!text(body.kernel, /^[A-Za-z0-9._+~-]{1,128}$/)) return { ok: false, error: "kernel must be a kernel release (uname -r)" };
  if (!isCount(body.uptime)) return { ok: false, error: "uptime must be whole seconds" };
  const files = parseFiles(body.files);
  if (!files.ok) return files;
  return { ok: true, value: { node, image: body.image, bootId: body.bootId, kernel: body.kernel, uptime: body.uptime, files: files.value, time: now.toISOString() } };
}

export function parseWorkDone(node: string, body: unknown, now: Date): Parsed<WorkDone> {
  if (!isObject(body)) return { ok: false, error: "done must be a JSON object" };
  if (!isCount(body.id)) return { ok: false, error: "id must be the work item's number" };
  if (body.status !== "ok" && body.status !== "failed") return { ok: false, error: "status must be ok or failed" };
  const d: WorkDone = { node, id: body.id, status: body.status, time: now.toISOString() };
  if (body.message !== undefined) {
    if (typeof body.message !== "string") return { ok: false, error: "message must be a string" };
    if (body.message) d.message = body.message.slice(0, MAX_MESSAGE);
  }
  for (const k of ["bytes", "files"] as const) {
    if (body[k] === undefined) continue;
    if (!isCount(body[k])) return { ok: false, error: `${k} must be a non-negative integer` };
    d[k] = body[k];
  }
  return { ok: true, value: d };
}

/** A work item as the agent reads it: `key=value` lines, values without spaces or quotes. */
export function renderWork(item: WorkItem): string {
  return `id=${item.id}\nkind=${item.kind}\n`;
}
