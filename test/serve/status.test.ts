// `metalform status` on the examples/hpc configuration with agent records as serve
// writes them: nodes alike share a host-range line, silent nodes are down, a node
// whose installer claimed an attempt is installing, nodes without a report unknown,
// an image that differs from the state is said so; --json lists every node.
import { cpSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { statusCommand } from "../../src/cli/commands/status.js";
import type { AgentRecord, AgentsFile } from "../../src/serve/node-agents.js";
import { ago } from "../../src/serve/status-render.js";
import type { NodeStatus } from "../../src/serve/status.js";
import { runCommandsInProcess } from "../helpers/cli-in-process.js";

const dir = mkdtempSync(join(tmpdir(), "mf-status-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
cpSync(join(import.meta.dirname, "../../examples/hpc"), dir, { recursive: true });
process.env.METALFORM_BMC_PASSWORD ??= "x";

const IMG = "sha256:" + "ab".repeat(32);
const OTHER = "sha256:" + "ef".repeat(32);
const now = Date.now();
const iso = (msAgo: number) => new Date(now - msAgo).toISOString();

function rec(node: string, o: { seenAgo: number; image?: string; installing?: boolean }): AgentRecord {
  return {
    node,
    report: { image: o.image ?? IMG, bootId: "0f", kernel: "6.1.0-28-amd64", uptime: 3600, files: {}, time: iso(o.seenAgo + 1000) },
    bootTime: iso(3_600_000),
    lastSeen: iso(o.seenAgo),
    ...(o.installing ? { installingSince: iso(5000) } : {}),
  };
}

function writeAgents(nodes: AgentRecord[]): void {
  const file: AgentsFile = { version: 1, nodes: Object.fromEntries(nodes.map((n) => [n.node, n])) };
  mkdirSync(join(dir, ".metalform", "serve"), { recursive: true });
  writeFileSync(join(dir, ".metalform", "serve", "agents.json"), JSON.stringify(file));
}

const run = (...args: string[]) => runCommandsInProcess([statusCommand], ["status", "--config", dir, "--no-color", ...args]);

describe("metalform status", () => {
  it("groups alike nodes by host range; down, installing and unknown nodes stand apart", async () => {
    const up = Array.from({ length: 10 }, (_, i) => rec(`node${String(i + 1).padStart(3, "0")}`, { seenAgo: 10_000 }));
    writeAgents([...up, rec("node011", { seenAgo: 600_000 }), rec("node012", { seenAgo: 1000, installing: true })]);
    const r = await run();
    expect(r.err).toBe("");
    expect(r.code).toBe(0);
    const lines = r.out.split("\n");
    expect(lines[0]).toMatch(/^Cluster hpc: 262 nodes — 10 up, 1 down, 1 installing, 250 unknown\.$/);
    expect(lines.find((l) => l.includes("node[001-010]"))).toMatch(
      /^ {2}up +node\[001-010\] +compute +image sha256:abababababab… +kernel 6\.1\.0-28-amd64 +booted 60m ago +seen 1\ds ago$/,
    );
    expect(lines.find((l) => l.includes("node011"))).toMatch(/^ {2}down +node011 .*last seen 10m ago$/);
    expect(lines.find((l) => l.includes("node012"))).toMatch(/^ {2}installing +node012 /);
    expect(lines.find((l) => l.includes("node[013-256]"))).toMatch(/^ {2}unknown +node\[013-256\] +compute +no agent report$/);
    // Down first, up last: what needs attention is on top.
    expect(lines.findIndex((l) => l.includes("node011"))).toBeLessThan(lines.findIndex((l) => l.includes("node[001-010]")));
  });

  it("--json lists every node with its state; --down-after moves the line between up and down", async () => {
    writeAgents([rec("node001", { seenAgo: 90_000 }), rec("node002", { seenAgo: 1000, image: OTHER })]);
    const r = await run("--json", "--down-after", "60s");
    const out = JSON.parse(r.out) as { cluster: string; nodes: NodeStatus[]; groups: unknown[] };
    expect(out.cluster).toBe("hpc");
    expect(out.nodes).toHaveLength(262);
    expect(out.nodes.find((n) => n.node === "node001")).toMatchObject({ state: "down", image: IMG, category: "compute" });
    expect(out.nodes.find((n) => n.node === "node002")).toMatchObject({ state: "up", image: OTHER });
    const again = JSON.parse((await run("--json", "--down-after", "5m")).out) as { nodes: NodeStatus[] };
    expect(again.nodes.find((n) => n.node === "node001")!.state).toBe("up");
  });

  it("refuses a damaged agents file, naming it", async () => {
    writeFileSync(join(dir, ".metalform", "serve", "agents.json"), "{ not json");
    const r = await run();
    expect(r.code).toBe(1);
    expect(r.err).toContain(join(dir, ".metalform", "serve", "agents.json"));
  });

  it("says how long ago in the largest fitting unit", () => {
    const at = new Date("2026-01-01T12:00:00Z");
    expect(ago("2026-01-01T11:59:30Z", at)).toBe("30s");
    expect(ago("2026-01-01T11:30:00Z", at)).toBe("30m");
    expect(ago("2026-01-01T06:00:00Z", at)).toBe("6h");
    expect(ago("2025-12-29T12:00:00Z", at)).toBe("3d");
  });
});
