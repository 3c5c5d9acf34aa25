// The provisioning channel as seen from an installed node, in the virtual lab (one
// busybox QEMU node, TCG): metalform serve runs the services, apply installs the node
// through it. The image carries a probe that an unprivileged user (uid 1000) runs
// twice on the installed system — right after switch_root, while the install
// attempt is still open (before UP), and again after UP — reading /proc/cmdline, the
// node credential, the installer's leftovers, and asking the head for a claim, the
// plan, the BMC password, a false report, a false UP, the image module list and the
// image. All refused (or unreadable), each refusal in serve's log with the node's
// address. A passive capture of the provisioning bridge records the install
// credentials as they cross the wire (plain HTTP: docs/security.md); afterwards the
// node's disk image holds neither them nor the BMC password.
import { spawn, type ChildProcess } from "node:child_process";
import { appendFileSync, chmodSync, closeSync, existsSync, mkdirSync, openSync, readFileSync, readSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { labDown, labExec, labIpmitool, labUp, type LabInfo } from "../../src/lab/index.js";

const ROOT = new URL("../../", import.meta.url).pathname;
const NS = `mfXn${process.pid % 100000}`;
const METALFORM = [process.execPath, join(ROOT, "bin/metalform")];
let lab: LabInfo;
let serve: ChildProcess | undefined;
let serveLog = "";
let capture: ChildProcess | undefined;
let pcap = "";
let applyRun = { code: 1, stdout: "", stderr: "" };

/** The probe the unprivileged user runs; results on the console as `MFPROBE PHASE CHECK RESULT`. */
function probeScript(rsyncPort: number): string {
  return `#!/bin/sh
P=$1
say() { echo "MFPROBE $P $*"; }
api=$(sed -n 's/.*mf\\.api=\\([^ ]*\\).*/\\1/p' /proc/cmdline)
hp=\${api#http://}
hp=\${hp%%/*}
host=\${hp%:*}
port=\${hp##*:}
base=/\${api#http://*/}
say id $(id -u)
say cmdline $(cat /proc/cmdline)
for f in /etc/metalform/node-credential /run/metalform/plan.sh /run/metalform/claim /run/metalform/bmc-password; do
	if cat "$f" >/dev/null 2>&1; then say read "$f" READABLE; else say read "$f" refused; fi
done
found=$(grep -rls -e MF_TOKEN -e MF_RSYNC_PASSWORD /run /etc /tmp 2>/dev/null | tr '\\n' ' ')
say leftovers "\${found:-none}"
http() { # METHOD PATH [BODY]: the status code
	printf '%s %s HTTP/1.0\\r\\nHost: %s\\r\\nContent-Type: application/json\\r\\nContent-Length: %s\\r\\n\\r\\n%s' "$1" "$2" "$hp" "\${#3}" "$3" |
		timeout 10 nc "$host" "$port" 2>/dev/null | head -n 1 | cut -d' ' -f2
}
say claim $(http POST "$base/claim")
say plan $(http GET "$base/plan")
say plan.sh $(http GET "$base/plan.sh")
say bmc-password $(http GET "$base/bmc-password")
say report $(http POST "$base/report" '{"step":"rsync","status":"failed","message":"x"}')
say up $(http POST "$base/up" '{"image":"sha256:evil"}')
list=$(printf '@RSYNCD: 31.0\\n\\n' | timeout 10 nc "$host" ${rsyncPort} 2>/dev/null | grep -v '^@RSYNCD' | tr '\\n' ' ')
say rsync-list "[\${list}]"
module=$(printf '@RSYNCD: 31.0\\nimg-lab\\n' | timeout 10 nc "$host" ${rsyncPort} 2>/dev/null | grep -v '^@RSYNCD: [0-9]' | head -n 1)
say rsync-module "\${module}"
say done
`;
}

/** Boot hooks (root) that run the probe as uid 1000: once before UP, once after. */
function hooks(): Array<[string, string]> {
  const asUser = (phase: string) => `su -s /bin/sh mfuser -c '/usr/local/bin/mfprobe ${phase}' </dev/null >/dev/console 2>&1`;
  return [
    ["etc/init.d/S50mfprobe", `#!/bin/sh\n# test: an unprivileged user's probe while the install attempt is still open (UP comes at S99)\n${asUser("before-up")}\n`],
    ["etc/init.d/S99zmfprobe", `#!/bin/sh\n# test: the same probe after UP\n(sleep 25; ${asUser("after-up")}) &\n`],
  ];
}

function addProbe(): void {
  const root = lab.imageRoot;
  const yaml = readFileSync(lab.configPath, "utf8");
  const rsyncPort = Number(/rsync:\s*(\d+)/.exec(yaml)?.[1] ?? 873);
  mkdirSync(join(root, "usr/local/bin"), { recursive: true });
  writeFileSync(join(root, "usr/local/bin/mfprobe"), probeScript(rsyncPort));
  chmodSync(join(root, "usr/local/bin/mfprobe"), 0o755);
  for (const [p, text] of hooks()) {
    writeFileSync(join(root, p), text);
    chmodSync(join(root, p), 0o755);
  }
  appendFileSync(join(root, "etc/passwd"), "mfuser:x:1000:1000:probe:/tmp:/bin/sh\n");
  appendFileSync(join(root, "etc/group"), "mfuser:x:1000:\n");
}

const probe = (phase: string) =>
  Object.fromEntries(
    [...readFileSync(lab.nodes[0]!.serialLog, "utf8").matchAll(new RegExp(`MFPROBE ${phase} (\\S+) ?(.*?)\\r?$`, "gm"))].map((m) => [
      m[1]! + (m[1] === "read" ? ` ${m[2]!.split(" ")[0]}` : ""),
      m[1] === "read" ? m[2]!.split(" ")[1]! : m[2]!,
    ]),
  );

/** Which of `needles` occur in a file (read in chunks that overlap by the longest needle). */
function scan(file: string, needles: string[]): string[] {
  const bufs = needles.map((n) => Buffer.from(n));
  const overlap = Math.max(...bufs.map((b) => b.length));
  const found = new Set<string>();
  const fd = openSync(file, "r");
  const chunk = Buffer.alloc(64 << 20);
  let keep = 0;
  try {
    for (;;) {
      const n = readSync(fd, chunk, keep, chunk.length - keep, null);
      if (n === 0) break;
      const view = chunk.subarray(0, keep + n);
      bufs.forEach((b, i) => view.includes(b) && found.add(needles[i]!));
      keep = Math.min(overlap, view.length);
      view.copy(chunk, 0, view.length - keep);
    }
  } finally {
    closeSync(fd);
  }
  return [...found];
}

async function until(what: string, ok: () => boolean, ms: number): Promise<void> {
  const end = Date.now() + ms;
  while (!ok()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}\nserve:\n${serveLog.slice(-3000)}`);
    await new Promise((r) => setTimeout(r, 1000));
  }
}

beforeAll(async () => {
  await labDown({ namespace: NS }).catch(() => undefined);
  lab = await labUp({ namespace: NS, nodes: 1, memoryMiB: 384, powerOn: false });
  addProbe();
  pcap = join(lab.dir, "provisioning.pcap");
  capture = spawn("ip", ["netns", "exec", NS, "tcpdump", "-U", "-s", "0", "-i", lab.bridge, "-w", pcap, "tcp"], { stdio: "ignore" });
  serve = spawn("ip", ["netns", "exec", NS, ...METALFORM, "serve", "-c", lab.configPath, "--json"], { stdio: ["ignore", "pipe", "pipe"] });
  serve.stdout!.on("data", (d) => (serveLog += d));
  serve.stderr!.on("data", (d) => (serveLog += d));
  await until("serve to listen", () => serveLog.includes('"event":"serving"'), 60_000);
}, 600_000);

afterAll(async () => {
  serve?.kill("SIGTERM");
  capture?.kill("SIGTERM");
  await labDown({ namespace: NS }).catch(() => undefined);
}, 120_000);

describe("an installed node's unprivileged user, and its disk", () => {
  it("installs through serve; the unprivileged user gets nothing, before UP and after", async () => {
    const r = await labExec(
      { namespace: NS, dir: lab.dir },
      [...METALFORM, "apply", "-c", lab.configPath, "--auto-approve", "--json", "--retries", "1", "--phase-timeout", "dhcp=90s", "--phase-timeout", "installer=120s"],
      {
        capture: true,
        timeoutMs: 400_000,
      },
    );
    applyRun = { code: r.code ?? 1, stdout: r.stdout, stderr: r.stderr };
    expect(applyRun.code, applyRun.stderr.slice(-3000)).toBe(0);
    await until("the probe after UP", () => existsSync(lab.nodes[0]!.serialLog) && /MFPROBE after-up done/.test(readFileSync(lab.nodes[0]!.serialLog, "utf8")), 180_000);
    for (const phase of ["before-up", "after-up"]) {
      const p = probe(phase);
      expect(p.id, phase).toBe("1000");
      expect(p.cmdline, phase).toContain("mf.api=");
      expect(p.cmdline, phase).not.toMatch(/token|password|secret|credential/i);
      for (const f of ["/etc/metalform/node-credential", "/run/metalform/plan.sh", "/run/metalform/claim", "/run/metalform/bmc-password"])
        expect([phase, f, p[`read ${f}`]]).toEqual([phase, f, "refused"]);
      expect(p.leftovers, phase).toBe("none");
      for (const what of ["claim", "plan", "plan.sh", "bmc-password", "report", "up"]) expect([phase, what, p[what]]).toEqual([phase, what, "403"]);
      expect(p["rsync-list"], phase).not.toContain("img-");
      // While the install runs the node's address may ask (the daemon wants the attempt's
      // password, which this user cannot have); after UP the module is gone for everyone.
      expect(p["rsync-module"], phase).toMatch(phase === "before-up" ? /^(@ERROR|@RSYNCD: AUTHREQD)/ : /^@ERROR/);
    }
    // The node itself came UP (its reporter used the node credential, through busybox nc).
    expect(serveLog).toMatch(/"phase":"up"/);
  }, 600_000);

  it("serve logged every refusal with the node's address, never a secret", () => {
    const ip = lab.nodes[0]!.ip;
    const refusals = serveLog.split("\n").filter((l) => l.includes("installer-api.refused") && l.includes(`"remote":"${ip}"`));
    expect(refusals.length, serveLog.slice(-3000)).toBeGreaterThanOrEqual(12);
    expect(serveLog).toMatch(new RegExp(`rsyncd.*(unknown module|denied|auth failed).*${ip.replaceAll(".", "\\.")}`, "i"));
    const pw = readFileSync(lab.bmcPasswordFile, "utf8").trim();
    expect(serveLog.includes(pw)).toBe(false);
  });

  it("the node's disk holds neither the BMC password nor an install credential (0 hits)", async () => {
    capture?.kill("SIGTERM");
    await new Promise((r) => setTimeout(r, 1000));
    // The claim answers, as a passive listener on the provisioning network saw them.
    const wire = readFileSync(pcap).toString("latin1");
    const credentials = [...wire.matchAll(/MF_(?:TOKEN|RSYNC_PASSWORD)='([A-Za-z0-9_-]{43})'/g)].map((m) => m[1]!);
    expect(credentials.length, "no claim answer was captured").toBeGreaterThanOrEqual(2);
    await labIpmitool(lab, "lab1", ["chassis", "power", "off"]);
    await new Promise((r) => setTimeout(r, 3000));
    const secrets = [readFileSync(lab.bmcPasswordFile, "utf8").trim(), ...new Set(credentials)];
    // The scan can find what is there: the probe script (image file) is on that disk.
    const hits = scan(lab.nodes[0]!.diskPath, [...secrets, "MFPROBE $P"]);
    expect(hits).toEqual(["MFPROBE $P"]);
  }, 120_000);
});
