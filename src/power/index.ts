// Power control: what apply and the CLI import.
export { PowerError } from "./driver.js";
export type { BootDevice, BootDeviceOptions, PowerDriver, PowerErrorKind, PowerState } from "./driver.js";
export { IpmiDriver } from "./ipmi.js";
export type { IpmiDriverOptions } from "./ipmi.js";
export { ManualDriver } from "./manual.js";
export { RedfishDriver } from "./redfish/driver.js";
export type { RedfishDriverOptions } from "./redfish/driver.js";
export type { ManualAction, ManualDriverOptions, ManualRequest } from "./manual.js";
export { createPowerDriver } from "./factory.js";
export type { DriverFactoryOptions, PowerNode } from "./factory.js";
export { powerAction } from "./action.js";
export type { PasswordResolver, PowerActionName, PowerActionOptions, PowerActionResult } from "./action.js";
