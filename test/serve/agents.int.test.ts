// The head's agent API through a real `metalform serve` in a namespace, the node agent
// run by busybox sh in a node's namespace: the agent reports and polls with the node
// credential from the node's address, `metalform status` shows the node up with what
// it runs, the same credential from another address is refused, and SIGHUP reloads the
// configuration (a node added is served; a broken configuration is refused and the
// running one kept).
import type { ChildProcess } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { renderAgentConf, renderAgentScript } from "../../src/boot/node-agent.js";
import type { NodeStatus } from "../../src/serve/status.js";
import { inNs, startInNs } from "../helpers/netns.js";
import { SimLab, type RunHandle } from "../apply/sim-lab.js";

const lab = new SimLab({ prefix: "mfA-ag", nodes: 2, subnet: 91, portBase: 18091 });
const cfg = () => ["-c", lab.cfgDir];
const credential = randomBytes(32).toString("base64url");
let serve: RunHandle;
const agents: ChildProcess[] = [];

const until = async (what: string, f: () => boolean, ms = 30_000) => {
  const end = Date.now() + ms;
  while (!f()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}\nserve:\n${serve?.stdout.slice(-3000)}\n${serve?.stderr.slice(-2000)}`);
    await new Promise((r) => setTimeout(r, 50));
  }
};

beforeAll(async () => {
  lab.setup();
  lab.writeConfig(["n01"]);
  // n01 was installed before: serve knows its node credential's hash (as the installer API persists it).
  const work = join(lab.cfgDir, ".metalform", "serve");
  mkdirSync(work, { recursive: true, mode: 0o700 });
  writeFileSync(join(work, "node-credentials.json"), JSON.stringify({ n01: createHash("sha256").update(credential).digest("hex") }), { mode: 0o600 });
  for (const n of lab.names) inNs(lab.nodeNs(n), "ip", ["addr", "add", `${lab.ip(n)}/24`, "dev", "eth0"]);
  serve = lab.metalform(["serve", ...cfg(), "--json", "--log-level", "info"]);
  await until("serve to listen", () => serve.stdout.includes('"event":"serving"'));
}, 90_000);
afterAll(() => {
  for (const a of agents) a.kill("SIGKILL");
  lab.cleanup();
});

/** Runs the agent for n01 inside `ns` (its files in a directory of its own). */
function agentIn(ns: string, tag: string): void {
  const d = join(lab.dir, `agent-${tag}`);
  mkdirSync(d, { recursive: true });
  writeFileSync(join(d, "cred"), credential + "\n", { mode: 0o600 });
  writeFileSync(join(d, "image"), "sha256:" + "12".repeat(32) + "\n");
  writeFileSync(join(d, "hostname"), "n01\n");
  writeFileSync(join(d, "managed"), join(d, "hostname") + "\n");
  writeFileSync(join(d, "agent.conf"), renderAgentConf(`http://${lab.address}:${lab.httpPort}/api/v1/installer/nodes/n01`, { intervalSeconds: 1, maxBackoffSeconds: 2 }));
  writeFileSync(join(d, "agent"), renderAgentScript());
  const env = {
    PATH: "/usr/sbin:/usr/bin:/sbin:/bin",
    MF_AGENT_CONF: join(d, "agent.conf"),
    MF_AGENT_CREDENTIAL: join(d, "cred"),
    MF_AGENT_IMAGE: join(d, "image"),
    MF_AGENT_MANAGED: join(d, "managed"),
  };
  agents.push(startInNs(ns, "/bin/busybox", ["sh", join(d, "agent")], { env, stdio: "ignore" }));
}

async function status(): Promise<NodeStatus[]> {
  const r = await lab.metalform(["status", ...cfg(), "--json"]).done;
  expect(r.code, r.stderr).toBe(0);
  return (JSON.parse(r.stdout) as { nodes: NodeStatus[] }).nodes;
}

describe("node agents through metalform serve", () => {
  it("an agent reports from its node's address; status shows the node up with what it runs", async () => {
    expect((await status()).find((s) => s.node === "n01")!.state).toBe("unknown");
    agentIn(lab.nodeNs("n01"), "n01");
    await until("the agent's report", statusFileHasReport);
    const n01 = (await status()).find((s) => s.node === "n01")!;
    expect(n01).toMatchObject({ state: "up", image: "sha256:" + "12".repeat(32), kernel: inNs(lab.head, "uname", ["-r"]).trim() });
    expect(Date.parse(n01.bootTime!)).toBeLessThan(Date.now());
  });

  it("the same credential from another node's address is refused", async () => {
    agentIn(lab.nodeNs("n02"), "n02-as-n01");
    await until("a refusal", () => serve.stdout.includes('"reason":"wrong-address"'));
    expect(serve.stdout.split("\n").find((l) => l.includes('"reason":"wrong-address"'))).toContain(`"remote":"${lab.ip("n02")}"`);
    expect(serve.stdout).not.toContain(credential);
  });

  it("SIGHUP reloads the configuration: a node added is served, a broken configuration is refused and the running one kept", async () => {
    const script = (n: string) =>
      inNs(lab.head, "curl", ["-s", "-o", "/dev/null", "-w", "%{http_code}", "--max-time", "5", `http://${lab.address}:${lab.httpPort}/boot/${lab.mac(n)}.ipxe`]);
    expect(script("n02")).toBe("404");
    lab.writeConfig(["n01", "n02"]);
    serve.proc.kill("SIGHUP");
    await until("the reload", () => serve.stdout.includes('"event":"reloaded"'));
    expect(script("n02")).toBe("200");
    writeFileSync(join(lab.cfgDir, "cluster.yaml"), "network: [broken\n");
    serve.proc.kill("SIGHUP");
    await until("the refusal", () => serve.stdout.includes('"event":"reload-refused"'));
    expect(serve.proc.exitCode).toBeNull();
    expect(script("n02")).toBe("200");
  });
});

function statusFileHasReport(): boolean {
  try {
    return inNs(lab.head, "cat", [join(lab.cfgDir, ".metalform", "serve", "agents.json")]).includes('"bootId"');
  } catch {
    return false;
  }
}
