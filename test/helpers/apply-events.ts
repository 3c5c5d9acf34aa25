// What `metalform apply --json` printed, for the lab e2e tests: its JSON-lines events and,
// per node, the seconds from the power command to each boot phase (power → DHCP → first
// loader → installer kernel and initrd → installer running → UP), read from the events'
// own timestamps so that the figures are the product's, not the test's polling.

export type ApplyEvent = Record<string, unknown>;

/** The JSON-lines events among apply's stdout lines. */
export function applyEvents(stdout: string): ApplyEvent[] {
  return stdout
    .split("\n")
    .filter((l) => l.startsWith("{"))
    .map((l) => JSON.parse(l) as ApplyEvent);
}

/** An event's message, or "" when it has none. */
export const eventMessage = (e: ApplyEvent): string => (typeof e.message === "string" ? e.message : "");

export interface PhaseTimes {
  dhcp: number;
  /** The firmware's first download: BIOS (QEMU's NIC ROM is iPXE already) its iPXE script, UEFI snponly.efi, Secure Boot shimx64.efi. */
  loader: number;
  installerBoot: number;
  installer: number;
  up: number;
}

/** Seconds from the power command to the first event of each phase (NaN when it never came), for one node. */
export function phaseTimes(evs: ApplyEvent[], node: string): PhaseTimes {
  const mine = evs.filter((e) => e.node === node && (e.type === "node_phase" || e.type === "node_message"));
  const t = (e: ApplyEvent) => Date.parse(String(e.time));
  const power = mine.find((e) => e.phase === "power");
  const first = (pred: (e: ApplyEvent) => boolean) => {
    const e = mine.find(pred);
    return e && power ? Math.round((t(e) - t(power)) / 100) / 10 : NaN;
  };
  return {
    dhcp: first((e) => e.phase === "dhcp"),
    loader: first((e) => /fetched (snponly\.efi|shimx64\.efi)|iPXE script fetched/.test(eventMessage(e))),
    installerBoot: first((e) => /fetched .*installer-/.test(eventMessage(e))),
    installer: first((e) => e.phase === "installer"),
    up: first((e) => e.phase === "up"),
  };
}

/** One line for a report: `power→DHCP 9.1 s, loader …, UP 120.3 s`. */
export function formatPhaseTimes(t: PhaseTimes): string {
  return `power→DHCP ${t.dhcp} s, loader ${t.loader} s, installer kernel+initrd ${t.installerBoot} s, installer running ${t.installer} s, UP ${t.up} s`;
}
