// The executor's logic — ordering, parallelism, retries, timeouts, failure
// isolation, canaries, interruption and state writes — with nodes driven by a
// scripted driver and the real local state store.
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { Executor, summaryLine, type NodeDriver, type Observation } from "../../src/apply/executor.js";
import type { ApplyEvent } from "../../src/apply/events.js";
import { lineRenderer } from "../../src/apply/render/lines.js";
import { planChanges } from "../../src/plan/planner.js";
import type { NodeChange, Plan } from "../../src/plan/types.js";
import { newState } from "../../src/state/codec.js";
import { LocalStateStore } from "../../src/state/local.js";
import { cluster, digestOf, digests, node } from "../plan/fixtures.js";

const require = createRequire(import.meta.url);

type Script = (name: string, attempt: number, observe: (o: Observation) => void) => void;

/** A driver whose nodes follow a script; records calls and concurrency. */
function scriptedDriver(script: Script, onTrigger?: (c: NodeChange, attempt: number) => void) {
  const calls: string[] = [];
  let active = 0;
  let maxActive = 0;
  let exec: Executor | undefined;
  const driver: NodeDriver = {
    async begin(c) {
      active++;
      maxActive = Math.max(maxActive, active);
      calls.push(`begin ${c.node}`);
    },
    async trigger(c, attempt) {
      calls.push(`trigger ${c.node} ${attempt}`);
      onTrigger?.(c, attempt);
      script(c.node, attempt, (o) => exec!.observe(c.node, o));
    },
    async end(c, { ok }) {
      active--;
      calls.push(`end ${c.node} ${ok}`);
    },
    async update(c) {
      calls.push(`update ${c.node}`);
    },
    async remove(c) {
      calls.push(`remove ${c.node}`);
    },
  };
  return {
    driver,
    calls,
    get maxActive() {
      return maxActive;
    },
    bind(e: Executor) {
      exec = e;
    },
  };
}

/** A healthy boot: every phase after a few ms, a sync with progress, then UP. */
const healthy: Script = (name, _attempt, observe) => {
  const steps: Observation[] = [
    { phase: "dhcp" },
    { phase: "boot-files" },
    { phase: "installer" },
    { phase: "disks" },
    { phase: "filesystems" },
    { phase: "sync", bytes: 0, total: 1000 },
    { bytes: 500, total: 1000 },
    { bytes: 1000, total: 1000 },
    { phase: "config" },
    { phase: "switch-root" },
    { phase: "up", imageDigest: digestOf("v1") },
  ];
  steps.forEach((s, i) => setTimeout(() => observe(s), 2 + i * 2));
};

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "mf-exec-"));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const fastTimeouts = { power: 200, dhcp: 200, "boot-files": 200, installer: 200, disks: 200, filesystems: 200, sync: 200, config: 200, bmc: 200, "switch-root": 200 };

async function setup(n: number, script: Script, opts: Partial<ConstructorParameters<typeof Executor>[1]> = {}, onTrigger?: (c: NodeChange, a: number) => void) {
  const desired = cluster(Array.from({ length: n }, (_, i) => node(i + 1)));
  const store = new LocalStateStore(join(dir, "state.json"));
  const lock = await store.lock({ operation: "apply" }, 1000);
  const initial = newState(desired.name);
  const imageDigests = digests({ compute: "v1" });
  const plan: Plan = planChanges(desired, undefined, { imageDigests });
  const events: ApplyEvent[] = [];
  const d = scriptedDriver(script, onTrigger);
  const exec = new Executor(
    { plan, desired, store, state: initial, driver: d.driver, events: (e) => events.push(e) },
    {
      parallelism: 2,
      canary: 0,
      retries: 2,
      phaseTimeouts: fastTimeouts,
      ...opts,
    },
  );
  d.bind(exec);
  return { desired, store, lock, plan, events, d, exec, imageDigests };
}

describe("executor", () => {
  it("installs every node with bounded parallelism and writes state after each", async () => {
    const s = await setup(5, healthy);
    const res = await s.exec.run();
    expect(res.results.map((r) => r.outcome)).toEqual(Array(5).fill("succeeded"));
    expect(s.d.maxActive).toBe(2);
    expect(res.summary).toMatchObject({ installed: 5, failed: 0 });
    expect(summaryLine(res.summary)).toBe("Apply complete: 5 installed, 0 failed.");
    // One write for the image, one per node.
    const saved = await s.store.read();
    expect(saved!.serial).toBe(6);
    expect(saved!.nodes.node003!.reported).toMatchObject({ phase: "up", imageDigest: digestOf("v1") });
    // Planning again against what was written: nothing left to do.
    const again = planChanges(s.desired, saved, { imageDigests: s.imageDigests });
    expect(again.nodeChanges).toEqual([]);
    expect(again.imageChanges).toEqual([]);
    await s.lock.release();
  });

  it("retries a node that never boots, gives up after the retries, and finishes the others", async () => {
    const s = await setup(3, (name, attempt, observe) => {
      if (name === "node002") return; // powered, but never asks DHCP
      healthy(name, attempt, observe);
    });
    const res = await s.exec.run();
    const bad = res.results.find((r) => r.node === "node002")!;
    expect(bad.outcome).toBe("failed");
    expect(bad.attempts).toBe(3);
    expect(bad.error).toMatch(/no progress in phase "power"/);
    expect(s.d.calls.filter((c) => c.startsWith("trigger node002"))).toHaveLength(3);
    expect(res.results.filter((r) => r.outcome === "succeeded").map((r) => r.node)).toEqual(["node001", "node003"]);
    const saved = await s.store.read();
    expect(saved!.nodes.node002?.applied).toBeUndefined();
    expect(saved!.nodes.node002?.reported).toMatchObject({ phase: "power", outcome: "failed" });
    expect(saved!.nodes.node001?.applied).toBeDefined();
    const errored = s.events.filter((e) => e.type === "node_errored" && e.node === "node002");
    expect(errored.map((e) => (e as { final: boolean }).final)).toEqual([false, false, true]);
    await s.lock.release();
  });

  it("does not retry a failure the installer reports, e.g. mid-sync", async () => {
    const s = await setup(2, (name, attempt, observe) => {
      if (name !== "node001") return healthy(name, attempt, observe);
      setTimeout(() => observe({ phase: "sync", bytes: 10, total: 100 }), 2);
      setTimeout(() => observe({ failed: "rsync exited 23: some files could not be transferred" }), 6);
    });
    const res = await s.exec.run();
    const bad = res.results.find((r) => r.node === "node001")!;
    expect(bad).toMatchObject({ outcome: "failed", attempts: 1, phase: "sync" });
    expect(bad.error).toContain("rsync exited 23");
    expect(res.results.find((r) => r.node === "node002")!.outcome).toBe("succeeded");
    await s.lock.release();
  });

  it("reports an unreachable BMC as the node's failure", async () => {
    const s = await setup(2, healthy, {}, (c) => {
      if (c.node === "node002") throw new Error("BMC at 10.1.0.2 did not answer within 5 s");
    });
    const res = await s.exec.run();
    expect(res.results.find((r) => r.node === "node002")).toMatchObject({ outcome: "failed", error: "BMC at 10.1.0.2 did not answer within 5 s" });
    expect(res.summary).toMatchObject({ installed: 1, failed: 1 });
    await s.lock.release();
  });

  it("skips the rest when a canary fails", async () => {
    const s = await setup(4, (name, a, observe) => (name === "node001" ? observe({ failed: "no disk matches /dev/sda" }) : healthy(name, a, observe)), { canary: 1 });
    const res = await s.exec.run();
    expect(res.results.map((r) => [r.node, r.outcome])).toEqual([
      ["node001", "failed"],
      ["node002", "skipped"],
      ["node003", "skipped"],
      ["node004", "skipped"],
    ]);
    expect(s.d.calls.some((c) => c.startsWith("begin node002"))).toBe(false);
    await s.lock.release();
  });

  it("on stop starts no new nodes, lets running ones finish and keeps state consistent", async () => {
    const stop = new AbortController();
    const s = await setup(6, healthy, { stopSignal: stop.signal, parallelism: 2 }, (c) => {
      if (c.node === "node001") stop.abort();
    });
    const res = await s.exec.run();
    expect(res.interrupted).toBe(true);
    const ok = res.results.filter((r) => r.outcome === "succeeded").map((r) => r.node);
    expect(ok).toEqual(["node001", "node002"]);
    expect(res.results.filter((r) => r.outcome === "skipped")).toHaveLength(4);
    const saved = await s.store.read();
    expect(Object.keys(saved!.nodes).sort()).toEqual(["node001", "node002"]);
    // What is left is exactly the skipped nodes.
    const again = planChanges(s.desired, saved, { imageDigests: s.imageDigests });
    expect(again.nodeChanges.map((c) => c.node)).toEqual(["node003", "node004", "node005", "node006"]);
    await s.lock.release();
  });

  it("a second interrupt marks running nodes interrupted without recording them", async () => {
    const stop = new AbortController();
    const interrupt = new AbortController();
    const s = await setup(2, (name, a, observe) => observe({ phase: "dhcp" }), {
      stopSignal: stop.signal,
      interruptSignal: interrupt.signal,
      phaseTimeouts: { ...fastTimeouts, dhcp: 60_000 },
    });
    setTimeout(() => {
      stop.abort();
      interrupt.abort();
    }, 30);
    const res = await s.exec.run();
    expect(res.results.map((r) => r.outcome)).toEqual(["interrupted", "interrupted"]);
    const saved = await s.store.read();
    expect(saved!.nodes.node001?.applied).toBeUndefined();
    await s.lock.release();
  });

  it("emits events that match schemas/events.schema.json, and plain lines without control characters", async () => {
    const s = await setup(2, healthy);
    await s.exec.run();
    const Ajv2020 = require("ajv/dist/2020.js");
    const addFormats = require("ajv-formats");
    const ajv = new Ajv2020({ strict: true, allErrors: true });
    addFormats(ajv);
    const validate = ajv.compile(JSON.parse(readFileSync(new URL("../../schemas/events.schema.json", import.meta.url), "utf8")));
    for (const e of s.events) expect(validate(e) ? null : { e, errors: validate.errors }).toBeNull();
    expect(s.events[0]!.type).toBe("version");
    expect(s.events.at(-1)!.type).toBe("change_summary");
    const types = new Set(s.events.map((e) => e.type));
    for (const t of ["planned_change", "apply_start", "node_phase", "node_progress", "node_complete"]) expect(types.has(t as ApplyEvent["type"])).toBe(true);
    const lines: string[] = [];
    const render = lineRenderer((l) => lines.push(l));
    s.events.forEach(render);
    expect(lines.join("\n")).not.toMatch(/[\u0000-\u0009\u000b-\u001f\u007f]/);
    expect(lines.some((l) => /node001 sync: 100% \(1000 B of 1000 B\)/.test(l))).toBe(true);
    expect(lines.at(-1)).toMatch(/Apply complete: 2 installed, 0 failed\.$/);
    await s.lock.release();
  });
});
