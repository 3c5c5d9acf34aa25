// A BMC for tests: OpenIPMI's ipmi_sim (Debian `openipmi`) on a loopback address,
// with chassis power and boot device kept in files by a small chassis_control
// script, so that power on/off/cycle really change what `power status` reports.

import { spawn, type ChildProcess } from "node:child_process";
import { chmod, mkdir, mkdtemp, readdir, readFile, readlink, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";

export interface SimUser {
  name: string;
  password: string;
  /** Highest privilege: "user", "operator" or "admin". */
  priv?: "user" | "operator" | "admin";
}

export interface SimBmc {
  host: string;
  port: number;
  /** "0" or "1" as the chassis script last stored it. */
  power(): Promise<string>;
  /** "pxe", "default" (disk), ... as last set through IPMI; "none" before. */
  boot(): Promise<string>;
  /** Every call ipmi_sim made to the chassis script, e.g. "set power 1". */
  calls(): Promise<string[]>;
  stop(): Promise<void>;
}

// ipmi_sim runs this for every chassis status / control / boot option command:
//   chassis.sh STATEDIR get power|boot ...   -> prints "power:1", "boot:pxe"
//   chassis.sh STATEDIR set power 1 boot pxe -> stores the values
const CHASSIS_SCRIPT = `#!/bin/sh
dir=$1; shift
op=$1; shift
echo "$op $*" >> "$dir/calls"
case $op in
get)
  for p in "$@"; do
    case $p in
      power) echo "power:$(cat "$dir/power")" ;;
      boot) echo "boot:$(cat "$dir/boot")" ;;
      *) echo "unknown parameter $p"; exit 1 ;;
    esac
  done ;;
set)
  while [ $# -ge 2 ]; do
    case $1 in
      power) echo "$2" > "$dir/power" ;;
      boot) echo "$2" > "$dir/boot" ;;
      identify) shift ;;
    esac
    shift 2
  done ;;
*) exit 1 ;;
esac
`;

export async function startIpmiSim(opts: { host: string; port: number; users: SimUser[]; power?: "on" | "off" }): Promise<SimBmc> {
  const dir = await mkdtemp(path.join(os.tmpdir(), "mfhr-ipmisim-"));
  const state = path.join(dir, "chassis");
  await mkdir(state);
  await mkdir(path.join(dir, "persist"));
  await writeFile(path.join(state, "power"), opts.power === "on" ? "1\n" : "0\n");
  await writeFile(path.join(state, "boot"), "none\n");
  await writeFile(path.join(state, "calls"), "");
  const script = path.join(dir, "chassis.sh");
  await writeFile(script, CHASSIS_SCRIPT);
  await chmod(script, 0o755);
  const users = opts.users.map((u, i) => `  user ${i + 2} true "${u.name}" "${u.password}" ${u.priv ?? "admin"} 10 none md2 md5 straight`).join("\n");
  await writeFile(
    path.join(dir, "lan.conf"),
    `name "mfhr"
set_working_mc 0x20
  startlan 1
    addr ${opts.host} ${opts.port}
    priv_limit admin
    allowed_auths_callback none md2 md5 straight
    allowed_auths_user none md2 md5 straight
    allowed_auths_operator none md2 md5 straight
    allowed_auths_admin none md2 md5 straight
    guid a123456789abcdefa123456789abcdef
  endlan
  chassis_control "${script} ${state}"
${users}
`,
  );
  await writeFile(
    path.join(dir, "bmc.emu"),
    `mc_setbmc 0x20
mc_add 0x20 0 no-device-sdrs 0x23 9 8 0x9f 0x1291 0xf02 persist_sdr
mc_enable 0x20
`,
  );
  const child = spawn("ipmi_sim", ["-c", path.join(dir, "lan.conf"), "-f", path.join(dir, "bmc.emu"), "-s", path.join(dir, "persist"), "-n"], {
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  child.stdout.on("data", (d) => (output += d));
  child.stderr.on("data", (d) => (output += d));
  const failed = new Promise<Error>((resolve) => {
    child.once("error", (e: NodeJS.ErrnoException) =>
      resolve(e.code === "ENOENT" ? new Error("ipmi_sim is not installed: apt-get install -y openipmi (Debian package openipmi)") : e),
    );
    child.once("exit", (code) => resolve(new Error(`ipmi_sim exited with ${code}: ${output}`)));
  });
  const deadline = Date.now() + 10_000;
  for (;;) {
    const err = await Promise.race([failed, new Promise<undefined>((r) => setTimeout(() => r(undefined), 50))]);
    if (err) {
      await rm(dir, { recursive: true, force: true });
      throw err;
    }
    if (await udpBoundBy(child, opts.port)) break;
    if (Date.now() > deadline) {
      child.kill("SIGKILL");
      throw new Error(`ipmi_sim did not bind ${opts.host}:${opts.port}: ${output}`);
    }
  }
  const read = async (f: string) => (await readFile(path.join(state, f), "utf8")).trim();
  return {
    host: opts.host,
    port: opts.port,
    power: () => read("power"),
    boot: () => read("boot"),
    calls: async () => (await read("calls")).split("\n").filter((l) => l !== ""),
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) {
        const gone = new Promise((r) => child.once("exit", r));
        child.kill("SIGTERM");
        await Promise.race([gone, new Promise((r) => setTimeout(r, 3000))]);
        if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
      }
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** True once the process holds a UDP socket bound to PORT (from /proc). */
async function udpBoundBy(child: ChildProcess, port: number): Promise<boolean> {
  const portHex = port.toString(16).toUpperCase().padStart(4, "0");
  const inodes = new Set<string>();
  for (const table of ["/proc/net/udp", "/proc/net/udp6"]) {
    const text = await readFile(table, "utf8").catch(() => "");
    for (const line of text.split("\n").slice(1)) {
      const f = line.trim().split(/\s+/);
      if (f.length >= 10 && f[1]!.split(":")[1] === portHex) inodes.add(f[9]!);
    }
  }
  if (inodes.size === 0 || child.pid === undefined) return false;
  for (const fd of await readdir(`/proc/${child.pid}/fd`).catch(() => [] as string[])) {
    const m = /^socket:\[(\d+)\]$/.exec(await readlink(`/proc/${child.pid}/fd/${fd}`).catch(() => ""));
    if (m && inodes.has(m[1]!)) return true;
  }
  return false;
}
