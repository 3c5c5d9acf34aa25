// Turning what the services see into what apply shows: a node's phase, from the
// DHCP server (by MAC), the HTTP and TFTP servers (by MAC or address) and the
// installer's own step reports. Pure: events in, observations out.
import { stepPhase } from "../boot/installer-steps.js";
import type { NodeObservation } from "../progress/observation.js";

export interface NodeLookup {
  byMac(mac: string): string | undefined;
  byIp(ip: string): string | undefined;
}

type Rec = Record<string, unknown>;
const str = (v: unknown): string | undefined => (typeof v === "string" ? v : undefined);
const num = (v: unknown): number | undefined => (typeof v === "number" && Number.isFinite(v) ? v : undefined);

function remoteIp(p: Rec): string | undefined {
  const r = p.remote;
  if (typeof r === "string") return r.replace(/^::ffff:/, "").replace(/:\d+$/, "");
  if (r && typeof r === "object") return str((r as Rec).address)?.replace(/^::ffff:/, "");
  return undefined;
}

export function observationsFrom(event: string, payload: unknown, lookup: NodeLookup): NodeObservation | undefined {
  if (!payload || typeof payload !== "object") return undefined;
  const p = payload as Rec;
  switch (event) {
    case "offer":
    case "ack": {
      const node = lookup.byMac(str(p.mac) ?? "");
      if (!node) return undefined;
      return { node, phase: "dhcp", message: `${event === "ack" ? "acknowledged" : "offered"} ${str(p.ip) ?? ""}${p.kind === "ipxe" ? " (iPXE)" : p.kind === "pxe" ? " (PXE firmware)" : ""}`.trim() };
    }
    case "script-served": {
      const node = lookup.byMac(str(p.mac) ?? "");
      return node ? { node, phase: "boot-files", message: "iPXE script fetched" } : undefined;
    }
    case "file-served":
    case "transfer-complete": {
      const ip = remoteIp(p);
      const node = ip ? lookup.byIp(ip) : undefined;
      if (!node) return undefined;
      if (p.complete === false) return { node, message: `download of ${str(p.path) ?? "a file"} broke off` };
      return { node, phase: "boot-files", message: `fetched ${str(p.path) ?? "a file"} (${num(p.bytes) ?? 0} bytes)` };
    }
    case "plan": {
      const node = str(p.node);
      return node ? { node, phase: "installer", message: "installer fetched its plan" } : undefined;
    }
    case "report": {
      const node = str(p.node);
      const step = str(p.step);
      if (!node || !step) return undefined;
      const phase = stepPhase(step);
      const msg = str(p.message);
      if (p.status === "failed") return { node, ...(phase ? { phase } : {}), failed: `installer step "${step}" failed${msg ? `: ${msg}` : ""}` };
      const bytes = num(p.bytes);
      if (p.status === "progress") {
        const percent = num(p.percent);
        return bytes === undefined ? undefined : { node, bytes, ...(percent !== undefined ? { percent } : {}) };
      }
      return {
        node,
        ...(phase ? { phase } : {}),
        ...(bytes !== undefined && step === "rsync" ? { bytes } : {}),
        ...(msg ? { message: `${step}: ${msg}` } : {}),
      };
    }
    case "up": {
      const node = str(p.node);
      return node ? { node, phase: "up", ...(str(p.image) ? { imageDigest: str(p.image) } : {}) } : undefined;
    }
    default:
      return undefined;
  }
}
