// `metalform lab status`: what runs of a lab — its namespace, radvd, each node's VM and
// BMC process, and (when asked) the power state each BMC reports.
import { labIpmitool, resolvedDir, vmPid } from "./lab.js";
import { namespaceExists } from "./network.js";
import type { LabOptions } from "./options.js";
import { labRedfishPower } from "./redfish/lab-bmcs.js";
import { processRuns } from "./run.js";
import { readLabState, type LabInfo, type LabNode } from "./state.js";

export interface LabNodeStatus {
  name: string;
  mac: string;
  ip: string;
  bmcAddress: string;
  vmRunning: boolean;
  vmPid?: number;
  bmcRunning: boolean;
  /** From the BMC (ipmitool chassis power status), when asked for. */
  power?: "on" | "off" | "unknown";
  serialLog: string;
}

export interface LabStatus {
  namespace: string;
  namespaceExists: boolean;
  phase?: LabInfo["phase"];
  configPath?: string;
  radvdRunning: boolean;
  nodes: LabNodeStatus[];
}

export async function labStatus(opts: LabOptions & { queryBmc?: boolean } = {}): Promise<LabStatus> {
  const { namespace, dir } = resolvedDir(opts);
  const info = readLabState(dir);
  const status: LabStatus = {
    namespace,
    namespaceExists: await namespaceExists(namespace),
    radvdRunning: info?.radvdPid !== undefined && processRuns(info.radvdPid, "radvd"),
    nodes: [],
  };
  if (!info) return status;
  status.phase = info.phase;
  status.configPath = info.configPath;
  status.nodes = await Promise.all(
    info.nodes.map(async (n) => {
      const pid = vmPid(n);
      const s: LabNodeStatus = {
        name: n.name,
        mac: n.mac,
        ip: n.ip,
        bmcAddress: n.bmcAddress,
        vmRunning: pid !== undefined,
        bmcRunning: bmcRuns(info, n),
        serialLog: n.serialLog,
      };
      if (pid) s.vmPid = pid;
      if (opts.queryBmc && status.namespaceExists) s.power = await bmcPower(info, n);
      return s;
    }),
  );
  return status;
}

/** Whether the node's BMC process runs: its ipmi_sim, or the lab's Redfish emulator. */
function bmcRuns(info: LabInfo, n: LabNode): boolean {
  if (info.redfish) return info.redfish.pid !== undefined && processRuns(info.redfish.pid, "redfish");
  return n.bmcPid !== undefined && processRuns(n.bmcPid, "ipmi_sim");
}

/** The power state the node's BMC reports. */
async function bmcPower(info: LabInfo, n: LabNode): Promise<"on" | "off" | "unknown"> {
  if (info.redfish) {
    const p = await labRedfishPower(info, n.name);
    return p === "On" ? "on" : p === "Off" ? "off" : "unknown";
  }
  const r = await labIpmitool(info, n.name, ["chassis", "power", "status"]);
  return /is on/.test(r.stdout) ? "on" : /is off/.test(r.stdout) ? "off" : "unknown";
}
