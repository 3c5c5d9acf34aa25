// Choosing and building the power driver for one node from its BMC settings.

import type { BmcSettings } from "../config/types.js";
import type { Logger } from "../util/log.js";
import { PowerError, type PowerDriver } from "./driver.js";
import { IpmiDriver, type IpmiDriverOptions } from "./ipmi.js";
import { ManualDriver, type ManualDriverOptions } from "./manual.js";
import { RedfishDriver, type RedfishDriverOptions } from "./redfish/driver.js";

export interface PowerNode {
  name: string;
  bmc?: BmcSettings;
}

export interface DriverFactoryOptions {
  /** Tuning for IPMI drivers (timeouts, cipher suite, ipmitool path). */
  ipmi?: Omit<IpmiDriverOptions, "host" | "port" | "user" | "password">;
  /** Tuning for Redfish drivers (request time bound). */
  redfish?: Pick<RedfishDriverOptions, "timeoutMs">;
  /** Hooks for manual drivers (how to ask, what to wait for). */
  manual?: Omit<ManualDriverOptions, "node">;
  logger?: Logger;
}

/**
 * The driver for a node: IPMI or Redfish when its BMC says so, manual when it has
 * no BMC or asks for the manual driver. `password` is the already resolved secret
 * of `bmc.password` (undefined when there is none).
 */
export function createPowerDriver(node: PowerNode, password: string | undefined, opts: DriverFactoryOptions = {}): PowerDriver {
  const bmc = node.bmc;
  const logger = opts.logger?.child(node.name);
  if (!bmc || bmc.driver === "manual") {
    return new ManualDriver({ ...opts.manual, node: node.name, ...(logger ? { logger } : {}) });
  }
  if (bmc.driver !== "ipmi" && bmc.driver !== "redfish") throw new PowerError("config", `${node.name}: unknown power driver ${JSON.stringify(bmc.driver)}`);
  if (!bmc.address) throw new PowerError("config", `${node.name}: the BMC has no address`);
  if (!bmc.user) throw new PowerError("config", `${node.name}: the BMC at ${bmc.address} has no user`);
  if (password === undefined) throw new PowerError("config", `${node.name}: no password for BMC user ${bmc.user} at ${bmc.address}`);
  const access = { host: bmc.address, port: bmc.port, user: bmc.user, password, ...(logger ? { logger } : {}) };
  if (bmc.driver === "redfish") {
    return new RedfishDriver({
      ...opts.redfish,
      ...access,
      ...(bmc.auth ? { auth: bmc.auth } : {}),
      ...(bmc.system ? { system: bmc.system } : {}),
      ...(bmc.tls ? { tls: bmc.tls } : {}),
    });
  }
  // The node's own settings win over the command's tuning.
  return new IpmiDriver({
    ...opts.ipmi,
    ...access,
    ...(bmc.interface ? { interface: bmc.interface } : {}),
    ...(bmc.cipherSuite !== undefined ? { cipherSuite: bmc.cipherSuite } : {}),
  });
}
