// The lab's state file (lab.json in the lab directory): what `lab up` made, so that
// status, console, exec and down find it again from another process.
import { existsSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { DataNic } from "./data-network.js";
import type { LabFirmware } from "./firmware.js";
import type { LabKernel } from "./kernel.js";

export interface LabNode {
  name: string;
  mac: string;
  ip: string;
  bmcAddress: string;
  bmcPort: number;
  tap: string;
  /** The VM's serial console, appended across power cycles. */
  serialLog: string;
  diskPath: string;
  /** Directory of the VM's files (start and control scripts, pid file, BMC config). */
  dir: string;
  qemuPidFile: string;
  qmpSocket: string;
  bmcPid?: number;
  bmcLog: string;
  /** bios (SeaBIOS + iPXE ROM), uefi (OVMF's own PXE) or secureboot; absent in older state files: bios. */
  firmware?: LabFirmware;
  /** NICs on the lab's data network (LabOptions.dataNetwork), when it has one. */
  dataNics?: DataNic[];
}

export interface LabInfo {
  version: 1;
  namespace: string;
  dir: string;
  createdAt: string;
  /** "starting" until lab up finished, then "up". */
  phase: "starting" | "up";
  bridge: string;
  headAddress: string;
  prefixLength: number;
  bmcInterface: string;
  bmcHeadAddress: string;
  nodes: LabNode[];
  configPath: string;
  kernel: LabKernel;
  imageRoot: string;
  /** 0600 file holding the BMCs' password (user "admin"). */
  bmcPasswordFile: string;
  /** The kind of BMCs (absent in labs made before Redfish: ipmi). */
  bmc?: "ipmi" | "redfish";
  /** The Redfish emulator, for a Redfish lab. */
  redfish?: LabRedfish;
  radvdPid?: number;
}

/** The lab's Redfish emulator: one process serving every node's BMC address. */
export interface LabRedfish {
  pid?: number;
  port: number;
  /** Its configuration (redfish.json, 0600). */
  config: string;
  /** The self-signed certificate (the lab's cluster.yaml trusts it as `tls.ca`). */
  cert: string;
  /** Its SHA-256 fingerprint, for `tls.fingerprint`. */
  fingerprint: string;
  /** One line per request. */
  log: string;
}

export const STATE_FILE = "lab.json";

export function statePath(dir: string): string {
  return join(dir, STATE_FILE);
}

export function readLabState(dir: string): LabInfo | undefined {
  const p = statePath(dir);
  if (!existsSync(p)) return undefined;
  try {
    const v = JSON.parse(readFileSync(p, "utf8")) as LabInfo;
    if (v && v.version === 1 && typeof v.namespace === "string" && Array.isArray(v.nodes)) return v;
  } catch {
    // A torn or foreign file: treat as no state (down still removes the namespace by name).
  }
  return undefined;
}

export function writeLabState(info: LabInfo): void {
  const p = statePath(info.dir);
  const tmp = `${p}.${process.pid}.tmp`;
  writeFileSync(tmp, JSON.stringify(info, null, 2) + "\n", { mode: 0o600 });
  renameSync(tmp, p);
}
