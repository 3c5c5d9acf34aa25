// The version written into state and plan files (informational only).
export const METALFORM_VERSION = "0.1.0";
