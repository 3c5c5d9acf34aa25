// apply through a running `metalform serve`: serve owns the ports in the head
// namespace; apply (another process) finds its control socket, hands it the new
// configuration (serve reloads it: a node added after serve started gets its
// reservation), drives simulated nodes through it without binding a single port,
// and hands the boot modes back at the end — or serve takes them back when the
// apply is killed.
import { existsSync, statSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { inNs } from "../helpers/netns.js";
import { jsonEvents, SimLab, type RunHandle } from "../apply/sim-lab.js";

const lab = new SimLab({ prefix: "mfint-s", nodes: 3, subnet: 83, portBase: 18085 });
const cfg = () => ["-c", lab.cfgDir];
const socket = () => join(lab.cfgDir, ".metalform/serve.sock");
let serve: RunHandle;

beforeAll(() => {
  // serve starts knowing only n01 and n02.
  lab.setup();
  lab.writeConfig(["n01", "n02"]);
}, 60_000);
afterAll(() => lab.cleanup());

const until = async (what: string, f: () => boolean, ms = 20_000) => {
  const end = Date.now() + ms;
  while (!f()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}\nserve:\n${serve?.stdout.slice(-3000)}\n${serve?.stderr.slice(-2000)}`);
    await new Promise((r) => setTimeout(r, 20));
  }
};

/** Whether the iPXE script the services hand this node now runs the installer. */
function bootsInstaller(node: string): boolean {
  return /\bmf\.api=/.test(script(node));
}

/** The iPXE script the services hand this node now. */
function script(node: string): string {
  return inNs(lab.head, "curl", ["-sS", "--max-time", "5", `http://${lab.address}:${lab.httpPort}/boot/${lab.mac(node)}.ipxe`]);
}

/** Listening sockets in the head namespace with the pids that hold them. */
function listeners(): string {
  return inNs(lab.head, "ss", ["-Hlntup"]);
}

describe("apply through metalform serve's control socket", () => {
  it("serve listens on an owner-only socket beside the state", async () => {
    serve = lab.metalform(["serve", ...cfg(), "--json", "--log-level", "info"]);
    await until("serve to listen", () => serve.stdout.includes('"event":"serving"'));
    const st = statSync(socket());
    expect(st.isSocket()).toBe(true);
    expect(st.mode & 0o777).toBe(0o600);
    expect(st.uid).toBe(0); // serve runs as root: only root may drive it (docs/security.md)
    expect(bootsInstaller("n01")).toBe(false);
  });

  it("apply hands serve the new configuration and drives the nodes through it without binding a port", async () => {
    lab.writeConfig(lab.names);
    const apply = lab.metalform(["apply", ...cfg(), "--auto-approve", "--json", "--parallelism", "3"]);
    await until("the first power-cycle request", () => apply.asked.length > 0 || apply.proc.exitCode !== null);
    // While nodes are being installed: every listening socket belongs to serve (or its rsync daemon).
    const during = listeners();
    const applyPid = apply.proc.pid!;
    expect(during).not.toContain(`pid=${applyPid},`);
    expect(during).toMatch(new RegExp(`:${lab.httpPort}\\s.*pid=${serve.proc.pid},`));
    // n01 boots the installer now, through serve.
    expect(bootsInstaller("n01")).toBe(true);

    const r = await apply.done;
    await apply.killNodes();
    const detail = `apply stderr:\n${r.stderr.slice(-3000)}\nserve:\n${serve.stdout.slice(-4000)}`;
    expect(r.code, detail).toBe(0);
    expect(r.stderr).toMatch(new RegExp(`Using the running metalform serve \\(pid ${serve.proc.pid}\\) through \\S+serve\\.sock; it reloaded the configuration\\.`));
    const ev = jsonEvents(r.stdout);
    // n03 was not in serve's configuration when it started: only the reload let it boot.
    expect(
      ev
        .filter((e) => e.type === "node_complete")
        .map((e) => e.node)
        .sort(),
      detail,
    ).toEqual(["n01", "n02", "n03"]);
    expect(ev.filter((e) => e.type === "node_phase" && e.node === "n03").map((e) => e.phase)).toEqual(expect.arrayContaining(["dhcp", "boot-files", "installer", "sync", "up"]));
    expect(serve.stdout).toContain('"event":"reloaded-for-apply"');
    // The boot modes went back: every node boots its disk again.
    for (const n of lab.names) expect(bootsInstaller(n)).toBe(false);
    // serve still runs and still owns its ports.
    expect(serve.proc.exitCode).toBeNull();
    expect(listeners()).toMatch(new RegExp(`:${lab.httpPort}\\s.*pid=${serve.proc.pid},`));

    const again = await lab.metalform(["apply", ...cfg(), "--auto-approve"]).done;
    expect(again.code).toBe(0);
    expect(again.stdout).toContain("No changes.");
  }, 90_000);

  it("when the apply is killed, serve puts its nodes back on local boot", async () => {
    lab.bumpImage(1);
    const apply = lab.metalform(["apply", ...cfg(), "--auto-approve", "--json", "--parallelism", "1"], { behaviour: { n01: "never" } });
    await until("the first power-cycle request", () => apply.asked.length > 0 || apply.proc.exitCode !== null);
    expect(bootsInstaller("n01")).toBe(true);
    apply.proc.kill("SIGKILL");
    await apply.done;
    await until("serve to release n01", () => !bootsInstaller("n01"), 5000);
    expect(serve.stdout).toMatch(/"event":"control-session-ended".*"why":"connection closed"/);
    // The state lock of the killed apply is still there; serve does not touch it.
    expect(existsSync(`${lab.statePath}.lock`)).toBe(true);
  }, 60_000);

  it("serve stops on SIGTERM and removes its socket", async () => {
    serve.proc.kill("SIGTERM");
    const r = await serve.done;
    expect(r.code, r.stderr).toBe(0);
    expect(existsSync(socket())).toBe(false);
    expect(listeners()).not.toContain(`:${lab.httpPort} `);
  }, 30_000);
});
