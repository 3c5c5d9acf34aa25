// Turning what the services see into what apply shows: a node's phase, from the
// DHCP server (by MAC), the HTTP and TFTP servers (by MAC or address) and the
// installer's own step reports. Pure: typed events in, observations out.
import { stepPhase } from "../boot/installer-steps.js";
import type { NodeObservation } from "../progress/observation.js";
import type { DhcpClientInfo } from "../services/dhcp/events.js";
import type { FileServed, HttpBootServerEvents } from "../services/http/server.js";
import type { InstallerApiEventMap } from "../services/installer-api/api.js";
import type { NodeReport, NodeUp } from "../services/installer-api/reports.js";
import type { TftpTransferCompleteEvent } from "../services/tftp/events.js";

export interface NodeLookup {
  byMac(mac: string): string | undefined;
  byIp(ip: string): string | undefined;
}

/** Every service event serve observes, each with its payload type. */
export type ServiceEvent =
  | { event: "offer" | "ack"; payload: DhcpClientInfo }
  | { event: "script-served"; payload: HttpBootServerEvents["script-served"][0] }
  | { event: "file-served"; payload: FileServed }
  | { event: "transfer-complete"; payload: TftpTransferCompleteEvent }
  | { event: "plan"; payload: InstallerApiEventMap["plan"][0] }
  | { event: "report"; payload: NodeReport }
  | { event: "up"; payload: NodeUp };

const KIND_NOTE: Record<DhcpClientInfo["kind"], string> = { ipxe: " (iPXE)", pxe: " (PXE firmware)", http: " (UEFI HTTP boot)", other: "" };

export function observationsFrom(e: ServiceEvent, lookup: NodeLookup): NodeObservation | undefined {
  switch (e.event) {
    case "offer":
    case "ack": {
      const node = lookup.byMac(e.payload.mac);
      if (!node) return undefined;
      const p = e.payload;
      return { node, phase: "dhcp", message: `${e.event === "ack" ? "acknowledged" : "offered"} ${p.ip ?? ""}${KIND_NOTE[p.kind]}`.trim() };
    }
    case "script-served": {
      const node = lookup.byMac(e.payload.mac);
      return node ? { node, phase: "boot-files", message: "iPXE script fetched" } : undefined;
    }
    case "file-served":
    case "transfer-complete":
      return downloaded(e, lookup);
    case "plan":
      return { node: e.payload.node, phase: "installer", message: "installer fetched its plan" };
    case "report":
      return reported(e.payload);
    case "up":
      return { node: e.payload.node, phase: "up", ...(e.payload.image ? { imageDigest: e.payload.image } : {}) };
  }
}

function downloaded(e: Extract<ServiceEvent, { event: "file-served" | "transfer-complete" }>, lookup: NodeLookup): NodeObservation | undefined {
  const remote = e.event === "file-served" ? e.payload.remote : e.payload.remote.address;
  const node = lookup.byIp(remote.replace(/^::ffff:/, ""));
  if (!node) return undefined;
  const { path, bytes } = e.payload;
  if (e.event === "file-served" && !e.payload.complete) return { node, message: `download of ${path} broke off` };
  return { node, phase: "boot-files", message: `fetched ${path} (${bytes} bytes)` };
}

function reported(p: NodeReport): NodeObservation | undefined {
  const { node, step, bytes } = p;
  const phase = stepPhase(step);
  if (p.status === "failed") return { node, ...(phase ? { phase } : {}), failed: `installer step "${step}" failed${p.message ? `: ${p.message}` : ""}` };
  if (p.status === "progress") {
    return bytes === undefined ? undefined : { node, bytes, ...(p.percent !== undefined ? { percent: p.percent } : {}) };
  }
  return {
    node,
    ...(phase ? { phase } : {}),
    ...(bytes !== undefined && step === "rsync" ? { bytes } : {}),
    ...(p.message ? { message: `${step}: ${p.message}` } : {}),
  };
}
