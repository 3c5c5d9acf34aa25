// What makes one installed node itself rather than a copy of its image: its own
// /etc/machine-id and SSH host keys (made by the installer on the node, once: rsync
// never copies them from the image nor deletes them, so every later sync keeps them),
// and root's authorized SSH keys from the configuration (rewritten on every install
// and sync, like the other files the installer owns).
import type { Node } from "../config/types.js";
import type { PlanFile } from "./plan-types.js";

export const NODE_IDENTITY = {
  machineId: "/etc/machine-id",
  /** An rsync pattern: every host key pair sshd may use. */
  sshHostKeys: "/etc/ssh/ssh_host_*",
} as const;

export const AUTHORIZED_KEYS = "/root/.ssh/authorized_keys";

export function identityFiles(node: Node): PlanFile[] {
  const keys = node.sshAuthorizedKeys ?? [];
  if (keys.length === 0) return [];
  const content = "# Written by metalform's installer from the configuration; rewritten on every install and sync.\n" + keys.join("\n") + "\n";
  return [{ path: AUTHORIZED_KEYS, mode: "0600", dirMode: "0700", content }];
}
