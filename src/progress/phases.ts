// The phases a node goes through during an apply, in order. Bright's provisioning
// phases, as metalform observes them: from the DHCP server, the TFTP/HTTP servers
// and the installer's own reports.
export const PHASES = ["queued", "power", "dhcp", "boot-files", "installer", "disks", "filesystems", "sync", "config", "bmc", "switch-root", "up"] as const;

export type Phase = (typeof PHASES)[number];

export const PHASE_LABEL: Record<Phase, string> = {
  queued: "waiting for a slot",
  power: "power-cycling into the network boot",
  dhcp: "DHCP",
  "boot-files": "fetching boot files",
  installer: "installer started",
  disks: "partitioning disks",
  filesystems: "making file systems",
  sync: "syncing image",
  config: "writing configuration",
  bmc: "configuring BMC",
  "switch-root": "switching root",
  up: "UP",
};

/** How long a node may stay in a phase before the apply retries or gives up (ms). */
export const DEFAULT_PHASE_TIMEOUTS: Record<Phase, number> = {
  queued: Number.POSITIVE_INFINITY,
  power: 60_000,
  dhcp: 180_000,
  "boot-files": 180_000,
  installer: 300_000,
  disks: 300_000,
  filesystems: 600_000,
  // Reset by every progress report, so this is the longest silence during a sync.
  sync: 600_000,
  config: 120_000,
  bmc: 120_000,
  "switch-root": 300_000,
  up: Number.POSITIVE_INFINITY,
};

export function phaseIndex(p: Phase): number {
  return PHASES.indexOf(p);
}

export function isPhase(s: string): s is Phase {
  return (PHASES as readonly string[]).includes(s);
}
