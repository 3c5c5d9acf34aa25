// --parallelism, --canary, --retries and --phase-timeout on the real path: the
// metalform CLI, the real services, simulated nodes. A node nobody ever starts is
// asked again (power, retried) and then fails; a node that hangs mid-sync is
// power-cycled again and succeeds; never more nodes at once than allowed; the
// canary finishes before anyone else starts; a failed canary stops the rest.
// The plain (non-TTY) output is checked too: one timestamped line each, no
// control characters.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { jsonEvents, SimLab, type Run } from "./sim-lab.js";

const lab = new SimLab({ prefix: "mfint-k", nodes: 5, subnet: 82, portBase: 18083 });
const cfg = () => ["-c", lab.cfgDir];

beforeAll(() => lab.setup(), 60_000);
afterAll(() => lab.cleanup());

/** Most nodes between their first "power" phase and their end, at any moment. */
function maxConcurrent(events: ReturnType<typeof jsonEvents>): number {
  const active = new Set<string>();
  let max = 0;
  for (const e of events) {
    const n = e.node as string;
    if (e.type === "node_phase" && e.phase === "power") active.add(n);
    if (e.type === "node_complete" || (e.type === "node_errored" && e.final)) active.delete(n);
    max = Math.max(max, active.size);
  }
  return max;
}

function detail(r: Run): string {
  return `exit ${r.code ?? r.signal}\nstderr:\n${r.stderr.slice(-3000)}\nstdout:\n${r.stdout.slice(-3000)}`;
}

describe("apply's knobs against simulated nodes", () => {
  it("parallelism, canary, retries via power, per-phase timeouts", async () => {
    const run = lab.metalform(
      ["apply", ...cfg(), "--auto-approve", "--json", "--parallelism", "2", "--canary", "1", "--retries", "1", "--phase-timeout", "power=3s", "--phase-timeout", "sync=2s"],
      { behaviour: { n03: "never", n04: "hang-sync,ok" } },
    );
    const r = await run.done;
    await run.killNodes();
    const ev = jsonEvents(r.stdout);
    const d = detail(r);
    expect(r.code, d).toBe(1);

    // Canary: n01 finished before any other node was asked to boot.
    expect(r.asked[0], d).toBe("n01");
    const n01done = ev.findIndex((e) => e.type === "node_complete" && e.node === "n01");
    const firstOther = ev.findIndex((e) => e.type === "node_phase" && e.phase === "power" && e.node !== "n01");
    expect(n01done, d).toBeGreaterThanOrEqual(0);
    expect(n01done, d).toBeLessThan(firstOther);
    expect(ev.find((e) => e.type === "apply_start")).toMatchObject({ parallelism: 2, canary: 1 });

    // Parallelism 2: reached, never exceeded.
    expect(maxConcurrent(ev), d).toBe(2);

    // n03 never booted: asked twice (1 + 1 retry), the power timeout each time, then failed.
    expect(
      r.asked.filter((n) => n === "n03"),
      d,
    ).toEqual(["n03", "n03"]);
    const n03 = ev.filter((e) => e.type === "node_errored" && e.node === "n03");
    expect(
      n03.map((e) => [e.phase, e.attempt, e.final]),
      d,
    ).toEqual([
      ["power", 1, false],
      ["power", 2, true],
    ]);
    expect(n03[1]!.error).toBe('no progress in phase "power" for 3 s (attempt 2)');

    // n04 hung in the sync: the sync timeout, a new power-cycle, then it came up.
    expect(
      r.asked.filter((n) => n === "n04"),
      d,
    ).toEqual(["n04", "n04"]);
    const n04 = ev.filter((e) => e.type === "node_errored" && e.node === "n04");
    expect(
      n04.map((e) => [e.phase, e.attempt, e.final, e.error]),
      d,
    ).toEqual([["sync", 1, false, 'no progress in phase "sync" for 2 s (attempt 1)']]);
    expect(ev.filter((e) => e.type === "node_phase" && e.node === "n04" && e.phase === "power").map((e) => e.attempt)).toEqual([1, 2]);

    const complete = ev.filter((e) => e.type === "node_complete").map((e) => e.node);
    expect(complete.sort(), d).toEqual(["n01", "n02", "n04", "n05"]);
    expect(ev.at(-1), d).toMatchObject({ type: "change_summary", installed: 4, failed: 1, skipped: 0 });
  }, 120_000);

  it("a failed canary stops the rest; plain output has one clean timestamped line per event", async () => {
    lab.bumpImage(1);
    const run = lab.metalform(["apply", ...cfg(), "--auto-approve", "--canary", "1", "--retries", "0", "--phase-timeout", "power=2s"], {
      behaviour: { n01: "never" },
    });
    const r = await run.done;
    await run.killNodes();
    const d = detail(r);
    expect(r.code, d).toBe(1);
    // Only the canary was ever asked to boot.
    expect(r.asked, d).toEqual(["n01"]);
    const out = r.stdout;
    expect(out, d).not.toMatch(/[\u0000-\u0009\u000b-\u001f\u007f-\u009f]/);
    const logLines = out.split("\n").filter((l) => /^\d{4}-/.test(l));
    for (const l of logLines) expect(l).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z \S/);
    expect(out).toContain('n01 FAILED in power: no progress in phase "power" for 2 s (attempt 1)');
    for (const n of ["n02", "n03", "n04", "n05"]) expect(out).toMatch(new RegExp(`Z ${n} skipped: canary nodes failed$`, "m"));
    expect(out.trimEnd().split("\n").at(-1)).toBe("Apply complete: 0 changed, 1 failed, 4 skipped.");
  }, 60_000);
});
