import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { renderInstallPlan } from "../../src/boot/install-plan.js";
import { createInstallerApi, nodeApiUrl } from "../../src/services/installer-api/api.js";
import type { NodeReport, NodeUp } from "../../src/services/installer-api/reports.js";
import { NodeTokens } from "../../src/services/installer-api/tokens.js";
import { layouts, node, planInputBase } from "./fixtures.js";

const tokens = new NodeTokens();
const plans = new Map(
  ["node001", "node002"].map((n) => [n, renderInstallPlan({ ...planInputBase, node: node({ name: n }), layout: layouts.single!, apiUrl: `http://h/${n}` })]),
);
const api = createInstallerApi({
  tokens,
  plan: (n) => plans.get(n),
  bmcPassword: async (n) => (n === "node001" ? "s3cret" : undefined),
  maxBodyBytes: 2048,
});
const reports: NodeReport[] = [];
const ups: NodeUp[] = [];
api.events.on("report", (r) => reports.push(r));
api.events.on("up", (u) => ups.push(u));

let server: Server;
let base = "";
beforeAll(async () => {
  server = createServer((req, res) => {
    void api.handle(req, res).then((handled) => {
      if (!handled) {
        res.writeHead(404);
        res.end("not mine");
      }
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => new Promise<void>((r) => server.close(() => r())));

const url = (n: string, what: string) => `${nodeApiUrl(base, n)}/${what}`;
const auth = (t: string) => ({ authorization: `Bearer ${t}` });

describe("installer API", () => {
  it("serves a node its own plan, JSON and shell form", async () => {
    const r = await fetch(url("node001", "plan"), { headers: auth(tokens.token("node001", "install")) });
    expect(r.status).toBe(200);
    expect(((await r.json()) as { node: string }).node).toBe("node001");
    const s = await fetch(url("node001", "plan.sh"), { headers: auth(tokens.token("node001", "install")) });
    expect(await s.text()).toContain("MF_NODE='node001'");
  });

  it("refuses another node's token, the up token, and no token", async () => {
    for (const headers of [auth(tokens.token("node002", "install")), auth(tokens.token("node001", "up")), {}, auth("x".repeat(43))]) {
      const r = await fetch(url("node001", "plan"), { headers });
      expect(r.status).toBe(403);
    }
    expect(tokens.token("node001", "install")).not.toBe(tokens.token("node002", "install"));
    expect(new NodeTokens().token("node001", "install")).not.toBe(tokens.token("node001", "install"));
  });

  it("answers 404 for a node without a plan and false for foreign paths", async () => {
    const r = await fetch(url("node999", "plan"), { headers: auth(tokens.token("node999", "install")) });
    expect(r.status).toBe(404);
    const f = await fetch(`${base}/other/path`);
    expect(await f.text()).toBe("not mine");
  });

  it("turns valid reports into typed events and rejects malformed ones", async () => {
    const h = { ...auth(tokens.token("node002", "install")), "content-type": "application/json" };
    const ok = await fetch(url("node002", "report"), { method: "POST", headers: h, body: JSON.stringify({ step: "rsync", status: "finished", bytes: 1234, files: 7, message: "ok" }) });
    expect(ok.status).toBe(204);
    expect(reports.at(-1)).toMatchObject({ node: "node002", step: "rsync", status: "finished", bytes: 1234, files: 7, message: "ok" });
    const n = reports.length;
    for (const body of ["not json", "[]", JSON.stringify({ step: "x", status: "done" }), JSON.stringify({ step: "Bad Step", status: "started" }), JSON.stringify({ step: "x", status: "started", bytes: -1 })]) {
      const r = await fetch(url("node002", "report"), { method: "POST", headers: h, body });
      expect(r.status).toBe(400);
    }
    const big = await fetch(url("node002", "report"), { method: "POST", headers: h, body: JSON.stringify({ step: "x", status: "failed", message: "y".repeat(5000) }) });
    expect(big.status).toBe(413);
    const get = await fetch(url("node002", "report"), { headers: h });
    expect(get.status).toBe(405);
    expect(reports.length).toBe(n);
  });

  it("accepts UP with the up token and serves the BMC password only with the install token", async () => {
    const r = await fetch(url("node001", "up"), { method: "POST", headers: auth(tokens.token("node001", "up")), body: JSON.stringify({ image: "sha256:abc" }) });
    expect(r.status).toBe(204);
    expect(ups.at(-1)).toMatchObject({ node: "node001", image: "sha256:abc" });
    expect((await fetch(url("node001", "bmc-password"), { headers: auth(tokens.token("node001", "up")) })).status).toBe(403);
    const pw = await fetch(url("node001", "bmc-password"), { headers: auth(tokens.token("node001", "install")) });
    expect(await pw.text()).toBe("s3cret");
    expect((await fetch(url("node002", "bmc-password"), { headers: auth(tokens.token("node002", "install")) })).status).toBe(404);
  });
});
