// The node agent (src/boot/node-agent.ts) run for real by busybox sh against the real
// installer API and the head's agent records on a loopback server: it reports what the
// node runs, polls, does the work it is given, backs off while the head is away and
// reports as soon as it is back. The node credential is only ever printf's argument.
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { release, tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import { nodeAgentFiles, renderAgentConf, renderAgentScript } from "../../src/boot/node-agent.js";
import { followAgents, NodeAgents } from "../../src/serve/node-agents.js";
import { createInstallerApi } from "../../src/services/installer-api/api.js";
import { NodeCredentials } from "../../src/services/installer-api/node-credentials.js";
import { InstallSessions } from "../../src/services/installer-api/sessions.js";
import { nullLogger } from "../../src/util/log.js";

const dir = mkdtempSync(join(tmpdir(), "mf-agent-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const servers: Server[] = [];
const agents: ChildProcess[] = [];
afterEach(async () => {
  for (const a of agents.splice(0)) a.kill("SIGKILL");
  for (const s of servers.splice(0)) await new Promise<void>((r) => s.close(() => r()));
});

async function head(port = 0) {
  const nodeCredentials = new NodeCredentials();
  const credential = await nodeCredentials.issue("n01");
  const records = new NodeAgents();
  const api = createInstallerApi({
    sessions: new InstallSessions({ windowMs: 3_600_000 }),
    nodeCredentials,
    addressOf: (n) => (n === "n01" ? "127.0.0.1" : undefined),
    plan: () => undefined,
    agentWork: (n) => records.polled(n),
  });
  followAgents(api.events, records, nullLogger);
  const server = createServer((req, res) => void api.handle(req, res));
  servers.push(server);
  await new Promise<void>((r) => server.listen(port, "127.0.0.1", r));
  return { credential, records, api, port: (server.address() as AddressInfo).port };
}

/** Starts the agent with its files in `dir`, talking to 127.0.0.1:port. */
function startAgent(port: number, credential: string): { managedFile: string } {
  const managedFile = join(dir, "hostname");
  writeFileSync(managedFile, "n01\n");
  writeFileSync(join(dir, "managed"), `${managedFile}\n${join(dir, "gone")}\n`);
  writeFileSync(join(dir, "cred"), credential + "\n", { mode: 0o600 });
  writeFileSync(join(dir, "image"), "sha256:" + "cd".repeat(32) + "\n");
  writeFileSync(join(dir, "agent.conf"), renderAgentConf(`http://127.0.0.1:${port}/api/v1/installer/nodes/n01`, { intervalSeconds: 1, maxBackoffSeconds: 2 }));
  writeFileSync(join(dir, "agent"), renderAgentScript());
  const env = {
    PATH: "/usr/sbin:/usr/bin:/sbin:/bin",
    MF_AGENT_CONF: join(dir, "agent.conf"),
    MF_AGENT_CREDENTIAL: join(dir, "cred"),
    MF_AGENT_IMAGE: join(dir, "image"),
    MF_AGENT_MANAGED: join(dir, "managed"),
  };
  agents.push(spawn("/bin/busybox", ["sh", join(dir, "agent")], { env, stdio: "ignore" }));
  return { managedFile };
}

async function until<T>(what: string, f: () => T | undefined, ms = 60_000): Promise<T> {
  for (const end = Date.now() + ms; Date.now() < end; await new Promise((r) => setTimeout(r, 100))) {
    const v = f();
    if (v !== undefined) return v;
  }
  throw new Error(`timed out waiting for ${what}`);
}

describe("node agent", () => {
  it("reports image, boot id, kernel, uptime and the managed files' digests, then polls", async () => {
    const h = await head();
    const { managedFile } = startAgent(h.port, h.credential);
    const rec = await until("a report", () => h.records.record("n01"));
    expect(rec.report).toMatchObject({
      image: "sha256:" + "cd".repeat(32),
      bootId: readFileSync("/proc/sys/kernel/random/boot_id", "utf8").trim(),
      kernel: release(),
      files: { [managedFile]: createHash("sha256").update("n01\n").digest("hex"), [join(dir, "gone")]: "missing" },
    });
    const bootTime = Date.parse(rec.bootTime!);
    const uptime = Number(readFileSync("/proc/uptime", "utf8").split(" ")[0]);
    expect(Math.abs(bootTime - (Date.now() - uptime * 1000))).toBeLessThan(120_000);
    const firstSeen = rec.lastSeen;
    await until("a poll", () => (h.records.record("n01")!.lastSeen > firstSeen ? true : undefined));
  });

  it("reports again by itself when a managed file changes", async () => {
    const h = await head();
    const { managedFile } = startAgent(h.port, h.credential);
    const first = await until("a report", () => h.records.record("n01")?.report);
    writeFileSync(managedFile, "edited by hand\n");
    const want = createHash("sha256").update("edited by hand\n").digest("hex");
    const again = await until("a new report", () => (h.records.record("n01")?.report?.files[managedFile] === want ? h.records.record("n01")!.report : undefined));
    expect(again.time > first.time).toBe(true);
    expect(again.bootId).toBe(first.bootId);
  });

  it("does the work it is given and says how it ended; an unknown kind is answered failed", async () => {
    const h = await head();
    startAgent(h.port, h.credential);
    await until("a report", () => h.records.record("n01"));
    const item = h.records.enqueue("n01", "report");
    const done = await until("the work done", () => (h.records.record("n01")!.lastWork?.status === "ok" ? h.records.record("n01")!.lastWork : undefined));
    expect(done).toMatchObject({ id: item.id, kind: "report", status: "ok" });
    // A kind this agent does not know (a newer head's): answered failed, the agent keeps polling.
    const unknown = h.records.enqueue("n01", "frobnicate" as "report");
    const failed = await until("the unknown work answered", () =>
      h.records.record("n01")!.lastWork?.id === unknown.id && h.records.record("n01")!.lastWork?.status !== "sent" ? h.records.record("n01")!.lastWork : undefined,
    );
    expect(failed).toMatchObject({ status: "failed", message: "unknown kind" });
  });

  it("backs off while the head is down and reports once it is up", async () => {
    // A port nobody listens on yet: take one, close it, start the agent, then the head there.
    const probe = await head();
    const port = probe.port;
    await new Promise<void>((r) => servers.pop()!.close(() => r()));
    const cred = await new NodeCredentials().issue("n01");
    startAgent(port, cred);
    await new Promise((r) => setTimeout(r, 4000));
    const h = await head(port);
    // The new head issued its own credential: the agent presents the file's, so rewrite it (as a reinstall would).
    writeFileSync(join(dir, "cred"), h.credential + "\n");
    const rec = await until("a report after the head came up", () => h.records.record("n01"));
    expect(rec.report?.kernel).toBe(release());
  });

  it("refused with a wrong credential: no record, and the agent keeps trying", async () => {
    const h = await head();
    const refused: string[] = [];
    h.api.events.on("refused", (r) => refused.push(r.reason));
    startAgent(h.port, "not-the-credential");
    await until("refusals", () => (refused.length >= 2 ? true : undefined));
    expect(refused[0]).toBe("bad-node-credential");
    expect(h.records.record("n01")).toBeUndefined();
  });

  it("passes shellcheck as POSIX sh", () => {
    if (spawnSync("sh", ["-c", "command -v shellcheck"]).status !== 0) throw new Error("shellcheck missing: apt-get install shellcheck");
    const file = join(dir, "agent-check.sh");
    writeFileSync(file, renderAgentScript());
    const r = spawnSync("shellcheck", ["-s", "sh", file], { encoding: "utf8" });
    expect(r.stdout + r.stderr).toBe("");
    expect(r.status).toBe(0);
  });

  it("never puts the credential on a command line and never delays the boot", () => {
    const uses = renderAgentScript()
      .replace(/\\\n\s*/g, " ")
      .split("\n")
      .map((l) => l.trim())
      .filter((l) => l.includes("$token"));
    expect(uses.length).toBe(1);
    expect(uses[0]).toMatch(/^printf /);
    const { files } = nodeAgentFiles("http://h/api", ["/etc/hostname"]);
    const unit = files.find((f) => f.path.endsWith("metalform-agent.service"))!.content;
    expect(unit).toMatch(/Type=simple/);
    expect(unit).toMatch(/After=network-online.target/);
    expect(unit).not.toMatch(/Before=/);
    expect(files.find((f) => f.path.endsWith("/agent.conf"))!.mode).toBe("0600");
  });
});
