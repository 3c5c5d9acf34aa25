// What metalform says to a Redfish service and how it reads the answers, without
// sockets: links of the ServiceRoot, the member of the Systems collection, a
// ComputerSystem's PowerState, its #ComputerSystem.Reset action (target and allowed
// ResetTypes), the Boot override PATCH body, and the text of a Redfish error body
// (DMTF DSP0266 and the ComputerSystem schema). Pure: unit tests reach it directly.
import type { BootDevice, BootDeviceOptions, PowerState } from "../driver.js";

/** ResetType values of the Resource schema that metalform may send. */
export type ResetType = "On" | "ForceOff" | "ForceRestart" | "PowerCycle" | "GracefulShutdown" | "GracefulRestart";

/** An answer that does not have the shape Redfish promises; the driver adds which BMC said it. */
export class AnswerError extends Error {}

export const SERVICE_ROOT = "/redfish/v1/";

type Doc = Record<string, unknown>;

function isDoc(v: unknown): v is Doc {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function odataId(v: unknown): string | undefined {
  return isDoc(v) && typeof v["@odata.id"] === "string" ? v["@odata.id"] : undefined;
}

/** The Systems collection and the Sessions collection, as the ServiceRoot links them (with the usual paths when a link is missing). */
export function serviceLinks(root: unknown): { systems: string; sessions: string } {
  if (!isDoc(root)) throw new AnswerError("the Redfish service root is not a JSON object");
  const links = isDoc(root.Links) ? root.Links : {};
  const sessionService = odataId(root.SessionService);
  return {
    systems: odataId(root.Systems) ?? "/redfish/v1/Systems",
    sessions: odataId(links.Sessions) ?? (sessionService ? `${sessionService.replace(/\/$/, "")}/Sessions` : "/redfish/v1/SessionService/Sessions"),
  };
}

/**
 * The path of the system to control: the member whose Id (last path segment) is
 * `wanted`, or the only member. Several members without `wanted` is a configuration
 * question, so the message lists them.
 */
export function systemPath(collection: unknown, wanted?: string): string {
  const members = isDoc(collection) && Array.isArray(collection.Members) ? collection.Members.map(odataId).filter((x): x is string => x !== undefined) : undefined;
  if (!members) throw new AnswerError("the Systems collection has no Members list");
  const ids = members.map((m) => m.replace(/\/$/, "").split("/").pop()!);
  if (wanted !== undefined) {
    const i = ids.indexOf(wanted);
    if (i < 0) throw new AnswerError(`no system ${JSON.stringify(wanted)} among ${ids.length ? ids.join(", ") : "no systems"}`);
    return members[i]!;
  }
  if (members.length === 1) return members[0]!;
  if (members.length === 0) throw new AnswerError("the Systems collection is empty");
  throw new AnswerError(`it manages ${members.length} systems (${ids.join(", ")}): set bmc.system to one of them`);
}

/** What metalform needs of a ComputerSystem. */
export interface SystemView {
  path: string;
  power: PowerState;
  /** The Redfish PowerState as written (On, Off, PoweringOn, PoweringOff, Paused). */
  powerState: string;
  resetTarget: string;
  /** ResetType@Redfish.AllowableValues; absent when the service does not say. */
  resetTypes?: string[];
  /** Boot.BootSourceOverrideTarget@Redfish.AllowableValues; absent when the service does not say. */
  bootTargets?: string[];
  /** Boot.BootSourceOverrideMode, when the service has one. */
  bootMode?: string;
}

/** PowerState to on/off: a system powering on or paused counts as on, one powering off as off. */
export function powerOf(state: unknown): PowerState {
  switch (state) {
    case "On":
    case "PoweringOn":
    case "Paused":
      return "on";
    case "Off":
    case "PoweringOff":
      return "off";
    default:
      throw new AnswerError(`unexpected PowerState ${JSON.stringify(state)}`);
  }
}

function strings(v: unknown): string[] | undefined {
  return Array.isArray(v) && v.every((x): x is string => typeof x === "string") ? v : undefined;
}

export function readSystem(doc: unknown, path: string): SystemView {
  if (!isDoc(doc)) throw new AnswerError(`${path} is not a JSON object`);
  const actions = isDoc(doc.Actions) ? doc.Actions : {};
  const reset = actions["#ComputerSystem.Reset"];
  if (!isDoc(reset) || typeof reset.target !== "string") throw new AnswerError(`${path} offers no #ComputerSystem.Reset action`);
  const boot = isDoc(doc.Boot) ? doc.Boot : {};
  const resetTypes = strings(reset["ResetType@Redfish.AllowableValues"]);
  const bootTargets = strings(boot["BootSourceOverrideTarget@Redfish.AllowableValues"]);
  return {
    path,
    power: powerOf(doc.PowerState),
    powerState: String(doc.PowerState),
    resetTarget: reset.target,
    ...(resetTypes ? { resetTypes } : {}),
    ...(bootTargets ? { bootTargets } : {}),
    ...(typeof boot.BootSourceOverrideMode === "string" ? { bootMode: boot.BootSourceOverrideMode } : {}),
  };
}

/** Throws when the service lists its ResetTypes and `type` is not among them. */
export function checkReset(view: SystemView, type: ResetType): void {
  if (view.resetTypes && !view.resetTypes.includes(type)) {
    throw new AnswerError(`${view.path} does not allow ResetType ${type} (it allows ${view.resetTypes.join(", ") || "none"})`);
  }
}

/**
 * How to power-cycle a system that is on: PowerCycle (off, then on: IPMI's "power
 * cycle") when the service lists it, else ForceRestart, which every BMC has.
 */
export function cycleReset(view: SystemView): ResetType {
  return view.resetTypes?.includes("PowerCycle") ? "PowerCycle" : "ForceRestart";
}

export function resetBody(type: ResetType): { ResetType: ResetType } {
  return { ResetType: type };
}

const TARGET: Record<BootDevice, "Pxe" | "Hdd"> = { pxe: "Pxe", disk: "Hdd" };

/**
 * The PATCH body of a boot override: the next boot (Once) or every boot
 * (Continuous) from the network or the disk, in UEFI or Legacy mode when asked
 * (left as the BMC has it otherwise: many UEFI-only BMCs refuse Legacy).
 */
export function bootOverrideBody(device: BootDevice, opts: BootDeviceOptions = {}): { Boot: Record<string, string> } {
  const boot: Record<string, string> = {
    BootSourceOverrideTarget: TARGET[device],
    BootSourceOverrideEnabled: opts.persistent ? "Continuous" : "Once",
  };
  if (opts.efi !== undefined) boot.BootSourceOverrideMode = opts.efi ? "UEFI" : "Legacy";
  return { Boot: boot };
}

/** Throws when the service lists its boot targets and the wanted one is not among them. */
export function checkBootTarget(view: SystemView, device: BootDevice): void {
  const target = TARGET[device];
  if (view.bootTargets && !view.bootTargets.includes(target)) {
    throw new AnswerError(`${view.path} cannot boot from ${target} (BootSourceOverrideTarget allows ${view.bootTargets.join(", ") || "nothing"})`);
  }
}

/**
 * What a Redfish error body says, for an operator: error.message and each
 * @Message.ExtendedInfo Message (DSP0266 §9.6 error responses), at most 400 chars.
 */
export function errorText(body: unknown): string | undefined {
  const err = isDoc(body) && isDoc(body.error) ? body.error : undefined;
  if (!err) return undefined;
  const parts: string[] = [];
  const info = Array.isArray(err["@Message.ExtendedInfo"]) ? err["@Message.ExtendedInfo"] : [];
  for (const m of info) {
    if (isDoc(m) && typeof m.Message === "string") parts.push(typeof m.MessageId === "string" ? `${m.Message} (${m.MessageId})` : m.Message);
  }
  if (parts.length === 0 && typeof err.message === "string") parts.push(err.message);
  if (parts.length === 0 && typeof err.code === "string") parts.push(err.code);
  const text = parts.join("; ");
  return text ? text.slice(0, 400) : undefined;
}
