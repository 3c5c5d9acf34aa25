// The lab's network, all inside one network namespace so nothing reaches the host's
// networks: a bridge for the provisioning segment (the head address on it, one tap per
// VM), a second (port-less) bridge holding the BMC addresses, and radvd sending IPv6 router
// advertisements on the bridge (iPXE waits ~13 s for one otherwise). radvd is told to
// do nothing else: no prefix, no default route, no DHCPv6 flags.
import { writeFileSync } from "node:fs";
import { inNamespace, mustRun, runCommand, startDaemon, stopProcess } from "./run.js";

export interface LabNetworkSpec {
  namespace: string;
  bridge: string;
  bridgeMac: string;
  headAddress: string;
  prefixLength: number;
  bmcInterface: string;
  bmcHeadAddress: string;
  bmcPrefixLength: number;
  /** BMC addresses to hold (each /32 on the BMC bridge). */
  bmcAddresses: string[];
  /** Tap devices to create on the bridge. */
  taps: string[];
}

export async function namespaceExists(ns: string): Promise<boolean> {
  const r = await runCommand(["ip", "netns", "list"]);
  return r.stdout.split("\n").some((l) => l.split(/\s+/)[0] === ns);
}

/** Pids of every process in the namespace (empty when it does not exist). */
export async function namespacePids(ns: string): Promise<number[]> {
  const r = await runCommand(["ip", "netns", "pids", ns]);
  if (r.code !== 0) return [];
  return r.stdout
    .split(/\s+/)
    .filter(Boolean)
    .map(Number)
    .filter((n) => Number.isInteger(n) && n > 1);
}

export async function createLabNetwork(s: LabNetworkSpec): Promise<void> {
  await mustRun(["ip", "netns", "add", s.namespace]);
  // No DAD: the bridge's link-local address is usable at once, so radvd starts at once.
  await mustRun(inNamespace(s.namespace, ["busybox", "sysctl", "-qw", "net.ipv6.conf.default.accept_dad=0", "net.ipv6.conf.all.accept_dad=0", "net.ipv6.conf.all.forwarding=1"]));
  const cmds = [
    "link set lo up",
    `link add ${s.bridge} address ${s.bridgeMac} type bridge stp_state 0 forward_delay 0`,
    `addr add ${s.headAddress}/${s.prefixLength} dev ${s.bridge}`,
    `link set ${s.bridge} up`,
    // A bridge with no ports rather than a dummy: some kernels have no dummy driver.
    `link add ${s.bmcInterface} type bridge`,
    `addr add ${s.bmcHeadAddress}/${s.bmcPrefixLength} dev ${s.bmcInterface}`,
    ...s.bmcAddresses.map((a) => `addr add ${a}/32 dev ${s.bmcInterface}`),
    `link set ${s.bmcInterface} up`,
    ...s.taps.flatMap((t) => [`tuntap add dev ${t} mode tap`, `link set ${t} master ${s.bridge}`, `link set ${t} up`]),
  ];
  await mustRun(["ip", "-n", s.namespace, "-batch", "-"], { input: cmds.join("\n") + "\n" });
}

export function radvdConfig(bridge: string): string {
  return `# metalform lab: router advertisements only, so iPXE stops waiting for IPv6.
# No prefix, no default router (lifetime 0), no DHCPv6 (M and O flags off).
interface ${bridge} {
	AdvSendAdvert on;
	MinRtrAdvInterval 3;
	MaxRtrAdvInterval 10;
	AdvDefaultLifetime 0;
	AdvManagedFlag off;
	AdvOtherConfigFlag off;
};
`;
}

/** Starts radvd inside the namespace; returns its pid. */
export function startRadvd(ns: string, bridge: string, files: { config: string; pidFile: string; log: string }): number {
  writeFileSync(files.config, radvdConfig(bridge), { mode: 0o644 });
  return startDaemon(inNamespace(ns, ["radvd", "--nodaemon", "--config", files.config, "--pidfile", files.pidFile, "--logmethod", "stderr"]), files.log);
}

/** Stops every process left in the namespace, then deletes it. Safe when it does not exist. */
export async function destroyLabNetwork(ns: string): Promise<void> {
  for (const pid of await namespacePids(ns)) await stopProcess(pid, 2000);
  if (await namespaceExists(ns)) await mustRun(["ip", "netns", "del", ns]);
}
