// Attacks on the provisioning channel, with simulated nodes (test/apply/sim-lab.ts):
// metalform applies two nodes in namespaces on a bridge; a third machine on the same
// provisioning network (the attacker) tries, during the install and after it, to
// fetch a node's plan, the BMC password, image files and modules, to claim or replay
// a credential and to post false reports and UP — with nothing, and with the real
// credentials of n01 copied out of its installer (as if sniffed). Every attempt is
// refused and logged with the attacker's address; no log line holds a credential.
// The services run in `metalform serve` (they outlive the apply, for the attacks
// after it). n01 hangs in its sync (the install stays open for the attacks) until
// apply's sync timeout fails it; n02 installs and reports UP.
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { execFileSync } from "node:child_process";
import { SimLab, jsonEvents, type Run, type RunHandle } from "../apply/sim-lab.js";

const lab = new SimLab({ prefix: "mfX-at", nodes: 2, subnet: 97, portBase: 18970 });
let attacker = { ns: "", address: "" };
let run: Run;
let serve: RunHandle;
let served: Run;
const during: Record<string, string> = {};
const stolen: Record<string, Record<string, string>> = {};

beforeAll(() => {
  lab.setup();
  attacker = lab.addHost("atk", 50);
}, 60_000);
afterAll(() => {
  serve?.proc.kill("SIGKILL");
  lab.cleanup();
});

/** HTTP status of a request made from a namespace (curl; -w prints the code only). */
function status(ns: string, url: string, o: { token?: string; post?: string } = {}): number {
  const args = ["-sS", "-o", "/dev/null", "-w", "%{http_code}", "--max-time", "10"];
  if (o.token) args.push("-H", `Authorization: Bearer ${o.token}`);
  if (o.post !== undefined) args.push("-H", "Content-Type: application/json", "--data", o.post);
  return Number(execFileSync("ip", ["netns", "exec", ns, "curl", ...args, url], { encoding: "utf8" }));
}

function get(ns: string, url: string): string {
  return execFileSync("ip", ["netns", "exec", ns, "curl", "-sS", "--max-time", "10", url], { encoding: "utf8" });
}

/** rsync from a namespace with a password in its environment; exit code and output. */
function rsync(ns: string, args: string[], password?: string): { code: number; out: string } {
  try {
    const out = execFileSync("ip", ["netns", "exec", ns, "env", `RSYNC_PASSWORD=${password ?? "none-given-000000"}`, "rsync", ...args], {
      encoding: "utf8",
      stdio: ["ignore", "pipe", "pipe"],
      timeout: 30_000,
    });
    return { code: 0, out };
  } catch (e) {
    const x = e as { status?: number; stdout?: string; stderr?: string };
    return { code: x.status ?? 1, out: `${x.stdout ?? ""}${x.stderr ?? ""}` };
  }
}

const api = (n: string) => `http://${lab.address}:${lab.httpPort}/api/v1/installer/nodes/${n}`;
const claimOf = (n: string) => {
  const text = readFileSync(join(lab.dir, `work-${n}`, "claim"), "utf8");
  return Object.fromEntries([...text.matchAll(/^(MF_\w+)='([^']*)'$/gm)].map((m) => [m[1]!, m[2]!]));
};
const rsyncUrl = (user?: string) => `rsync://${user ? `${user}@` : ""}${lab.address}:${lab.rsyncPort}/img-sim/`;

async function until(what: string, ok: () => boolean, ms: number): Promise<void> {
  const t0 = Date.now();
  while (!ok()) {
    if (Date.now() - t0 > ms) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

describe("attacks on the provisioning channel (simulated nodes)", () => {
  it("during the install: everything the attacker tries is refused, even with n01's own credentials", async () => {
    serve = lab.metalform(["serve", "-c", lab.cfgDir, "--json", "--log-level", "debug"]);
    await until("serve to listen", () => serve.stdout.includes('"event":"serving"'), 30_000);
    const h = lab.metalform(["apply", "-c", lab.cfgDir, "--auto-approve", "--json", "--log-level", "debug", "--retries", "0", "--phase-timeout", "sync=40s"], {
      behaviour: { n01: "hang-sync", n02: "ok" },
    });
    const done = h.done;
    const inSync = () => jsonEvents(h.stdout).some((e) => e.type === "node_phase" && e.node === "n01" && e.phase === "sync");
    await until("n01 to hang in its sync", () => existsSync(join(lab.dir, "work-n01", "claim")) && inSync(), 120_000);
    stolen.n01 = claimOf("n01");
    const tok = stolen.n01.MF_TOKEN!;
    const from = attacker.ns;
    // The script is public and carries no secret; fetched from elsewhere it opens no attempt.
    const script = get(from, `http://${lab.address}:${lab.httpPort}/boot/${lab.mac("n01")}.ipxe`);
    expect(script).toContain("mf.api=");
    expect(script).not.toMatch(/token|password|secret|credential/i);
    during.claim = String(status(from, `${api("n01")}/claim`, { post: "" }));
    during.planNoToken = String(status(from, `${api("n01")}/plan`));
    during.planStolen = String(status(from, `${api("n01")}/plan`, { token: tok }));
    during.planShStolen = String(status(from, `${api("n01")}/plan.sh`, { token: tok }));
    during.bmcStolen = String(status(from, `${api("n01")}/bmc-password`, { token: tok }));
    during.falseReport = String(status(from, `${api("n01")}/report`, { token: tok, post: JSON.stringify({ step: "rsync", status: "failed", message: "x" }) }));
    during.falseUp = String(status(from, `${api("n01")}/up`, { token: tok, post: JSON.stringify({ image: "sha256:evil" }) }));
    during.kernel = String(status(from, `http://${lab.address}:${lab.httpPort}/files/kernel-sim/vmlinuz`));
    // From n01 itself: its credential opens neither n02's plan nor a second claim.
    during.otherNodesPlan = String(status(lab.nodeNs("n01"), `${api("n02")}/plan`, { token: tok }));
    during.secondClaim = String(status(lab.nodeNs("n01"), `${api("n01")}/claim`, { post: "" }));
    const list = rsync(from, [`rsync://${lab.address}:${lab.rsyncPort}/`]);
    const anonymous = rsync(from, ["-a", rsyncUrl(), "/tmp/mfX-at-anon/"]);
    const withStolen = rsync(from, ["-a", rsyncUrl(stolen.n01.MF_RSYNC_USER), "/tmp/mfX-at-stolen/"], stolen.n01.MF_RSYNC_PASSWORD);
    // The node's own install still works: its credential from its address.
    const own = status(lab.nodeNs("n01"), `${api("n01")}/plan`, { token: tok });
    run = await done;
    expect(run.code, run.stderr.slice(-2000)).not.toBe(0); // n01 failed (sync timeout)
    for (const [what, code] of Object.entries(during)) expect([what, code]).toEqual([what, "403"]);
    expect(list.out).not.toContain("img-");
    expect(anonymous.code).not.toBe(0);
    expect(withStolen.code).not.toBe(0);
    expect(own).toBe(200);
    const ev = jsonEvents(run.stdout);
    expect(ev.some((e) => e.type === "node_phase" && e.node === "n02" && e.phase === "up")).toBe(true);
  }, 240_000);

  it("after the install: old credentials are refused from the nodes' own addresses", async () => {
    stolen.n02 = claimOf("n02");
    const n1 = lab.nodeNs("n01");
    const n2 = lab.nodeNs("n02");
    expect(status(n1, `${api("n01")}/plan`, { token: stolen.n01!.MF_TOKEN })).toBe(403); // failed: ended
    expect(status(n2, `${api("n02")}/plan`, { token: stolen.n02.MF_TOKEN })).toBe(403); // UP: ended
    expect(status(n2, `${api("n02")}/report`, { token: stolen.n02.MF_TOKEN, post: JSON.stringify({ step: "rsync", status: "started" }) })).toBe(403);
    expect(status(n2, `${api("n02")}/claim`, { post: "" })).toBe(403); // no install running
    expect(status(attacker.ns, `${api("n02")}/up`, { token: stolen.n02.MF_TOKEN, post: JSON.stringify({ image: "sha256:evil" }) })).toBe(403);
    expect(rsync(n2, ["-a", rsyncUrl("n02"), "/tmp/mfX-at-replay/"], stolen.n02.MF_RSYNC_PASSWORD).code).not.toBe(0);
    expect(rsync(n1, ["-a", rsyncUrl("n01"), "/tmp/mfX-at-replay1/"], stolen.n01!.MF_RSYNC_PASSWORD).code).not.toBe(0);
    await new Promise((r) => setTimeout(r, 500)); // serve tails the rsync daemon's log every 100 ms
    serve.proc.kill("SIGTERM");
    served = await serve.done;
  }, 60_000);

  it("each refusal is logged with the remote address, never with a credential", () => {
    const log = served.stdout + served.stderr;
    const refusals = log.split("\n").filter((l) => l.includes("installer-api.refused"));
    const fromAttacker = refusals.filter((l) => l.includes(attacker.address));
    expect(fromAttacker.length, refusals.join("\n")).toBeGreaterThanOrEqual(8);
    expect(refusals.filter((l) => /"reason":"(no-install|bad-credential)"/.test(l) && /10\.77\.97\.1[12]/.test(l)).length).toBeGreaterThanOrEqual(4); // the replays
    expect(log).toMatch(new RegExp(`file-refused.*${attacker.address.replaceAll(".", "\\.")}`));
    expect(log).toMatch(new RegExp(`rsyncd.*(denied|unknown module|auth failed).*${attacker.address.replaceAll(".", "\\.")}`, "i"));
    const everything = log + run.stdout + run.stderr + [...run.nodeOutput.values()].join("") + (lab.readState() ?? "");
    for (const c of [stolen.n01!, stolen.n02!]) for (const v of [c.MF_TOKEN!, c.MF_RSYNC_PASSWORD!]) expect(everything.includes(v)).toBe(false);
  });
});
