// The Redfish resources a lab BMC serves, as JSON documents of the DMTF schemas:
// ServiceRoot, the Systems collection with the node's one ComputerSystem (PowerState,
// Boot override, #ComputerSystem.Reset with its allowed ResetTypes), SessionService,
// its Sessions collection and a Session, and the error body of DSP0266 §9.6 with
// Base registry messages. Pure: the service (service.ts) fills in the state.

export const ROOT = "/redfish/v1/";
export const SYSTEMS = "/redfish/v1/Systems";
export const SESSION_SERVICE = "/redfish/v1/SessionService";
export const SESSIONS = "/redfish/v1/SessionService/Sessions";

/** The ResetTypes the lab's BMC carries out (machine.ts says how). */
export const RESET_TYPES = ["On", "ForceOff", "GracefulShutdown", "ForceRestart", "PowerCycle", "Nmi"] as const;
export type LabResetType = (typeof RESET_TYPES)[number];
export const BOOT_TARGETS = ["None", "Pxe", "Hdd"] as const;
export type BootTarget = (typeof BOOT_TARGETS)[number];
export const BOOT_ENABLED = ["Disabled", "Once", "Continuous"] as const;
export type BootEnabled = (typeof BOOT_ENABLED)[number];
export type BootMode = "UEFI" | "Legacy";

export interface BootOverride {
  target: BootTarget;
  enabled: BootEnabled;
  mode: BootMode;
}

export interface SystemFacts {
  /** The system's Id: the node's name. */
  id: string;
  uuid: string;
  mac: string;
  /** Boot modes the VM's firmware has: ["Legacy"] for SeaBIOS, ["UEFI"] for OVMF. */
  modes: BootMode[];
}

type Doc = Record<string, unknown>;

export function systemPath(id: string): string {
  return `${SYSTEMS}/${id}`;
}

export function resetTarget(id: string): string {
  return `${systemPath(id)}/Actions/ComputerSystem.Reset`;
}

export function serviceRoot(uuid: string): Doc {
  return {
    "@odata.id": ROOT,
    "@odata.type": "#ServiceRoot.v1_11_0.ServiceRoot",
    Id: "RootService",
    Name: "metalform lab Redfish service",
    RedfishVersion: "1.15.0",
    UUID: uuid,
    Systems: { "@odata.id": SYSTEMS },
    SessionService: { "@odata.id": SESSION_SERVICE },
    Links: { Sessions: { "@odata.id": SESSIONS } },
  };
}

export function versions(): Doc {
  return { v1: ROOT };
}

export function systemCollection(id: string): Doc {
  return {
    "@odata.id": SYSTEMS,
    "@odata.type": "#ComputerSystemCollection.ComputerSystemCollection",
    Name: "Computer System Collection",
    "Members@odata.count": 1,
    Members: [{ "@odata.id": systemPath(id) }],
  };
}

export function computerSystem(f: SystemFacts, s: { power: "On" | "Off"; boot: BootOverride }): Doc {
  return {
    "@odata.id": systemPath(f.id),
    "@odata.type": "#ComputerSystem.v1_20_0.ComputerSystem",
    Id: f.id,
    Name: f.id,
    HostName: f.id,
    SystemType: "Virtual",
    Manufacturer: "QEMU",
    Model: "metalform lab VM",
    UUID: f.uuid,
    PowerState: s.power,
    Status: { State: s.power === "On" ? "Enabled" : "StandbyOffline", Health: "OK" },
    Boot: {
      BootSourceOverrideEnabled: s.boot.enabled,
      BootSourceOverrideTarget: s.boot.target,
      BootSourceOverrideMode: s.boot.mode,
      "BootSourceOverrideEnabled@Redfish.AllowableValues": [...BOOT_ENABLED],
      "BootSourceOverrideTarget@Redfish.AllowableValues": [...BOOT_TARGETS],
      "BootSourceOverrideMode@Redfish.AllowableValues": [...f.modes],
    },
    Actions: {
      "#ComputerSystem.Reset": { target: resetTarget(f.id), "ResetType@Redfish.AllowableValues": [...RESET_TYPES] },
    },
  };
}

export function sessionService(): Doc {
  return {
    "@odata.id": SESSION_SERVICE,
    "@odata.type": "#SessionService.v1_1_8.SessionService",
    Id: "SessionService",
    Name: "Session Service",
    ServiceEnabled: true,
    SessionTimeout: 1800,
    Sessions: { "@odata.id": SESSIONS },
  };
}

export function sessionCollection(ids: string[]): Doc {
  return {
    "@odata.id": SESSIONS,
    "@odata.type": "#SessionCollection.SessionCollection",
    Name: "Session Collection",
    "Members@odata.count": ids.length,
    Members: ids.map((id) => ({ "@odata.id": `${SESSIONS}/${id}` })),
  };
}

export function session(id: string, user: string): Doc {
  return { "@odata.id": `${SESSIONS}/${id}`, "@odata.type": "#Session.v1_6_0.Session", Id: id, Name: "User Session", UserName: user };
}

/** A Redfish error body with one Base registry message. */
export function errorBody(messageId: string, message: string, resolution?: string): Doc {
  return {
    error: {
      code: `Base.1.15.${messageId}`,
      message,
      "@Message.ExtendedInfo": [
        {
          "@odata.type": "#Message.v1_1_1.Message",
          MessageId: `Base.1.15.${messageId}`,
          Message: message,
          Severity: "Critical",
          ...(resolution ? { Resolution: resolution } : {}),
        },
      ],
    },
  };
}
