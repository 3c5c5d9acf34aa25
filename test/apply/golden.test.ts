// Golden outputs of apply without a terminal: the plain lines (CI logs) with the
// closing table and summary, and the JSON lines, for runs that have every kind of
// change and outcome — install, reimage, sync, update, remove; a retry after a
// timeout; an installer failure whose message carries a newline and a terminal
// escape sequence; an interrupted apply. Times and durations are normalized; the
// JSON is validated against schemas/events.schema.json.
// Regenerate with UPDATE_GOLDEN=1 npx vitest run test/apply/golden.test.ts and review the diff.
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { goldenDir } from "../helpers/golden.js";
import type { ApplyEvent } from "../../src/apply/events.js";
import { Executor, type ApplyOptions, type NodeDriver, type Observation } from "../../src/apply/executor.js";
import { jsonLinesRenderer, lineRenderer } from "../../src/apply/render/lines.js";
import { resultReport } from "../../src/apply/render/table.js";
import { planChanges } from "../../src/plan/planner.js";
import type { NodeChange, Plan } from "../../src/plan/types.js";
import type { DesiredCluster } from "../../src/config/types.js";
import type { ClusterState } from "../../src/state/types.js";
import { LocalStateStore } from "../../src/state/local.js";
import { newState } from "../../src/state/codec.js";
import { cluster, digestOf, digests, node } from "../plan/fixtures.js";
import { mixedScenario } from "../plan/scenario.js";

const require = createRequire(import.meta.url);
const golden = goldenDir(new URL("./golden/", import.meta.url));

/** Times and durations vary from run to run; everything else must not. */
function normalize(text: string): string {
  return text
    .replace(/\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z/g, "<TIME>")
    .replace(/"elapsed_s":[\d.]+/g, '"elapsed_s":0')
    .replace(/ in \d+\.\d s/g, " in 0.0 s")
    .replace(/(?<= )\d+\.\ds(?= )/g, "0.0s");
}

type Script = (name: string, attempt: number, observe: (o: Observation) => void) => void;

/** Sync progress in quarters, then the rest of a healthy boot. */
function healthy(image: string): Script {
  return (_name, _attempt, observe) => {
    const steps: Observation[] = [
      { phase: "dhcp", message: "acknowledged 10.0.0.1 (PXE firmware)" },
      { phase: "boot-files", message: "iPXE script fetched" },
      { phase: "installer", message: "installer fetched its plan" },
      { phase: "disks", message: "partition: sda" },
      { phase: "filesystems" },
      { phase: "sync", bytes: 0, total: 4 << 20 },
      { bytes: 1 << 20, total: 4 << 20 },
      { bytes: 2 << 20, total: 4 << 20 },
      { bytes: 3 << 20, total: 4 << 20 },
      { bytes: 4 << 20, total: 4 << 20 },
      { phase: "config", message: "configure: hostname, fstab, network" },
      { phase: "switch-root" },
      { phase: "up", imageDigest: digestOf(image) },
    ];
    steps.forEach((s, i) => setTimeout(() => observe(s), 1 + i));
  };
}

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "mf-golden-"));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

interface Scenario {
  plan: Plan;
  desired: DesiredCluster;
  state: ClusterState;
  scripts: Record<string, Script>;
  opts: Partial<ApplyOptions>;
  onTrigger?: (node: string, attempt: number) => void;
}

async function run(s: Scenario): Promise<{ lines: string; jsonl: string; events: ApplyEvent[] }> {
  const store = new LocalStateStore(join(dir, "state.json"));
  const lock = await store.lock({ operation: "apply" }, 1000);
  const written = await store.write(s.state, 0);
  const events: ApplyEvent[] = [];
  const lines: string[] = [];
  const json: string[] = [];
  const toLines = lineRenderer((l) => lines.push(l));
  const toJson = jsonLinesRenderer((l) => json.push(l));
  let exec: Executor | undefined;
  const driver: NodeDriver = {
    begin: async () => undefined,
    trigger: async (c: NodeChange, attempt: number) => {
      s.onTrigger?.(c.node, attempt);
      s.scripts[c.node]?.(c.node, attempt, (o) => exec!.observe(c.node, o));
    },
    end: async () => undefined,
    update: async () => undefined,
    remove: async () => undefined,
  };
  exec = new Executor(
    {
      plan: s.plan,
      desired: s.desired,
      store,
      state: written,
      driver,
      events: (e) => {
        events.push(e);
        toLines(e);
        toJson(e);
      },
    },
    { parallelism: 1, canary: 0, retries: 1, phaseTimeouts: { power: 150, dhcp: 150, sync: 150 }, ...s.opts },
  );
  const result = await exec.run();
  await lock.release();
  return { lines: normalize(lines.join("\n") + "\n" + resultReport(result) + "\n"), jsonl: normalize(json.join("\n") + "\n"), events };
}

function checkJson(jsonl: string, events: ApplyEvent[]): void {
  const Ajv2020 = require("ajv/dist/2020.js");
  const addFormats = require("ajv-formats");
  const ajv = new Ajv2020({ strict: true, allErrors: true });
  addFormats(ajv);
  const validate = ajv.compile(JSON.parse(readFileSync(new URL("../../schemas/events.schema.json", import.meta.url), "utf8")));
  for (const e of events) expect(validate(e) ? null : { e, errors: validate.errors }).toBeNull();
  // The stream: a version line first, the summary last, one object per line.
  const parsed = jsonl
    .trimEnd()
    .split("\n")
    .map((l) => JSON.parse(l) as { type: string });
  expect(parsed[0]!.type).toBe("version");
  expect(parsed.at(-1)!.type).toBe("change_summary");
  expect(parsed).toHaveLength(events.length);
}

function checkLines(text: string): void {
  // Nothing but printable text and line feeds: no escape sequences, no carriage returns, no tabs.
  expect(text).not.toMatch(/[\u0000-\u0009\u000b-\u001f\u007f-\u009f]/);
}

describe("apply output without a terminal (golden)", () => {
  it("every kind of change, a retry, an installer failure", async () => {
    const { state, desired, imageDigests } = mixedScenario();
    // install, reimage (wipes disks), two syncs, an update (node014: nosync, only the record changes), a removal.
    const plan = planChanges(desired, state, { imageDigests, allowWipe: ["node011"], target: ["node001", "node003", "node004", "node005", "node013", "node014"] });
    expect(plan.nodeChanges.map((c) => `${c.node} ${c.kind}`)).toEqual(["node001 install", "node003 reimage", "node004 sync", "node005 sync", "node013 remove", "node014 update"]);
    const ok = healthy("compute-v2");
    const out = await run({
      plan,
      desired,
      state,
      opts: {},
      scripts: {
        node001: ok,
        node003: (_n, _a, observe) => {
          setTimeout(() => observe({ phase: "dhcp" }), 1);
          setTimeout(() => observe({ phase: "sync", bytes: 1 << 20, total: 4 << 20 }), 2);
          setTimeout(
            () =>
              observe({
                failed: 'installer step "rsync" failed: rsync: connection unexpectedly closed\n\u001b[31mrsync error\u001b[0m: error in rsync protocol data stream (code 12)\r',
              }),
            3,
          );
        },
        // Never shows up on the first power-cycle: retried, then fine.
        node004: (n, attempt, observe) => (attempt === 1 ? undefined : ok(n, attempt, observe)),
        node005: ok,
      },
    });
    checkLines(out.lines);
    checkJson(out.jsonl, out.events);
    golden("mixed.lines.txt", out.lines);
    golden("mixed.jsonl", out.jsonl);
  });

  it("an interrupted apply: running node interrupted, the rest skipped", async () => {
    const desired = cluster([node(1), node(2), node(3)]);
    const imageDigests = digests({ compute: "v1" });
    const plan = planChanges(desired, undefined, { imageDigests });
    const stop = new AbortController();
    const interrupt = new AbortController();
    const out = await run({
      plan,
      desired,
      state: newState(desired.name, "6f1c2a4e-0000-4000-8000-00000000abcd"),
      opts: { stopSignal: stop.signal, interruptSignal: interrupt.signal, phaseTimeouts: { dhcp: 60_000 } },
      // node001 gets its address, then hangs; Ctrl-C twice while it does.
      scripts: {
        node001: (_n, _a, observe) => {
          setTimeout(() => observe({ phase: "dhcp" }), 1);
          setTimeout(() => stop.abort(), 5);
          setTimeout(() => interrupt.abort(), 10);
        },
      },
    });
    checkLines(out.lines);
    checkJson(out.jsonl, out.events);
    golden("interrupted.lines.txt", out.lines);
    golden("interrupted.jsonl", out.jsonl);
    expect(out.lines).toContain("Apply interrupted: 0 changed, 1 failed, 2 skipped.");
  });
});
