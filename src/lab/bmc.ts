// One ipmi_sim (OpenIPMI's BMC simulator) per VM, listening for IPMI over LAN on the
// node's BMC address. It owns the VM's power through `chassis_control`: ipmi_sim runs
// the VM's control script ("get power", "set power 0|1", "set reset 1", "set boot pxe",
// ...) and the script starts or stops QEMU; the power state is whether that QEMU
// process exists. (With `startcmd` instead, ipmi_sim refuses "chassis bootdev", which
// metalform's power driver sends before a power cycle.) QEMU also connects back to
// ipmi_sim's VM port (`-device ipmi-bmc-extern` + `isa-ipmi-kcs`), so the guest has a
// real KCS BMC: the installer can set the BMC's LAN settings through it.
// Files holding the password are 0600; the password is never logged.
import { createHash } from "node:crypto";
import { mkdirSync, writeFileSync } from "node:fs";
import { inNamespace, runCommand, startDaemon, type RunResult } from "./run.js";

export const BMC_USER = "admin";

export interface BmcSpec {
  name: string;
  address: string;
  port: number;
  /** TCP port on the namespace's loopback where QEMU's extern BMC connects. */
  serialPort: number;
  password: string;
  /** The VM's chassis control script (see controlScript). */
  controlScript: string;
}

function quoted(what: string, v: string): string {
  // lan.conf strings are double-quoted without escapes.
  if (/["\n\\]/.test(v)) throw new Error(`${what} cannot contain quotes, backslashes or newlines`);
  return `"${v}"`;
}

export function renderLanConf(b: BmcSpec): string {
  const guid = createHash("sha256").update(`metalform-lab-bmc:${b.name}`).digest("hex").slice(0, 32);
  return `# metalform lab: BMC of ${b.name} (ipmi_sim)
name ${quoted("BMC name", b.name)}
set_working_mc 0x20
  startlan 1
    addr ${b.address} ${b.port}
    priv_limit admin
    allowed_auths_callback md5
    allowed_auths_user md5
    allowed_auths_operator md5
    allowed_auths_admin md5
    guid ${guid}
  endlan
  serial 15 127.0.0.1 ${b.serialPort} codec VM ipmb 0x20
  chassis_control ${quoted("chassis control command", b.controlScript)}
  user 2 true ${quoted("BMC user", BMC_USER)} ${quoted("BMC password", b.password)} admin 10 md5
`;
}

/**
 * The chassis control script of one VM, run by ipmi_sim as
 * `SCRIPT get power boot` (prints "power:1" / "boot:pxe" lines) or
 * `SCRIPT set power 1` / `set reset 1` / `set shutdown 1` / `set boot pxe|default|none|cdrom|bios`.
 * The boot device persists until changed; "default" (the hard disk) makes the next
 * start boot the disk first, anything else the network first.
 */
export function controlScript(v: { name: string; dir: string; startScript: string; pidFile: string; bootFile: string; qemuLog: string }): string {
  return `#!/bin/sh
# metalform lab: chassis control of VM ${v.name}, run by its BMC (ipmi_sim chassis_control).
pidfile=${v.pidFile}
bootfile=${v.bootFile}
start=${v.startScript}
qemulog=${v.qemuLog}
pid=""
${CONTROL_POWER}${CONTROL_DISPATCH}`;
}

/** Shell functions of the control script: is the VM running, start it (detached), stop it. */
const CONTROL_POWER = `running() {
	pid=$(cat "$pidfile" 2>/dev/null) || return 1
	[ -n "$pid" ] && grep -q qemu "/proc/$pid/cmdline" 2>/dev/null
}
power_on() {
	running && return 0
	rm -f "$pidfile"
	# Its own session and no link to our stdout: ipmi_sim reads our output until EOF.
	setsid "$start" </dev/null >>"$qemulog" 2>&1 &
	i=0
	while [ $i -lt 100 ] && ! running; do sleep 0.05; i=$((i + 1)); done
}
power_off() {
	if running; then
		kill "$pid" 2>/dev/null
		i=0
		while [ $i -lt 60 ] && grep -q qemu "/proc/$pid/cmdline" 2>/dev/null; do sleep 0.05; i=$((i + 1)); done
		kill -9 "$pid" 2>/dev/null
	fi
	rm -f "$pidfile"
}
`;

/** The control script's commands: `get power boot`, `set power|reset|shutdown|boot VALUE…`, `check`. */
const CONTROL_DISPATCH = `while [ $# -gt 0 ]; do
	case "$1" in get | set | check) break ;; esac
	shift
done
op=\${1:-}
[ $# -gt 0 ] && shift
case "$op" in
get)
	for p in "$@"; do
		case "$p" in
		power) if running; then echo "power:1"; else echo "power:0"; fi ;;
		boot) echo "boot:$(cat "$bootfile" 2>/dev/null || echo pxe)" ;;
		esac
	done
	;;
set)
	while [ $# -ge 2 ]; do
		case "$1" in
		power) if [ "$2" = 1 ]; then power_on; else power_off; fi ;;
		reset) power_off; power_on ;;
		shutdown) power_off ;;
		boot) case "$2" in none | pxe | default | cdrom | bios) echo "$2" >"$bootfile" ;; esac ;;
		esac
		shift 2
	done
	;;
check) ;;
*) exit 1 ;;
esac
exit 0
`;

/** The emulated management controller: a BMC with chassis control (device support 0x9f). */
export const BMC_EMU = `# metalform lab: one BMC at IPMB 0x20
mc_setbmc 0x20
mc_add 0x20 0 no-device-sdrs 0x23 9 8 0x9f 0x1291 0xf02 persist_sdr
sel_enable 0x20 1000 0x0a
mc_enable 0x20
`;

export interface BmcFiles {
  lanConf: string;
  emu: string;
  stateDir: string;
  log: string;
}

/** Writes the BMC's files and starts ipmi_sim inside the namespace; returns its pid. */
export function startBmc(ns: string, spec: BmcSpec, files: BmcFiles): number {
  writeFileSync(files.lanConf, renderLanConf(spec), { mode: 0o600 });
  writeFileSync(files.emu, BMC_EMU, { mode: 0o644 });
  mkdirSync(files.stateDir, { recursive: true, mode: 0o700 });
  return startDaemon(inNamespace(ns, ["ipmi_sim", "-n", "-c", files.lanConf, "-f", files.emu, "-s", files.stateDir]), files.log);
}

/** ipmitool over lanplus against a lab BMC, from inside the namespace; the password comes from its file. */
export function ipmitool(ns: string, bmc: { address: string; port: number; passwordFile: string }, args: string[], timeoutMs = 20_000): Promise<RunResult> {
  return runCommand(
    inNamespace(ns, ["ipmitool", "-I", "lanplus", "-H", bmc.address, "-p", String(bmc.port), "-U", BMC_USER, "-f", bmc.passwordFile, "-R", "2", "-N", "2", ...args]),
    { timeoutMs },
  );
}

/** A random password of IPMI's 16-character maximum (IPMI 1.5 limit; 2.0 allows 20). */
export function randomBmcPassword(bytes: Buffer): string {
  const alphabet = "ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789";
  let s = "";
  for (let i = 0; i < 16; i++) s += alphabet[(bytes[i] ?? 0) % alphabet.length];
  return s;
}
