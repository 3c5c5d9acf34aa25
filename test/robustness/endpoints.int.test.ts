// Node-facing endpoints, what the existing suites do not already show:
// - installer API: a node's credentials are good for that node only, for every route —
//   they can neither post another node's reports or UP, nor read another's BMC
//   password; a forged one of the right shape gets nothing. Both nodes call from the
//   same address here, so only the credential tells them apart. (Reading another's
//   plan and calls from other addresses are in test/boot/installer-api.test.ts; live,
//   through apply, in test/security/attacks.int.test.ts and secrets.int.test.ts.)
// - TFTP over the wire: every spelling of an escape is refused and nothing outside
//   the root is ever sent. (Normalization rules are unit-tested in
//   test/services/tftp/path.test.ts; HTTP escapes, oversized heads, URLs and bodies and
//   slow clients in test/services/http/server.int.test.ts; TFTP retransmission bounds and
//   the transfer cap in test/services/tftp/server.test.ts.)
import dgram from "node:dgram";
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { renderInstallPlan } from "../../src/boot/install-plan.js";
import { createInstallerApi, nodeApiUrl } from "../../src/services/installer-api/api.js";
import { NodeCredentials } from "../../src/services/installer-api/node-credentials.js";
import { InstallSessions } from "../../src/services/installer-api/sessions.js";
import { TftpServer } from "../../src/services/tftp/server.js";
import { layouts, node, planInputBase } from "../boot/fixtures.js";

describe("installer API credentials are per node and per route", () => {
  const sessions = new InstallSessions({ windowMs: 3_600_000 });
  const nodeCredentials = new NodeCredentials();
  const names = ["node001", "node002"];
  const plans = new Map(names.map((n) => [n, renderInstallPlan({ ...planInputBase, node: node({ name: n }), layout: layouts.single!, apiUrl: `http://h/${n}` })]));
  const install: Record<string, string> = {};
  const nodeCred: Record<string, string> = {};
  const api = createInstallerApi({
    sessions,
    nodeCredentials,
    addressOf: () => "127.0.0.1",
    plan: (n) => plans.get(n),
    bmcPassword: async (n) => (names.includes(n) ? `pw-of-${n}` : undefined),
  });
  const events: string[] = [];
  api.events.on("report", (r) => events.push(`report ${r.node}`));
  api.events.on("up", (u) => events.push(`up ${u.node}`));
  let server: Server;
  let base = "";
  beforeAll(async () => {
    server = createServer((req, res) => void api.handle(req, res).then((h) => h || (res.writeHead(404), res.end())));
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    for (const n of names) {
      sessions.open(n, "127.0.0.1");
      const c = sessions.claim(n, "127.0.0.1");
      if (!c.ok) throw new Error(c.refusal);
      install[n] = c.value.token;
      nodeCred[n] = await nodeCredentials.issue(n);
    }
  });
  afterAll(() => new Promise<void>((r) => server.close(() => r())));

  const call = (n: string, what: string, token: string | undefined, body?: string) =>
    fetch(`${nodeApiUrl(base, n)}/${what}`, {
      method: body === undefined ? "GET" : "POST",
      headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), "content-type": "application/json" },
      ...(body === undefined ? {} : { body }),
    });

  it("node002's credentials cannot post node001's reports or UP, nor read its password; node001's own can", async () => {
    const report = JSON.stringify({ step: "rsync", status: "finished", bytes: 1 });
    const up = JSON.stringify({ image: "sha256:abc" });
    sessions.reported("node001", "bmc", "started"); // the password is only ever served in the BMC step
    const wrong = [install.node002, nodeCred.node002, "A".repeat(43), undefined];
    for (const t of wrong) {
      expect((await call("node001", "report", t, report)).status).toBe(403);
      expect((await call("node001", "up", t, up)).status).toBe(403);
      const pw = await call("node001", "bmc-password", t);
      expect(pw.status).toBe(403);
      expect(await pw.text()).not.toContain("pw-of-node001");
    }
    expect(events).toEqual([]);
    // The same requests with node001's own credentials go through: the refusals above were about the credential.
    expect((await call("node001", "report", install.node001, report)).status).toBe(204);
    sessions.reported("node001", "bmc", "started");
    expect(await (await call("node001", "bmc-password", install.node001)).text()).toBe("pw-of-node001");
    expect((await call("node001", "up", nodeCred.node001, up)).status).toBe(204);
    expect(events).toEqual(["report node001", "up node001"]);
  });

  it("a node name that tries to escape the API's path space is not routed", async () => {
    for (const n of ["..%2fnode001", "node001%2f..%2fnode002", "%00", "node001/../node002"]) {
      const r = await fetch(`${base}/api/v1/installer/nodes/${n}/plan`, { headers: { authorization: `Bearer ${install.node001}` } });
      expect([400, 403, 404]).toContain(r.status);
      expect(await r.text()).not.toContain('"node":"node002"');
    }
  });
});

describe("TFTP path escapes over the wire", () => {
  let dir: string;
  let root: string;
  let server: TftpServer;
  const SECRET = "top-secret-outside-root";
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "mfrb-ep-"));
    root = join(dir, "root");
    mkdirSync(join(root, "sub"), { recursive: true });
    writeFileSync(join(root, "ok.bin"), "inside\n");
    writeFileSync(join(dir, "secret"), SECRET);
    symlinkSync(join(dir, "secret"), join(root, "link-out"));
    symlinkSync(dir, join(root, "sub/dir-out"));
    server = new TftpServer({ address: "127.0.0.1", port: 0, root, timeoutMs: 200, maxRetries: 1 });
    await server.start();
  });
  afterAll(async () => {
    await server?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  /** Sends one RRQ (raw filename bytes) and returns the first answer, or undefined after 1 s. */
  async function rrq(name: Buffer): Promise<Buffer | undefined> {
    const s = dgram.createSocket("udp4");
    await new Promise<void>((r) => s.bind(0, "127.0.0.1", r));
    try {
      return await new Promise((resolve) => {
        const t = setTimeout(() => resolve(undefined), 1000);
        s.on("message", (m, ri) => {
          clearTimeout(t);
          // Tell the transfer (if one started) to stop.
          if (m.readUInt16BE(0) === 3) s.send(Buffer.from([0, 5, 0, 0, 0]), ri.port, ri.address);
          resolve(m);
        });
        s.send(Buffer.concat([Buffer.from([0, 1]), name, Buffer.from("\0octet\0")]), server.port, "127.0.0.1");
      });
    } finally {
      s.close();
    }
  }

  it("serves a file inside the root (the probe works)", async () => {
    const a = await rrq(Buffer.from("ok.bin"));
    expect(a?.readUInt16BE(0)).toBe(3);
    expect(a?.subarray(4).toString()).toBe("inside\n");
  });

  it("refuses every escape with an ERROR (or silence), never a byte from outside", async () => {
    const names = [
      "../secret",
      "../../../../etc/passwd",
      "sub/../../secret",
      "..\\secret",
      "sub\\..\\..\\secret",
      join(dir, "secret"),
      "//" + join(dir, "secret"),
      "link-out",
      "sub/dir-out/secret",
      "%2e%2e/secret",
      "%2e%2e%2fsecret",
      "./../secret",
      "sub/./../../secret",
      "x".repeat(400) + "/../../secret",
    ].map((n) => Buffer.from(n));
    // A NUL ends the filename on the wire: "ok.bin\0../secret" asks for ok.bin with mode "../secret".
    names.push(Buffer.from("ok.bin\0../secret"));
    // Not UTF-8: dropped.
    names.push(Buffer.from([0x2e, 0x2e, 0x2f, 0xc0, 0xaf, 0x73]));
    for (const n of names) {
      const a = await rrq(n);
      const label = JSON.stringify(n.toString("latin1"));
      if (a === undefined) continue;
      expect(a.includes(SECRET), label).toBe(false);
      expect(a.readUInt16BE(0), label).toBe(5);
      expect([1, 2, 4], label).toContain(a.readUInt16BE(2));
    }
    // Not silence everywhere: the plain escapes were answered with an error.
    const plain = await rrq(Buffer.from("../secret"));
    expect(plain?.readUInt16BE(0)).toBe(5);
    const link = await rrq(Buffer.from("link-out"));
    expect(link?.readUInt16BE(0)).toBe(5);
  });
});
