// The control protocol between `metalform apply` and a running `metalform serve`:
// JSON lines over a Unix socket in the state directory (`.metalform/serve.sock`,
// mode 0600). Pure codecs: parsing never throws, every field is checked.
//
//   apply → serve  {"type":"hello","protocol":1,"pid":…,"cluster":…,"configPath":…,
//                   "configDigest":…,"imageDigests":{image:digest},"installers":{image:path}}
//   serve → apply  {"type":"welcome","protocol":1,"pid":…,"cluster":…,"configDigest":…,"reconfigured":bool}
//                  or {"type":"error","message":…} and the connection closes
//   apply → serve  {"type":"boot","id":N,"node":…,"mode":"install","reason":…,"allowWipe":bool}
//                  {"type":"boot","id":N,"node":…,"mode":"local"}
//                  {"type":"remove","id":N,"node":…}
//                  {"type":"release","id":N}   (every node this session set boots locally again)
//   serve → apply  {"type":"ok","id":N} | {"type":"error","id":N,"message":…}
//                  {"type":"observation","observation":{node, phase?, …}}   (any time after welcome)
// A session that ends without "release" (apply died) is released by serve.
import { join } from "node:path";
import { StringDecoder } from "node:string_decoder";
import { parseObservation, type NodeObservation } from "../progress/observation.js";
import type { BootMode } from "./boot-control.js";

export const CONTROL_PROTOCOL = 1;
/** No message is longer than this; a longer line ends the connection. */
export const MAX_LINE_BYTES = 256 * 1024;

/** Where serve listens: in the configuration's local directory (.metalform), whatever the state backend. */
export function controlSocketPath(localDir: string): string {
  return join(localDir, "serve.sock");
}

export interface Hello {
  type: "hello";
  protocol: number;
  pid: number;
  cluster: string;
  configPath: string;
  configDigest: string;
  imageDigests: Record<string, string>;
  installers: Record<string, string>;
}

export type ClientMessage = Hello | { type: "boot"; id: number; node: string; bootMode: BootMode } | { type: "remove"; id: number; node: string } | { type: "release"; id: number };

export type ServerMessage =
  | { type: "welcome"; protocol: number; pid: number; cluster: string; configDigest: string; reconfigured: boolean }
  | { type: "ok"; id: number }
  | { type: "error"; id?: number; message: string }
  | { type: "observation"; observation: NodeObservation };

type Rec = Record<string, unknown>;
const isRec = (v: unknown): v is Rec => typeof v === "object" && v !== null && !Array.isArray(v);
const isStr = (v: unknown, max = 4096): v is string => typeof v === "string" && v.length <= max;
const isId = (v: unknown): v is number => typeof v === "number" && Number.isSafeInteger(v) && v >= 0;
const NODE_RE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/;

function stringMap(v: unknown, maxEntries = 1024): Record<string, string> | undefined {
  if (!isRec(v)) return undefined;
  const entries = Object.entries(v);
  if (entries.length > maxEntries) return undefined;
  const out: Record<string, string> = {};
  for (const [k, x] of entries) {
    if (!isStr(x) || k.length > 256) return undefined;
    out[k] = x;
  }
  return out;
}

export type Parsed<T> = { ok: true; message: T } | { ok: false; error: string; id?: number };

function parseLine(line: string): { ok: true; value: Rec } | { ok: false; error: string } {
  let v: unknown;
  try {
    v = JSON.parse(line);
  } catch {
    return { ok: false, error: "not JSON" };
  }
  if (!isRec(v) || typeof v.type !== "string") return { ok: false, error: "expected an object with a type" };
  return { ok: true, value: v };
}

export function parseClientMessage(line: string): Parsed<ClientMessage> {
  const p = parseLine(line);
  if (!p.ok) return p;
  const v = p.value;
  const id = isId(v.id) ? v.id : undefined;
  const bad = (what: string): Parsed<ClientMessage> => ({ ok: false, error: `${String(v.type)}: ${what}`, ...(id !== undefined ? { id } : {}) });
  switch (v.type) {
    case "hello": {
      const imageDigests = stringMap(v.imageDigests);
      const installers = stringMap(v.installers);
      if (!isId(v.protocol) || !isId(v.pid) || !isStr(v.cluster, 256) || !isStr(v.configPath) || !isStr(v.configDigest, 256) || !imageDigests || !installers) {
        return bad("malformed");
      }
      return {
        ok: true,
        message: { type: "hello", protocol: v.protocol, pid: v.pid, cluster: v.cluster, configPath: v.configPath, configDigest: v.configDigest, imageDigests, installers },
      };
    }
    case "boot": {
      if (id === undefined) return bad("no id");
      if (!isStr(v.node) || !NODE_RE.test(v.node)) return bad("bad node name");
      if (v.mode === "local") return { ok: true, message: { type: "boot", id, node: v.node, bootMode: { mode: "local" } } };
      if (v.mode !== "install" || !isStr(v.reason, 16384) || typeof v.allowWipe !== "boolean") return bad("expected mode local, or mode install with reason and allowWipe");
      return { ok: true, message: { type: "boot", id, node: v.node, bootMode: { mode: "install", reason: v.reason, allowWipe: v.allowWipe } } };
    }
    case "remove":
      if (id === undefined) return bad("no id");
      if (!isStr(v.node) || !NODE_RE.test(v.node)) return bad("bad node name");
      return { ok: true, message: { type: "remove", id, node: v.node } };
    case "release":
      if (id === undefined) return bad("no id");
      return { ok: true, message: { type: "release", id } };
    default:
      return bad("unknown message type");
  }
}

export function parseServerMessage(line: string): Parsed<ServerMessage> {
  const p = parseLine(line);
  if (!p.ok) return p;
  const v = p.value;
  switch (v.type) {
    case "welcome":
      if (!isId(v.protocol) || !isId(v.pid) || !isStr(v.cluster, 256) || !isStr(v.configDigest, 256) || typeof v.reconfigured !== "boolean") {
        return { ok: false, error: "welcome: malformed" };
      }
      return { ok: true, message: { type: "welcome", protocol: v.protocol, pid: v.pid, cluster: v.cluster, configDigest: v.configDigest, reconfigured: v.reconfigured } };
    case "ok":
      return isId(v.id) ? { ok: true, message: { type: "ok", id: v.id } } : { ok: false, error: "ok: no id" };
    case "error":
      if (!isStr(v.message, 65536)) return { ok: false, error: "error: no message" };
      return { ok: true, message: { type: "error", message: v.message, ...(isId(v.id) ? { id: v.id } : {}) } };
    case "observation": {
      const o = parseObservation(v.observation);
      return o ? { ok: true, message: { type: "observation", observation: o } } : { ok: false, error: "observation: malformed" };
    }
    default:
      return { ok: false, error: `unknown message type ${JSON.stringify(v.type).slice(0, 40)}` };
  }
}

export function encodeClient(m: ClientMessage): string {
  if (m.type === "boot") {
    const { bootMode, ...rest } = m;
    return JSON.stringify({ ...rest, ...bootMode }) + "\n";
  }
  return JSON.stringify(m) + "\n";
}

export function encodeServer(m: ServerMessage): string {
  return JSON.stringify(m) + "\n";
}

/**
 * Splits a byte stream into lines. A line longer than `max` bytes is an error
 * (the caller closes the connection); partial lines wait for the rest.
 */
export class LineSplitter {
  private buf = "";
  // Keeps a character split across two chunks whole.
  private readonly decoder = new StringDecoder("utf8");
  constructor(
    private readonly onLine: (line: string) => void,
    private readonly onOverflow: () => void,
    private readonly max = MAX_LINE_BYTES,
  ) {}

  push(chunk: Buffer | string): void {
    this.buf += typeof chunk === "string" ? chunk : this.decoder.write(chunk);
    for (;;) {
      const nl = this.buf.indexOf("\n");
      if (nl === -1) break;
      const line = this.buf.slice(0, nl);
      this.buf = this.buf.slice(nl + 1);
      if (line.length > this.max) return this.overflow();
      if (line.trim()) this.onLine(line);
    }
    if (this.buf.length > this.max) this.overflow();
  }

  private overflow(): void {
    this.buf = "";
    this.onOverflow();
  }
}
