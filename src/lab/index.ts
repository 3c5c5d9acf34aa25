// The virtual lab's public API (the CLI's `metalform lab up|status|console|exec|down`).
export { labUp, labDown, labStatus, labConsole, labExec, labExecArgv, labInfo, labIpmitool, vmPid, LabPrerequisitesError, LabExistsError, LabNotFoundError } from "./lab.js";
export type { LabStatus, LabNodeStatus } from "./lab.js";
export type { LabInfo, LabNode } from "./state.js";
export { resolveLabOptions, DEFAULT_NAMESPACE, defaultCacheDir, defaultLabDir } from "./options.js";
export type { LabOptions, ResolvedLabOptions } from "./options.js";
export { checkPrerequisites, describePrerequisites, LAB_PACKAGES } from "./prerequisites.js";
export type { PrerequisiteReport, LabRequirement } from "./prerequisites.js";
export { ensureLabKernel, cachedKernel, modulePaths, VIRTIO_EXT4_MODULES, IPMI_MODULES } from "./kernel.js";
export type { LabKernel } from "./kernel.js";
export { buildLabImage, imageInitramfs } from "./image.js";
export type { LabImage } from "./image.js";
export { writeCpio, treeEntries } from "./cpio.js";
export { formatLabUp, formatLabStatus } from "./format.js";
export { LAB_FIRMWARES, OVMF_DIR, ovmfFiles, parseLabFirmware, prepareVmFirmware } from "./firmware.js";
export type { LabFirmware, VmFirmware } from "./firmware.js";
