// The node agent on a real Debian 12 node of the lab (the shared Debian lab recipe, no
// image of its own): installed with the node, started by systemd without holding up the
// boot, it reports to `metalform serve` the image digest, boot id and kernel the node
// really runs; `metalform status` shows the node up; the node credential appears on no
// process's command line; a file edited by hand is drift `plan --refresh` shows; when
// serve stops the node turns down, and when serve is back the agent finds it again by
// itself (back-off, no restart); killed, systemd restarts it.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { NodeStatus } from "../../src/serve/status.js";
import { DebianLab, detail } from "../helpers/debian-lab.js";
import { DEBIAN_NODE_RECIPE, debianRoot } from "../helpers/debian-root.js";
import { requireBuilt } from "../helpers/netns.js";

const NS = `mfAe2e${process.pid % 10000}`;
const lab = new DebianLab(NS);
let serve: ReturnType<DebianLab["serve"]> | undefined;
let bootId = "";

beforeAll(async () => {
  requireBuilt();
  await lab.up(await debianRoot(DEBIAN_NODE_RECIPE));
}, 1_800_000);

afterAll(async () => {
  await serve?.stop();
  await lab.down();
}, 120_000);

async function status(downAfter = "2m"): Promise<NodeStatus> {
  const r = await lab.mf(["status", "-c", lab.config, "--json", "--down-after", downAfter]);
  expect(r.code, detail(r)).toBe(0);
  return (JSON.parse(r.stdout) as { nodes: NodeStatus[] }).nodes[0]!;
}

async function eventually<T>(what: string, f: () => Promise<T | undefined>, ms = 300_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await f();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}\nserve:\n${serve?.log().slice(-3000)}`);
    await new Promise((r) => setTimeout(r, 3000));
  }
}

describe.sequential("the node agent on a Debian node", () => {
  it("is installed with the node and started by systemd, ordered before nothing", async () => {
    const { run } = await lab.apply();
    expect(run.code, `${detail(run)}\nconsole:\n${lab.console().slice(-4000)}`).toBe(0);
    serve = lab.serve();
    const r = await lab.sshWhenUp(
      "systemctl is-active metalform-agent; cat /proc/sys/kernel/random/boot_id; systemctl show -p Before --value metalform-agent; stat -c %a /etc/metalform/node-credential; systemctl show -p Type --value metalform-agent",
    );
    expect(r.code, detail(r)).toBe(0);
    const [active, id, before, mode, type] = r.stdout.trim().split("\n");
    expect(active).toBe("active");
    expect(id).toMatch(/^[0-9a-f-]{36}$/);
    bootId = id!;
    // Only what systemd adds by itself (the target that wants it, shutdown); with Type=simple
    // that target waits for the fork alone, never for the head.
    expect((before ?? "").split(" ").filter((u) => u && u !== "shutdown.target" && u !== "multi-user.target")).toEqual([]);
    expect(type).toBe("simple");
    expect(mode).toBe("600");
  }, 1_800_000);

  it("reports what the node runs; status shows it up with the image of the state", async () => {
    const s = await eventually("the agent's report", async () => {
      const st = await status();
      return st.state === "up" && st.image ? st : undefined;
    });
    const kernel = (await lab.ssh("uname -r")).stdout.trim();
    expect(s).toMatchObject({ state: "up", kernel, imageDiffers: false });
    expect(s.image).toBe(lab.state().images["debian"]!.digest);
    expect(s.bootId).toBe(bootId);
  }, 600_000);

  it("never shows the node credential on a command line", async () => {
    // grep reads the credential from its file (-f): on its own command line it would find itself.
    const r = await lab.ssh("for f in /proc/[0-9]*/cmdline; do tr '\\0' ' ' <$f; echo; done | grep -cFf /etc/metalform/node-credential || true");
    expect(r.stdout.trim()).toBe("0");
  }, 120_000);

  it("a managed file edited by hand on the node is drift that plan --refresh turns into a sync", async () => {
    const clean = await lab.mf(["plan", "-c", lab.config, "--refresh", "--detailed-exitcode"]);
    expect(clean.code, detail(clean)).toBe(0);
    const edit = await lab.ssh("echo '10.0.0.99 by-hand' >> /etc/hosts");
    expect(edit.code, detail(edit)).toBe(0);
    // The agent hashes the managed files at every poll (30 s) and reports the change by itself.
    const change = await eventually("the drift in the plan", async () => {
      const r = await lab.mf(["plan", "-c", lab.config, "--refresh", "--json"]);
      const doc = JSON.parse(r.stdout) as { node_changes: Array<{ node: string; kind: string; reasons: Array<{ code: string; message: string }> }> };
      return doc.node_changes.find((c) => c.reasons.some((x) => x.code === "drift-files"));
    });
    expect(change).toMatchObject({ node: lab.node.name, kind: "sync" });
    expect(change.reasons.map((x) => x.message)).toContain("drift: 1 managed file changed on the node: /etc/hosts");
    const plain = await lab.mf(["plan", "-c", lab.config, "--detailed-exitcode"]);
    expect(plain.code, detail(plain)).toBe(0); // without --refresh: the state's view alone
  }, 300_000);

  it("the node turns down while serve is stopped, and the agent finds serve again by itself", async () => {
    await serve!.stop();
    await new Promise((r) => setTimeout(r, 15_000));
    expect((await status("10s")).state).toBe("down");
    serve = lab.serve();
    // Back-off is at most 60 s: the agent calls within that without being restarted.
    await eventually("the agent back", async () => ((await status("10s")).state === "up" ? true : undefined), 180_000);
    const pid = await lab.ssh("systemctl show -p NRestarts --value metalform-agent");
    expect(pid.stdout.trim()).toBe("0");
  }, 600_000);

  it("killed, the agent is restarted by systemd and reports again", async () => {
    const r = await lab.ssh("systemctl kill -s KILL metalform-agent; sleep 15; systemctl is-active metalform-agent; systemctl show -p NRestarts --value metalform-agent");
    expect(r.stdout.trim().split("\n")).toEqual(["active", "1"]);
    await eventually("a report after the restart", async () => ((await status("10s")).state === "up" ? true : undefined), 120_000);
  }, 300_000);
});
