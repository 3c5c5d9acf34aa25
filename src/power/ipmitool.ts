// Running the real ipmitool against one BMC. The password travels only in the
// IPMI_PASSWORD environment variable (ipmitool -E), never on the command line,
// where `ps` and /proc/PID/cmdline would show it to every user of the head node.

import { spawn } from "node:child_process";
import type { PowerErrorKind } from "./driver.js";
import { PowerError } from "./driver.js";

export interface IpmiTarget {
  /** ipmitool's -I: "lanplus" (IPMI 2.0 RMCP+, the default) or "lan" (IPMI 1.5, no cipher suites). */
  interface?: IpmiInterface;
  host: string;
  port: number;
  user: string;
  password: string;
  /** RMCP+ cipher suite; "auto" lets ipmitool ask the BMC (slow on some BMCs). */
  cipherSuite: number | "auto";
  /** Seconds ipmitool waits for each answer (-N). */
  timeoutSec: number;
  /** Times ipmitool resends an unanswered request (-R); at least 1. */
  retries: number;
  /** Session privilege (-L); ipmitool asks for ADMINISTRATOR when unset. */
  privilege?: IpmiPrivilege;
}

export type IpmiPrivilege = "ADMINISTRATOR" | "OPERATOR" | "USER";
export type IpmiInterface = "lanplus" | "lan";

/** IPMI 2.0 passwords are at most 20 bytes. */
export const MAX_PASSWORD_BYTES = 20;

/** The argument vector for one ipmitool command. It never holds the password. */
export function ipmitoolArgs(t: IpmiTarget, command: readonly string[]): string[] {
  const iface = t.interface ?? "lanplus";
  return [
    "-I",
    iface,
    "-H",
    t.host,
    "-p",
    String(t.port),
    "-U",
    t.user,
    "-E",
    "-N",
    String(t.timeoutSec),
    "-R",
    String(t.retries),
    // Cipher suites are RMCP+ (lanplus) only.
    ...(t.cipherSuite === "auto" || iface !== "lanplus" ? [] : ["-C", String(t.cipherSuite)]),
    ...(t.privilege ? ["-L", t.privilege] : []),
    // Verbose: the only way ipmitool says *why* a session failed (wrong password
    // vs. unknown user vs. no answer). The extra lines go to stderr.
    "-v",
    ...command,
  ];
}

/**
 * What ipmitool prints for each kind of failure, checked in this order. ipmitool
 * exits 1 for every failure, so its (verbose) output is the only witness of the
 * kind; the kind is decided here, once, and travels as PowerError.kind from then on —
 * nobody above reads the message to decide anything.
 */
const FAILURE_SIGNS: ReadonlyArray<readonly [PowerErrorKind, RegExp]> = [
  ["auth", /RAKP 2 HMAC is invalid|unauthorized name|invalid (user ?)?name|RAKP \d message indicates an error : (unauthorized|invalid)|password is too long/i],
  // Only the command's own failure counts: with -v, ipmitool also logs refused
  // optional probes ("Invalid completion code received: Insufficient privilege").
  ["privilege", /failed: Insufficient privilege|unauthorized role|Set Session Privilege Level to \w+ failed/i],
  ["cipher", /invalid (authentication|integrity|confidentiality) algorithm|no matching cipher suite|cipher suite .* not supported/i],
  ["unreachable", /Get Auth Capabilities error|Error issuing Get Channel Authentication Capabilities|No response from remote controller|Unable to establish LAN session|timeout/i],
];

/** How a failed ipmitool run is explained, from its output. Pure. */
export function classifyFailure(output: string): PowerErrorKind {
  return FAILURE_SIGNS.find(([, sign]) => sign.test(output))?.[0] ?? "failed";
}

export interface RunOptions {
  ipmitoolPath: string;
  /** Hard bound: the process is killed after this long. */
  deadlineMs: number;
  /** Called with the pid right after ipmitool started (diagnostics, tests). */
  onSpawn?: (pid: number) => void;
}

/**
 * How long ipmitool keeps trying an unanswered BMC. Measured with ipmitool 1.8.19
 * (lanplus): each retry waits longer than the one before, and the whole takes
 * timeout × retries × (retries + 1) seconds (-N 1: -R 1 → 2 s, -R 2 → 6 s;
 * -N 2 -R 1 → 4 s). -R 0 is not "no retries" but ipmitool's default (4 → 20 s).
 */
export function answerBoundSec(t: Pick<IpmiTarget, "timeoutSec" | "retries">): number {
  return t.timeoutSec * t.retries * (t.retries + 1);
}

/** The target as shown to people: host, or host:port when the port is not 623. */
export function bmcLabel(t: Pick<IpmiTarget, "host" | "port">): string {
  return t.port === 623 ? t.host : `${t.host}:${t.port}`;
}

/**
 * Runs one ipmitool command and returns its stdout; throws PowerError with an
 * operator-facing message on any failure.
 */
export function runIpmitool(t: IpmiTarget, command: readonly string[], opts: RunOptions): Promise<string> {
  const label = bmcLabel(t);
  const bound = answerBoundSec(t);
  return new Promise((resolve, reject) => {
    const env: NodeJS.ProcessEnv = { ...process.env, IPMI_PASSWORD: t.password };
    const child = spawn(opts.ipmitoolPath, ipmitoolArgs(t, command), {
      env,
      // No terminal: ipmitool must never stop to prompt for a password.
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    let killed = false;
    child.stdout.setEncoding("utf8").on("data", (d: string) => (stdout = (stdout + d).slice(-64 * 1024)));
    child.stderr.setEncoding("utf8").on("data", (d: string) => (stderr = (stderr + d).slice(-64 * 1024)));
    const timer = setTimeout(() => {
      killed = true;
      child.kill("SIGKILL");
    }, opts.deadlineMs);
    child.once("spawn", () => {
      if (child.pid !== undefined) opts.onSpawn?.(child.pid);
    });
    child.once("error", (err: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      if (err.code === "ENOENT") {
        reject(new PowerError("missing-tool", `ipmitool is not installed (${opts.ipmitoolPath} not found): apt-get install ipmitool (Debian package ipmitool)`));
      } else reject(new PowerError("failed", `cannot run ipmitool for BMC at ${label}: ${err.message}`));
    });
    child.once("close", (code) => {
      clearTimeout(timer);
      // Defence in depth: never let the password reach a message or a log.
      const output = scrub(`${stderr}\n${stdout}`, t.password);
      if (!killed && code === 0) return resolve(stdout);
      const kind = killed ? "unreachable" : classifyFailure(output);
      const said = killed ? undefined : bmcSaid(output);
      reject(new PowerError(kind, message(kind, label, t.user, bound, command, output), output.trim(), said));
    });
  });
}

function message(kind: PowerErrorKind, label: string, user: string, bound: number, command: readonly string[], output: string): string {
  switch (kind) {
    case "auth":
      return `BMC at ${label} refused the credentials for user ${user}`;
    case "unreachable":
      return `BMC at ${label} did not answer within ${bound} s`;
    case "privilege":
      return `BMC at ${label}: user ${user} lacks the privilege for "${command.join(" ")}"`;
    case "cipher":
      return `BMC at ${label} does not support the requested cipher suite`;
    default: {
      const why = lastMeaningfulLine(output);
      return `BMC at ${label}: "ipmitool ${command.join(" ")}" failed${why ? `: ${why}` : ""}`;
    }
  }
}

const NOISE = /^(Loading IANA PEN Registry|Running Get VSO Capabilities|Invalid completion code received|Discovered IPMB address|Get HPM\.x Capabilities|>>|<<)/;

// Lines in which ipmitool reports what the BMC answered (or that it did not).
const SAID = /error|fail|invalid|unable|unauthori[sz]ed|insufficient|not supported|denied|busy|no response/i;

/**
 * What the BMC said, from ipmitool's verbose output: the last few lines that report
 * an answer or its absence (the probes ipmitool makes on its own are left out), so
 * that `metalform power` can show them beside its own summary.
 */
export function bmcSaid(output: string): string | undefined {
  const lines = output
    .split("\n")
    .map((l) => l.trim())
    .filter((l) => l !== "" && !NOISE.test(l) && SAID.test(l));
  const unique = [...new Set(lines)].slice(-3);
  return unique.length ? unique.join("; ").slice(0, 400) : undefined;
}

function lastMeaningfulLine(output: string): string | undefined {
  const lines = output
    .split("\n")
    .map((l) => l.trim())
    .filter((l) => l !== "" && !NOISE.test(l));
  return lines.at(-1);
}

function scrub(text: string, secret: string): string {
  return secret.length >= 3 ? text.split(secret).join("********") : text;
}
