// Secrets: three BMC passwords, one from the environment, one from a file, one
// written inline. validate, plan (every format, --out), show, apply (JSON events and
// debug logs, ipmitool really run), state list/show and the installer plans served
// over HTTP during apply must never contain any of them; neither may any file
// metalform writes (state, backup, plans, caches, rendered rsyncd config and logs).
// State and plan files are 0600. While ipmitool runs, no process's command line
// holds a password (it gets it through IPMI_PASSWORD, -E).
// The one place a password is served by design is the installer API's bmc-password
// endpoint, to the node's own install credential during its BMC step
// (test/boot/installer-api.test.ts). The install credentials claimed here (as n01,
// from n01's address) must not show up in any output or file either.
import { readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { inNs } from "../helpers/netns.js";
import { QUICK_APPLY, makeLab, requireTool, runCli, startCli, type Lab, type Run } from "./harness.js";

/** n01's address, given to the lab's namespace so requests can come from it (as n01's installer's would). */
const N01_IP = "10.77.0.11";
const PW_ENV = "Env-Pw-7f3a9c21e";
const PW_FILE = "File-Pw-b81d55e0";
const PW_INLINE = "Inline-Pw-4c02e9d7";
const PASSWORDS = [PW_ENV, PW_FILE, PW_INLINE];
const ENV = { MFRB_BMC_PW: PW_ENV };

let lab: Lab;
let secretFile: string;
const outputs: { what: string; text: string }[] = [];
/** Install credentials claimed during the apply: never in an output or a file. */
const claimed: string[] = [];

function record(what: string, r: Run): Run {
  outputs.push({ what, text: r.stdout + r.stderr });
  return r;
}

function walk(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = join(dir, e.name);
    return e.isDirectory() ? walk(p) : e.isFile() ? [p] : [];
  });
}

function curlInNs(args: string[]): string {
  return inNs(lab.ns, "curl", ["-sS", "--max-time", "5", ...args]);
}

beforeAll(() => {
  requireTool("/usr/bin/ipmitool", "ipmitool");
  requireTool("/usr/bin/curl", "curl");
  requireTool("/usr/lib/ipxe/undionly.kpxe", "ipxe");
  // BMCs at addresses in the namespace's subnet where nothing answers: ipmitool runs
  // (and is watched) for its whole retry time, then apply records the failure.
  lab = makeLab({
    prefix: "mfrb-se",
    nodes: 4,
    nodeExtra: (i) =>
      i === 1
        ? `bmc: { driver: ipmi, address: 10.77.0.201, user: admin, password: { env: MFRB_BMC_PW } }`
        : i === 2
          ? `bmc: { driver: ipmi, address: 10.77.0.202, user: admin, password: { file: SECRETFILE } }`
          : i === 3
            ? `bmc: { driver: ipmi, address: 10.77.0.203, user: admin, password: "${PW_INLINE}" }`
            : "",
  });
  secretFile = join(lab.dir, "bmc-password.txt");
  writeFileSync(secretFile, PW_FILE + "\n", { mode: 0o600 });
  const y = join(lab.cfg, "cluster.yaml");
  writeFileSync(y, readFileSync(y, "utf8").replace("SECRETFILE", secretFile));
}, 60_000);

afterAll(() => lab?.cleanup());

describe("BMC passwords never leak", () => {
  it("validate, plan in every format, plan --out and show", async () => {
    record("validate", await runCli(lab, ["validate", "-c", lab.cfg], ENV));
    for (const f of ["terminal", "markdown", "json"]) record(`plan ${f}`, await runCli(lab, ["plan", "-c", lab.cfg, "--format", f], ENV));
    const out = join(lab.dir, "saved.plan");
    const r = record("plan --out", await runCli(lab, ["plan", "-c", lab.cfg, "--out", out], ENV));
    expect(r.code, r.stderr).toBe(0);
    expect(statSync(out).mode & 0o777).toBe(0o600);
    record("show", await runCli(lab, ["show", out], ENV));
    record("show --json", await runCli(lab, ["show", out, "--json"], ENV));
    // The inline password draws a warning that must not quote it.
    expect(outputs.find((o) => o.what === "validate")!.text).toContain("inline");
  }, 60_000);

  it("apply: ipmitool runs with -E and no command line holds a password; the served installer plans hold none", async () => {
    inNs(lab.ns, "ip", ["addr", "add", `${N01_IP}/24`, "dev", "mfd0"]);
    const apply = startCli(lab, ["apply", "-c", lab.cfg, ...QUICK_APPLY, "--phase-timeout", "power=30s", "--json", "--log-level", "debug"], ENV);
    const seen = { ipmitool: 0, withE: 0, leaks: [] as string[] };
    const served: { what: string; text: string }[] = [];
    let running = true;
    void apply.done.then(() => (running = false));
    let fetched = false;
    while (running) {
      for (const pid of readdirSync("/proc").filter((d) => /^\d+$/.test(d))) {
        let cmd: string;
        try {
          cmd = readFileSync(`/proc/${pid}/cmdline`, "utf8").replaceAll("\0", " ");
        } catch {
          continue;
        }
        // Our ipmitool runs: the ones aimed at this lab's BMC addresses.
        if (/(^|\/)ipmitool /.test(cmd) && / 10\.77\.0\.20\d /.test(cmd)) {
          seen.ipmitool++;
          if (/ -E( |$)/.test(cmd)) seen.withE++;
        }
        for (const pw of PASSWORDS) if (cmd.includes(pw)) seen.leaks.push(cmd);
      }
      if (!fetched) {
        // As n01 (from its address): its iPXE script names its installer API; the
        // installer's claim gives the credential; fetch its plan both ways.
        try {
          const script = curlInNs(["--interface", N01_IP, "http://10.77.0.1:18080/boot/52:54:00:bb:00:01.ipxe"]);
          const api = /mf\.api=(\S+)/.exec(script)?.[1];
          const answer = api ? curlInNs(["--interface", N01_IP, "-X", "POST", `${api}/claim`]) : "";
          const token = /^MF_TOKEN='([^']+)'$/m.exec(answer)?.[1];
          if (api && token) {
            claimed.push(token, /^MF_RSYNC_PASSWORD='([^']+)'$/m.exec(answer)![1]!);
            served.push({ what: "ipxe script", text: script });
            for (const p of ["plan", "plan.sh"]) served.push({ what: p, text: curlInNs(["--interface", N01_IP, "-H", `Authorization: Bearer ${token}`, `${api}/${p}`]) });
            // Another node's plan with n01's credential is refused.
            const other = api.replace(/\/n01$/, "/n02");
            const code = curlInNs(["--interface", N01_IP, "-o", "/dev/null", "-w", "%{http_code}", "-H", `Authorization: Bearer ${token}`, `${other}/plan`]);
            expect(Number(code)).toBeGreaterThanOrEqual(401);
            expect(Number(code)).toBeLessThan(404);
            fetched = true;
          }
        } catch {
          /* services not up yet */
        }
      }
      await new Promise((r) => setTimeout(r, 15));
    }
    const r = record("apply", await apply.done);
    expect(r.stdout).toContain('"type":"change_summary"');
    expect(seen.ipmitool, "ipmitool was never seen running").toBeGreaterThan(0);
    expect(seen.withE).toBe(seen.ipmitool);
    expect(seen.leaks).toEqual([]);
    expect(fetched, "n01's installer plan was never served").toBe(true);
    const plan = served.find((s) => s.what === "plan")!.text;
    expect(plan).toContain("10.77.0.201"); // it is the real plan, BMC settings included
    for (const s of served) for (const pw of PASSWORDS) expect(s.text.includes(pw), `${s.what} holds a password`).toBe(false);
  }, 90_000);

  it("state list and show; serve (debug logs, a node's script fetched)", async () => {
    record("state list", await runCli(lab, ["state", "list", "-c", lab.cfg, "--json"], ENV));
    for (const n of ["n01", "n02", "n03"]) record(`state show ${n}`, await runCli(lab, ["state", "show", n, "-c", lab.cfg, "--json"], ENV));
    const serve = startCli(lab, ["serve", "-c", lab.cfg, "--log-level", "debug", "--tftp-root", "/usr/lib/ipxe", "--bind-interface", "none"], ENV);
    let script = "";
    for (let i = 0; i < 100 && !script; i++) {
      await new Promise((r) => setTimeout(r, 100));
      try {
        script = curlInNs(["--fail", "http://10.77.0.1:18080/boot/52:54:00:bb:00:01.ipxe"]);
      } catch {
        /* not listening yet */
      }
    }
    serve.child.kill("SIGTERM");
    const r = record("serve", await serve.done);
    outputs.push({ what: "serve: n01's script", text: script });
    expect(script, r.stderr).toContain("#!ipxe");
    expect(r.stdout + r.stderr).toContain("n01");
  }, 30_000);

  it("no output and no file metalform wrote holds a password; state and plans are 0600", () => {
    expect(outputs.length).toBeGreaterThanOrEqual(14);
    expect(claimed.length).toBe(2);
    for (const o of outputs) for (const pw of [...PASSWORDS, ...claimed]) expect(o.text.includes(pw), `${o.what} printed a secret`).toBe(false);
    const files = walk(lab.dir).filter((f) => f !== secretFile && f !== join(lab.cfg, "cluster.yaml"));
    const written = files.filter((f) => f.includes("/.metalform/") || f.endsWith(".plan"));
    // state, backup, image cache, installer cache, rsyncd config, secrets and log, node credentials' hashes, saved plan
    expect(written.length).toBeGreaterThanOrEqual(6);
    for (const f of files) {
      const data = readFileSync(f);
      for (const pw of PASSWORDS) expect(data.includes(pw), `${f} holds a password`).toBe(false);
      // The rsync daemon's secrets file held n01's image password while its install ran; it is rewritten without it when the install ends.
      for (const c of claimed) expect(data.includes(c), `${f} holds an install credential`).toBe(false);
    }
    for (const f of [lab.statePath, `${lab.statePath}.backup`, join(lab.dir, "saved.plan")]) expect(statSync(f).mode & 0o777, f).toBe(0o600);
  });
});
