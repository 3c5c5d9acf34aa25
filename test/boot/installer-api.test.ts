// The installer API on a loopback server: node001 and node002 call from 127.0.0.1 and
// 127.0.0.2, an attacker from 127.0.0.3 (Linux routes all of 127/8 to lo). Install
// credentials are claimed once per attempt; plan, reports and the BMC password need
// the attempt's credential from the node's address; UP needs the node credential.
import { createServer, request, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { renderInstallPlan } from "../../src/boot/install-plan.js";
import { createInstallerApi, nodeApiUrl, type RefusedCall } from "../../src/services/installer-api/api.js";
import { NodeCredentials } from "../../src/services/installer-api/node-credentials.js";
import type { NodeReport, NodeUp } from "../../src/services/installer-api/reports.js";
import { InstallSessions } from "../../src/services/installer-api/sessions.js";
import { layouts, node, planInputBase } from "./fixtures.js";

const ADDR: Record<string, string> = { node001: "127.0.0.1", node002: "127.0.0.2" };
const ATTACKER = "127.0.0.3";
const sessions = new InstallSessions({ windowMs: 3_600_000 });
const nodeCredentials = new NodeCredentials();
const plans = new Map(["node001", "node002"].map((n) => [n, renderInstallPlan({ ...planInputBase, node: node({ name: n }), layout: layouts.single!, apiUrl: `http://h/${n}` })]));
const logs: Array<{ event: string; fields: Record<string, unknown> }> = [];
const logger = {
  debug: () => undefined,
  info: (event: string, fields: Record<string, unknown> = {}) => logs.push({ event, fields }),
  warn: (event: string, fields: Record<string, unknown> = {}) => logs.push({ event, fields }),
  error: (event: string, fields: Record<string, unknown> = {}) => logs.push({ event, fields }),
  child: () => logger,
};
const api = createInstallerApi({
  sessions,
  nodeCredentials,
  addressOf: (n) => ADDR[n],
  plan: (n) => plans.get(n),
  bmcPassword: async (n) => (n === "node001" ? "s3cret-bmc-pw" : undefined),
  maxBodyBytes: 2048,
  logger,
});
const reports: NodeReport[] = [];
const ups: NodeUp[] = [];
const refused: RefusedCall[] = [];
api.events.on("report", (r) => reports.push(r));
api.events.on("up", (u) => ups.push(u));
api.events.on("refused", (r) => refused.push(r));

let server: Server;
let port = 0;
beforeAll(async () => {
  server = createServer((req, res) => {
    void api.handle(req, res).then((handled) => {
      if (!handled) {
        res.writeHead(404);
        res.end("not mine");
      }
    });
  });
  await new Promise<void>((r) => server.listen(0, "0.0.0.0", r));
  port = (server.address() as AddressInfo).port;
});
afterAll(() => new Promise<void>((r) => server.close(() => r())));

interface Answer {
  status: number;
  text: string;
}

/** One request from a chosen local address. */
function call(from: string, n: string, what: string, o: { token?: string; body?: string; method?: string } = {}): Promise<Answer> {
  const url = new URL(`${nodeApiUrl(`http://127.0.0.1:${port}`, n)}/${what}`);
  const method = o.method ?? (o.body !== undefined || what === "claim" ? "POST" : "GET");
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: "127.0.0.1",
        port,
        path: url.pathname,
        method,
        localAddress: from,
        headers: { ...(o.token ? { authorization: `Bearer ${o.token}` } : {}), "content-type": "application/json" },
      },
      (res) => {
        let text = "";
        res.on("data", (c: Buffer) => (text += c.toString()));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, text }));
      },
    );
    req.on("error", reject);
    req.end(o.body ?? "");
  });
}

const credential = (text: string, key: string) => new RegExp(`^${key}='([^']*)'$`, "m").exec(text)?.[1];

/** Opens an attempt for a node and claims it from its address: the install credential. */
async function install(n: string): Promise<string> {
  sessions.open(n, ADDR[n]!);
  const c = await call(ADDR[n]!, n, "claim");
  expect(c.status).toBe(200);
  return credential(c.text, "MF_TOKEN")!;
}

beforeEach(() => {
  sessions.close("node001");
  sessions.close("node002");
});

describe("installer API", () => {
  it("serves a node its own plan, JSON and shell form, with the credential it claimed", async () => {
    const t = await install("node001");
    const r = await call("127.0.0.1", "node001", "plan", { token: t });
    expect(r.status).toBe(200);
    expect((JSON.parse(r.text) as { node: string }).node).toBe("node001");
    const s = await call("127.0.0.1", "node001", "plan.sh", { token: t });
    expect(s.text).toContain("MF_NODE='node001'");
  });

  it("a claim answers the credential and the image password once, to the node's address only", async () => {
    sessions.open("node001", "127.0.0.1");
    const stolen = await call(ATTACKER, "node001", "claim");
    expect(stolen.status).toBe(403);
    const c = await call("127.0.0.1", "node001", "claim");
    expect(c.status).toBe(200);
    expect(credential(c.text, "MF_RSYNC_USER")).toBe("node001");
    expect(credential(c.text, "MF_RSYNC_PASSWORD")).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect((await call("127.0.0.1", "node001", "claim")).status).toBe(403);
    // No install running: nothing to claim.
    expect((await call("127.0.0.2", "node002", "claim")).status).toBe(403);
    expect(refused.slice(-3).map((r) => r.reason)).toEqual(["wrong-address", "already-claimed", "no-install"]);
  });

  it("refuses another node's credential, another address, an old attempt's credential, and no credential", async () => {
    const t1 = await install("node001");
    const t2 = await install("node002");
    expect(t1).not.toBe(t2);
    for (const [from, token] of [
      ["127.0.0.1", t2],
      ["127.0.0.1", undefined],
      ["127.0.0.1", "x".repeat(43)],
      [ATTACKER, t1],
    ] as const) {
      expect((await call(from, "node001", "plan", { token })).status).toBe(403);
    }
    const old = t1;
    await install("node001"); // a new attempt: the old credential is gone
    expect((await call("127.0.0.1", "node001", "plan", { token: old })).status).toBe(403);
  });

  it("answers 404 for a node without a plan and false for foreign paths", async () => {
    ADDR.node999 = "127.0.0.1";
    const t = await install("node999");
    expect((await call("127.0.0.1", "node999", "plan", { token: t })).status).toBe(404);
    const f = await fetch(`http://127.0.0.1:${port}/other/path`);
    expect(await f.text()).toBe("not mine");
  });

  it("turns valid reports into typed events and rejects malformed ones", async () => {
    const t = await install("node002");
    const ok = await call("127.0.0.2", "node002", "report", { token: t, body: JSON.stringify({ step: "rsync", status: "finished", bytes: 1234, files: 7, message: "ok" }) });
    expect(ok.status).toBe(204);
    expect(reports.at(-1)).toMatchObject({ node: "node002", step: "rsync", status: "finished", bytes: 1234, files: 7, message: "ok" });
    const n = reports.length;
    for (const body of [
      "not json",
      "[]",
      JSON.stringify({ step: "x", status: "done" }),
      JSON.stringify({ step: "Bad Step", status: "started" }),
      JSON.stringify({ step: "x", status: "started", bytes: -1 }),
    ]) {
      expect((await call("127.0.0.2", "node002", "report", { token: t, body })).status).toBe(400);
    }
    const big = await call("127.0.0.2", "node002", "report", { token: t, body: JSON.stringify({ step: "x", status: "failed", message: "y".repeat(5000) }) });
    expect(big.status).toBe(413);
    expect((await call("127.0.0.2", "node002", "report", { token: t, method: "GET" })).status).toBe(405);
    expect(reports.length).toBe(n);
  });

  it("the BMC password goes out once, during the BMC step of the running attempt", async () => {
    const t = await install("node001");
    expect((await call("127.0.0.1", "node001", "bmc-password", { token: t })).status).toBe(403); // not in the BMC step
    await call("127.0.0.1", "node001", "report", { token: t, body: JSON.stringify({ step: "bmc", status: "started" }) });
    expect((await call(ATTACKER, "node001", "bmc-password", { token: t })).status).toBe(403);
    const pw = await call("127.0.0.1", "node001", "bmc-password", { token: t });
    expect(pw.text).toBe("s3cret-bmc-pw");
    expect((await call("127.0.0.1", "node001", "bmc-password", { token: t })).status).toBe(403); // once
    const t2 = await install("node002");
    await call("127.0.0.2", "node002", "report", { token: t2, body: JSON.stringify({ step: "bmc", status: "started" }) });
    expect((await call("127.0.0.2", "node002", "bmc-password", { token: t2 })).status).toBe(404); // no password configured
  });

  it("a failed step ends the attempt: its credential no longer works", async () => {
    const t = await install("node002");
    await call("127.0.0.2", "node002", "report", { token: t, body: JSON.stringify({ step: "rsync", status: "failed", message: "x" }) });
    expect((await call("127.0.0.2", "node002", "plan", { token: t })).status).toBe(403);
    expect(refused.at(-1)).toMatchObject({ node: "node002", what: "plan", remote: "127.0.0.2", reason: "no-install" });
  });

  it("UP takes the node credential from the node's address and ends the install credential", async () => {
    const t = await install("node001");
    const nodeCred = await nodeCredentials.issue("node001");
    const body = JSON.stringify({ image: "sha256:abc" });
    expect((await call("127.0.0.1", "node001", "up", { token: t, body })).status).toBe(403); // the install credential is not for UP
    expect((await call(ATTACKER, "node001", "up", { token: nodeCred, body })).status).toBe(403);
    const r = await call("127.0.0.1", "node001", "up", { token: nodeCred, body });
    expect(r.status).toBe(204);
    expect(ups.at(-1)).toMatchObject({ node: "node001", image: "sha256:abc" });
    expect((await call("127.0.0.1", "node001", "plan", { token: t })).status).toBe(403);
    // A reinstall issues a new node credential: the old one is refused.
    await nodeCredentials.issue("node001");
    expect((await call("127.0.0.1", "node001", "up", { token: nodeCred, body })).status).toBe(403);
  });

  it("every refusal is logged with the remote address, never with a secret", async () => {
    const t = await install("node001");
    await call(ATTACKER, "node001", "plan", { token: t });
    const refusals = logs.filter((l) => l.event === "installer-api.refused");
    expect(refusals.length).toBeGreaterThan(5);
    for (const l of refusals) expect(typeof l.fields.remote).toBe("string");
    expect(refusals.at(-1)!.fields).toMatchObject({ node: "node001", what: "plan", remote: ATTACKER, reason: "wrong-address" });
    const text = JSON.stringify(logs);
    expect(text).not.toContain(t);
    expect(text).not.toContain("s3cret-bmc-pw");
  });
});
