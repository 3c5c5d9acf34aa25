// One interface for every way metalform can switch a node on and off: a BMC it
// talks to (IPMI or Redfish) or a person it asks.

export type PowerState = "on" | "off";
export type BootDevice = "pxe" | "disk";

export interface BootDeviceOptions {
  /** Keep the setting for every boot, not just the next one (default false). */
  persistent?: boolean;
  /**
   * Ask for a UEFI boot (true) or a legacy BIOS boot (false). IPMI treats unset as
   * false; Redfish leaves the BMC's boot mode as it is when unset.
   */
  efi?: boolean;
}

export interface PowerDriver {
  /** "ipmi", "redfish" or "manual". */
  readonly kind: string;
  /**
   * The node's power state. A manual driver cannot know it and answers
   * "unknown".
   */
  status(): Promise<PowerState | "unknown">;
  on(): Promise<void>;
  off(): Promise<void>;
  /** Power-cycles a node that is on; powers on a node that is off. */
  cycle(): Promise<void>;
  setBootDevice(device: BootDevice, opts?: BootDeviceOptions): Promise<void>;
}

export type PowerErrorKind =
  /** The BMC rejected the user name or password. */
  | "auth"
  /** The user may log in but lacks the privilege for the command. */
  | "privilege"
  /** No answer within the time bound. */
  | "unreachable"
  /** The BMC and ipmitool found no common cipher suite / algorithm. */
  | "cipher"
  /** The BMC's HTTPS certificate is not trusted (unknown CA, wrong name, fingerprint not the pinned one). */
  | "tls"
  /** The tool is not installed. */
  | "missing-tool"
  /** Settings are incomplete (no address, user or password). */
  | "config"
  /** A manual action was cancelled or not confirmed in time. */
  | "cancelled"
  /** Anything else the BMC or the tool reported. */
  | "failed";

/** A power operation that did not succeed, with a message fit to show an operator. */
export class PowerError extends Error {
  constructor(
    readonly kind: PowerErrorKind,
    message: string,
    /** Raw tool output for logs (never contains the password). */
    readonly detail?: string,
    /** The BMC's own words about the failure (an IPMI completion or RAKP error, a Redfish error message), when it said any. */
    readonly said?: string,
  ) {
    super(message);
    this.name = "PowerError";
  }
}
