// Shared pieces of the lab tests: unique namespace names with the mflab prefix,
// cleanup of stale ones, and a failing check for the Debian packages a test needs.
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { removeStaleNamespaces, requireCommands } from "../../helpers/netns.js";

export const PREFIX = "mflab";

/** A namespace name unique to this test run: mflab + tag + pid. */
export function uniqueNamespace(tag: string): string {
  return `${PREFIX}${tag}${process.pid}`;
}

export function tempLabDir(tag: string): string {
  return join(mkdtempSync(join(tmpdir(), `mflab-${tag}-`)), "lab");
}

/** Removes namespaces of earlier runs of this tag whose process is gone, and what still runs in them (VMs, BMC simulators). */
export function cleanupStale(tag: string): void {
  removeStaleNamespaces(new RegExp(`^${PREFIX}${tag}(\\d+)$`), { killProcesses: true });
}

/** Throws (the test fails) naming the Debian package when a tool is missing. */
export { requireCommands as requireTools };

export const LAB_TOOLS = {
  "qemu-system-x86_64": "qemu-system-x86",
  ipmi_sim: "openipmi",
  ipmitool: "ipmitool",
  radvd: "radvd",
  busybox: "busybox-static",
  tcpdump: "tcpdump",
  ip: "iproute2",
  "dpkg-deb": "dpkg",
};
