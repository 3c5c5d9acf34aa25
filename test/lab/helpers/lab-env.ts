// Shared pieces of the lab tests: unique namespace names with the mflab prefix,
// cleanup of stale ones, and a failing check for the Debian packages a test needs.
import { execFileSync } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

export const PREFIX = "mflab";

/** A namespace name unique to this test run: mflab + tag + pid. */
export function uniqueNamespace(tag: string): string {
  return `${PREFIX}${tag}${process.pid}`;
}

export function tempLabDir(tag: string): string {
  return join(mkdtempSync(join(tmpdir(), `mflab-${tag}-`)), "lab");
}

/** Removes namespaces of earlier runs of this tag whose process is gone. */
export function cleanupStale(tag: string): void {
  let list = "";
  try {
    list = execFileSync("ip", ["netns", "list"], { encoding: "utf8" });
  } catch {
    return;
  }
  for (const line of list.split("\n")) {
    const name = line.split(/\s+/)[0] ?? "";
    const m = new RegExp(`^${PREFIX}${tag}(\\d+)$`).exec(name);
    if (!m) continue;
    const pid = Number(m[1]);
    let alive = true;
    try {
      process.kill(pid, 0);
    } catch {
      alive = false;
    }
    if (alive) continue;
    try {
      const pids = execFileSync("ip", ["netns", "pids", name], { encoding: "utf8" }).split(/\s+/).filter(Boolean);
      for (const p of pids) {
        try {
          process.kill(Number(p), "SIGKILL");
        } catch {
          // gone already
        }
      }
      execFileSync("ip", ["netns", "del", name]);
    } catch {
      // best effort
    }
  }
}

/** Throws (the test fails) naming the Debian package when a tool is missing. */
export function requireTools(tools: Record<string, string>): void {
  const missing: string[] = [];
  for (const [tool, pkg] of Object.entries(tools)) {
    try {
      execFileSync("sh", ["-c", `command -v ${tool}`], { stdio: "ignore" });
    } catch {
      missing.push(`${tool} (Debian package ${pkg})`);
    }
  }
  if (missing.length > 0) throw new Error(`missing: ${missing.join(", ")}; apt-get install -y ${Object.values(tools).join(" ")}`);
}

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
