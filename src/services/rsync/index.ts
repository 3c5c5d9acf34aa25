// The rsync image service: what other layers import.
export { RsyncDaemon } from "./daemon.js";
export type { RsyncDaemonOptions, RsyncDaemonEvents } from "./daemon.js";
export { renderRsyncdConf, checkModules } from "./config.js";
export type { RsyncModule } from "./config.js";
