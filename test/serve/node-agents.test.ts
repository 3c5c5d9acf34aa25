// The head's records of node agents: the baseline of managed files (what the installer
// wrote, as the first report after an install shows it), work handed out once and in
// order, a report asked for when the head holds none, and the file that survives serve.
import { mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { NodeAgents, readAgentsFile } from "../../src/serve/node-agents.js";
import type { AgentReport } from "../../src/services/installer-api/agent-protocol.js";

const dir = mkdtempSync(join(tmpdir(), "mf-node-agents-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const H = (c: string) => c.repeat(64);
const report = (files: Record<string, string>, time = new Date().toISOString()): AgentReport => ({
  node: "n1",
  image: "sha256:" + H("1"),
  bootId: "b1",
  kernel: "6.1.0",
  uptime: 100,
  files,
  time,
});

describe("NodeAgents", () => {
  it("keeps the first report's files as the baseline until the next install", async () => {
    const a = new NodeAgents();
    await a.reported(report({ "/etc/hosts": H("a") }));
    await a.reported(report({ "/etc/hosts": H("b") }));
    expect(a.record("n1")!.baseline).toEqual({ "/etc/hosts": H("a") });
    a.installing("n1");
    expect(a.record("n1")!.installingSince).toBeDefined();
    await a.reported(report({ "/etc/hosts": H("c") }));
    expect(a.record("n1")).toMatchObject({ baseline: { "/etc/hosts": H("c") } });
    expect(a.record("n1")!.installingSince).toBeUndefined();
  });

  it("a failed install is no longer installing", async () => {
    const a = new NodeAgents();
    await a.reported(report({ "/etc/hosts": H("a") }));
    a.installing("n1");
    a.installFailed("n1");
    expect(a.record("n1")!.installingSince).toBeUndefined();
    expect(a.record("n1")!.baseline).toEqual({ "/etc/hosts": H("a") });
  });

  it("asks a node it has no report of for one; hands out queued work once, in order; ignores a done it did not send", async () => {
    const a = new NodeAgents();
    expect(a.polled("n2")).toMatchObject({ kind: "report" });
    await a.reported({ ...report({}), node: "n2" });
    expect(a.polled("n2")).toBeUndefined();
    const w1 = a.enqueue("n2", "report");
    const w2 = a.enqueue("n2", "report");
    expect(a.polled("n2")).toEqual(w1);
    expect(a.polled("n2")).toEqual(w2);
    expect(a.polled("n2")).toBeUndefined();
    await a.done({ node: "n2", id: 999, status: "ok", time: new Date().toISOString() });
    expect(a.record("n2")!.lastWork).toMatchObject({ id: w2.id, status: "sent" });
    await a.done({ node: "n2", id: w2.id, status: "failed", message: "no", time: new Date().toISOString() });
    expect(a.record("n2")!.lastWork).toMatchObject({ id: w2.id, status: "failed", message: "no" });
  });

  it("persists owner-only and reads back; a new head numbers work after the old one's", async () => {
    const file = join(dir, "agents.json");
    const a = new NodeAgents({ file });
    await a.reported(report({ "/etc/hosts": H("a") }));
    const w = a.enqueue("n1", "report");
    a.polled("n1");
    await a.close();
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(readAgentsFile(file).nodes["n1"]).toMatchObject({ baseline: { "/etc/hosts": H("a") }, lastWork: { id: w.id, status: "sent" } });
    const b = new NodeAgents({ file });
    expect(b.enqueue("n1", "report").id).toBeGreaterThan(w.id);
    expect(JSON.parse(readFileSync(file, "utf8"))).toMatchObject({ version: 1 });
  });
});
