// metalform's DHCP server: the public surface for `serve`, `apply` and the lab.
export { DhcpServer } from "./server.js";
export type { DhcpServerOptions, DhcpServerEvents, DhcpClientInfo, DhcpStats } from "./server.js";
export type { Reservation } from "./reservations.js";
export type { PxeOptions, BootLoaders } from "./pxe.js";
export { defaultLoaders } from "./pxe.js";
export { MessageType, ARCH } from "./codec/constants.js";
export { nativeAddonPath } from "./socket.js";
export { dhcpOptionsFromNetwork } from "./from-config.js";
export type { DhcpWiring } from "./from-config.js";
