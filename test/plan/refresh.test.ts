// `plan --refresh`: an installed cluster the plan finds unchanged, then what the nodes'
// agents reported (serve's agents.json) — a managed file edited by hand, another image,
// a silent agent — becomes a sync with a `drift: …` reason; without --refresh the plan
// stays as it was. The pure parts (reasons, how drift joins a change) beside it.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { planCommand } from "../../src/cli/commands/plan.js";
import { loadCluster } from "../../src/config/load.js";
import { readPlanFile } from "../../src/plan/saved.js";
import { recordApplied } from "../../src/plan/record.js";
import { driftReasons, withDrift } from "../../src/plan/refresh.js";
import { validatePlanJson } from "../../src/plan/schema.js";
import type { NodeChange } from "../../src/plan/types.js";
import type { AgentRecord } from "../../src/serve/node-agents.js";
import { newState } from "../../src/state/codec.js";
import { LocalStateStore } from "../../src/state/local.js";
import { runCommandsInProcess } from "../helpers/cli-in-process.js";

const dir = mkdtempSync(join(tmpdir(), "mf-refresh-"));
const cfg = join(dir, "cluster.yaml");
const statePath = join(dir, ".metalform", "state.json");
const H = (c: string) => c.repeat(64);
let imageDigest = "";

const cli = (...args: string[]) => runCommandsInProcess([planCommand], ["plan", "--config", cfg, "--no-color", ...args]);

beforeAll(async () => {
  mkdirSync(join(dir, "img", "boot"), { recursive: true });
  writeFileSync(join(dir, "img", "boot", "vmlinuz"), "kernel");
  writeFileSync(
    cfg,
    `cluster: { name: refresh }
network: { interface: eth1, address: 10.77.0.1/24 }
images: { os: { root: img, kernel: img/boot/vmlinuz } }
diskLayouts:
  one: { disks: [{ name: sda, match: { device: /dev/sda }, partitions: [{ size: rest, fs: ext4, mount: / }] }] }
categories: { compute: { image: os, diskLayout: one } }
nodes:
  - { name: "n[1-3]", category: compute, ip: 10.77.0.11, macs: ["52:54:00:4e:00:01", "52:54:00:4e:00:02", "52:54:00:4e:00:03"] }
`,
  );
  // Installed as configured: the plan has nothing to do.
  const out = join(dir, "install.plan");
  expect((await cli("--out", out)).code).toBe(0);
  const plan = await readPlanFile(out);
  const { cluster } = await loadCluster(cfg);
  const state = newState(cluster!.name);
  for (const c of [...plan.imageChanges, ...plan.nodeChanges]) recordApplied(state, c, cluster!);
  const store = new LocalStateStore(statePath);
  const lock = await store.lock({ operation: "test apply" }, 0);
  await store.write(state, 0).finally(() => lock.release());
  imageDigest = state.images["os"]!.digest;
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function agents(records: Record<string, Partial<AgentRecord>>): void {
  const now = Date.now();
  const nodes: Record<string, AgentRecord> = {};
  for (const n of ["n1", "n2", "n3"]) {
    const files = { "/etc/hosts": H("a"), "/etc/fstab": H("b") };
    nodes[n] = {
      node: n,
      report: { image: imageDigest, bootId: "b0", kernel: "6.1.0", uptime: 60, files, time: new Date(now - 5000).toISOString() },
      baseline: files,
      lastSeen: new Date(now - 5000).toISOString(),
      ...records[n],
    };
  }
  mkdirSync(join(dir, ".metalform", "serve"), { recursive: true });
  writeFileSync(join(dir, ".metalform", "serve", "agents.json"), JSON.stringify({ version: 1, nodes }));
}

describe("plan --refresh", () => {
  it("nothing drifted: no changes, as without --refresh", async () => {
    agents({});
    const r = await cli("--refresh", "--detailed-exitcode");
    expect(r.err).toBe("");
    expect(r.code).toBe(0);
    expect(r.out).toContain("No changes.");
  });

  it("a file edited by hand, another image, a silent agent: each node a sync with its drift reason", async () => {
    const long = new Date(Date.now() - 3_600_000).toISOString();
    agents({
      n1: { report: { image: imageDigest, bootId: "b0", kernel: "6.1.0", uptime: 60, files: { "/etc/hosts": H("c"), "/etc/fstab": H("b") }, time: new Date().toISOString() } },
      n2: {
        report: { image: "sha256:" + H("9"), bootId: "b0", kernel: "6.1.0", uptime: 60, files: { "/etc/hosts": H("a"), "/etc/fstab": H("b") }, time: new Date().toISOString() },
      },
      n3: { lastSeen: long },
    });
    const r = await cli("--refresh", "--detailed-exitcode");
    expect(r.code, r.err).toBe(2);
    expect(r.out).toContain("Plan: 0 to install, 0 to reimage (wipes disks), 3 to sync, 0 to update, 0 to remove.");
    expect(r.out).toContain("drift: 1 managed file changed on the node: /etc/hosts");
    expect(r.out).toMatch(/^ {2}n2 {2}~ sync {2}drift: the node runs image 9{6}; the state says [0-9a-f]{6}$/m);
    expect(r.out).toContain(`drift: the node is down (its agent last called ${long})`);
    const json = await cli("--refresh", "--json");
    const doc = JSON.parse(json.out) as { node_changes: Array<{ node: string; actions: string[]; reasons: Array<{ code: string }> }> };
    expect(validatePlanJson(doc)).toEqual([]);
    expect(doc.node_changes.map((c) => [c.node, c.reasons.map((x) => x.code)])).toEqual([
      ["n1", ["drift-files"]],
      ["n2", ["drift-image"]],
      ["n3", ["drift-down"]],
    ]);
    // Without --refresh the plan is the state's alone.
    expect((await cli("--detailed-exitcode")).code).toBe(0);
  });

  it("--down-after decides when a silent agent is down", async () => {
    agents({ n3: { lastSeen: new Date(Date.now() - 300_000).toISOString() } });
    expect((await cli("--refresh", "--detailed-exitcode", "--down-after", "10m")).code).toBe(0);
    expect((await cli("--refresh", "--detailed-exitcode", "--down-after", "1m")).code).toBe(2);
    const bad = await cli("--refresh", "--down-after", "soon");
    expect(bad.code).toBe(1);
    expect(bad.err).toContain("--down-after soon");
  });
});

describe("drift reasons", () => {
  const change = (kind: NodeChange["kind"]): NodeChange => ({
    node: "n1",
    kind,
    actions: [],
    wipesDisks: kind === "reimage",
    protected: false,
    reasons: [{ code: "network-changed", message: "network settings changed" }],
    before: null,
    after: null,
    fields: [],
  });
  const sync = () => ({ ...change("sync"), reasons: [] });

  it("none without an observation or without drift", () => {
    expect(driftReasons(undefined, "sha256:a")).toEqual([]);
    expect(driftReasons({ image: "sha256:a", changedFiles: [], down: false }, "sha256:a")).toEqual([]);
  });

  it("names at most five files", () => {
    const files = ["/a", "/b", "/c", "/d", "/e", "/f", "/g"];
    expect(driftReasons({ changedFiles: files, down: false }, "x")[0]!.message).toBe("drift: 7 managed files changed on the node: /a, /b, /c, /d, /e and 2 more");
  });

  it("an update becomes a sync; a reimage stays one and carries the drift; no change becomes a sync", () => {
    const r = [{ code: "drift-files" as const, message: "drift: x" }];
    expect(withDrift(change("update"), r, sync)).toMatchObject({ kind: "sync", actions: ["update"], reasons: [{ code: "network-changed" }, { code: "drift-files" }] });
    expect(withDrift(change("reimage"), r, sync)).toMatchObject({ kind: "reimage", reasons: [{ code: "network-changed" }, { code: "drift-files" }] });
    expect(withDrift(undefined, r, sync)).toMatchObject({ kind: "sync", reasons: r });
    expect(withDrift(undefined, [], sync)).toBeUndefined();
  });
});
