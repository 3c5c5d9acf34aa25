// Interrupting an apply of 20 simulated nodes with SIGINT and SIGKILL at random
// (seeded) points, repeated. (When Ctrl-C comes twice, one node hangs in its sync,
// so that there is always a running node for the second Ctrl-C to give up on.) After each interruption: the state parses; after
// SIGINT the lock is gone, after SIGKILL a lock remains that `state unlock`
// clears; every node the state records as done really posted UP (and really
// received the image); the next plan lists exactly the nodes left; applying it
// converges, and a further apply says "No changes".
// Seed: METALFORM_TEST_SEED (printed with every failure).
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseState } from "../../src/state/codec.js";
import type { ClusterState } from "../../src/state/types.js";
import { jsonEvents, seeded, SimLab, type Run, type RunHandle } from "./sim-lab.js";

const SEED = Number(process.env.METALFORM_TEST_SEED ?? 20261124);
const rand = seeded(SEED);
const lab = new SimLab({ prefix: "mfint-i", nodes: 20, subnet: 81, portBase: 18081 });
const cfg = () => ["-c", lab.cfgDir];

const log: string[] = [];
beforeAll(() => lab.setup(), 60_000);
afterAll(() => {
  lab.cleanup();
  // What the random points hit, for the record.
  if (process.env.METALFORM_TEST_VERBOSE) console.log(log.join("\n"));
});

/** Complete JSON lines only: a killed process may leave half a line. */
function completeEvents(stdout: string) {
  return jsonEvents(stdout.slice(0, stdout.lastIndexOf("\n") + 1));
}

function readState(): ClusterState {
  const text = lab.readState();
  if (text === undefined) throw new Error("no state file");
  return parseState(text, lab.statePath);
}

/** Waits until the run has printed `lines` JSON lines (or ended). */
async function untilLines(run: RunHandle, lines: number): Promise<void> {
  while (run.proc.exitCode === null && run.proc.signalCode === null) {
    if (run.stdout.split("\n").length - 1 >= lines) return;
    await new Promise((r) => setTimeout(r, 10));
  }
}

function whoPostedUp(run: Run, digest: string): Set<string> {
  const out = new Set<string>();
  for (const [node, text] of run.nodeOutput) {
    for (const l of text.split("\n")) {
      if (!l.startsWith("{")) continue;
      const e = JSON.parse(l) as { step: string; image?: string };
      if (e.step === "up-posting" && e.image === digest) out.add(node);
    }
  }
  return out;
}

async function exec(args: string[]): Promise<Run> {
  return lab.metalform(args).done;
}

type Kind = "SIGINT" | "SIGINT-twice" | "SIGKILL";
const ROUNDS: Kind[] = ["SIGINT", "SIGKILL", "SIGINT-twice", "SIGKILL", "SIGINT", "SIGKILL"];

describe(`apply interrupted at random points (seed ${SEED})`, () => {
  ROUNDS.forEach((kind, round) => {
    it(`round ${round + 1}: ${kind}`, async () => {
      // A new image content each round: every node has work (install in round 1, sync after).
      if (round > 0) lab.bumpImage(round);
      const version = round > 0 ? round : 0;
      // The point: after this many lines of events (a full run prints ~420).
      const at = 1 + Math.floor(rand() * 340);
      const secondAfterMs = 200 + Math.floor(rand() * 1500);
      const where = `seed ${SEED}, round ${round + 1} (${kind} after ${at} event lines${kind === "SIGINT-twice" ? `, again ${secondAfterMs} ms later` : ""})`;

      // When Ctrl-C comes twice, n02 hangs in its sync: only the second one ends the wait for it.
      const twice = kind === "SIGINT-twice";
      const run = lab.metalform(["apply", ...cfg(), "--auto-approve", "--json", "--parallelism", "8"], twice ? { behaviour: { n02: "hang-sync" } } : {});
      await untilLines(run, at);
      if (twice) while (!run.asked.includes("n02") && run.proc.exitCode === null) await new Promise((r) => setTimeout(r, 10));
      const signalledAt = Date.now();
      run.proc.kill(kind === "SIGKILL" ? "SIGKILL" : "SIGINT");
      if (kind === "SIGINT-twice") {
        await new Promise((r) => setTimeout(r, secondAfterMs));
        run.proc.kill("SIGINT");
      }
      const r = await run.done;
      const exitMs = Date.now() - signalledAt;
      await run.killNodes();
      const events = completeEvents(r.stdout);
      const detail = `${where}\nexit ${r.code ?? r.signal} after ${exitMs} ms\nstderr:\n${r.stderr.slice(-3000)}\nlast events:\n${r.stdout.slice(-2500)}`;

      // The state parses (and so does its backup), whatever the moment.
      const state = readState();
      if (existsSync(`${lab.statePath}.backup`)) parseState(readFileSync(`${lab.statePath}.backup`, "utf8"), `${lab.statePath}.backup`);
      const digest = state.images.sim?.digest;
      const lockPath = `${lab.statePath}.lock`;

      if (kind === "SIGKILL") {
        expect(r.signal, detail).toBe("SIGKILL");
        // The lock stays; the next apply is refused and names the ID that clears it.
        expect(existsSync(lockPath), detail).toBe(true);
        const refused = await exec(["apply", ...cfg(), "--auto-approve"]);
        expect(refused.code).toBe(1);
        const id = /metalform state unlock (\S+)/.exec(refused.stderr)?.[1];
        expect(id, refused.stderr).toBeTruthy();
        expect(refused.asked).toEqual([]);
        const unlocked = await exec(["state", ...cfg(), "unlock", id!]);
        expect(unlocked.code, unlocked.stderr).toBe(0);
        expect(unlocked.stdout).toContain(`Unlocked ${lab.statePath}`);
        expect(existsSync(lockPath)).toBe(false);
      } else {
        expect(r.code, detail).toBe(1);
        expect(existsSync(lockPath), detail).toBe(false);
        const summary = events.at(-1)!;
        expect(summary, detail).toMatchObject({ type: "change_summary", interrupted: true });
        // Not one node was asked to boot after the first Ctrl-C took effect.
        const cut = r.stderr.indexOf("Interrupted: no new nodes will start");
        expect(cut, detail).toBeGreaterThanOrEqual(0);
        expect(r.stderr.slice(cut), detail).not.toMatch(/power-cycle n\d+ now/);
        const started = new Set(r.asked);
        const complete = new Set(events.filter((e) => e.type === "node_complete").map((e) => e.node as string));
        const skipped = events.filter((e) => e.type === "node_errored" && e.attempt === 0).map((e) => e.node as string);
        expect(skipped.length + started.size, detail).toBe(20);
        for (const n of skipped) expect(started.has(n), detail).toBe(false);
        if (kind === "SIGINT") {
          // The running nodes were let finish.
          expect([...complete].sort(), detail).toEqual([...started].sort());
          expect(summary.skipped).toBe(20 - started.size);
        } else {
          // Stopped waiting: whoever was still running is marked interrupted, quickly.
          const interrupted = events.filter((e) => e.type === "node_errored" && e.final && e.outcome === "interrupted").map((e) => e.node as string);
          expect([...complete, ...interrupted].sort(), detail).toEqual([...started].sort());
          expect(interrupted, detail).toContain("n02");
          for (const n of interrupted) expect(state.nodes[n]?.reported?.outcome, detail).toBe("interrupted");
          expect(exitMs - secondAfterMs, detail).toBeLessThan(15_000);
        }
      }

      log.push(`${where}: exit ${r.code ?? r.signal} after ${exitMs} ms; ${r.asked.length} started, ${events.filter((e) => e.type === "node_complete").length} completed`);

      // Every node the state records as done with this round's image really posted
      // UP with it, and really holds the image's files.
      const done = Object.entries(state.nodes)
        .filter(([, n]) => n.applied?.image.digest === digest && n.reported?.phase === "up")
        .map(([name]) => name);
      const posted = whoPostedUp(r, digest!);
      for (const n of done) {
        expect(posted.has(n), `${detail}\n${n} is recorded as done but never posted UP`).toBe(true);
        expect(readFileSync(join(lab.dir, `work-${n}`, "root/etc/os-release"), "utf8")).toContain(`VERSION=${version}`);
        expect(state.nodes[n]!.reported!.imageDigest).toBe(digest);
      }
      if (kind !== "SIGKILL") {
        // With the lock released in order, every completed node made it into the state.
        const complete = events.filter((e) => e.type === "node_complete").map((e) => e.node as string);
        expect(done.sort(), detail).toEqual(complete.sort());
      }

      // The next plan is exactly what is left.
      const plan = await exec(["plan", ...cfg(), "--json", "--detailed-exitcode"]);
      const left = lab.names.filter((n) => !done.includes(n));
      expect(plan.code, `${detail}\n${plan.stderr}`).toBe(left.length ? 2 : 0);
      const planned = (JSON.parse(plan.stdout) as { node_changes: Array<{ node: string }> }).node_changes.map((c) => c.node);
      expect(planned.sort(), detail).toEqual(left);

      // Applying it converges; once more says there is nothing to do.
      if (left.length) {
        const again = lab.metalform(["apply", ...cfg(), "--auto-approve", "--json", "--parallelism", "20"]);
        const a = await again.done;
        await again.killNodes();
        expect(a.code, `${detail}\nre-apply:\n${a.stderr.slice(-3000)}`).toBe(0);
        expect(completeEvents(a.stdout).at(-1)).toMatchObject({ type: "change_summary", failed: 0, interrupted: false });
        expect(new Set(a.asked)).toEqual(new Set(left));
        // The killed apply's rsync daemon ended with it (parent-death signal): the next
        // apply found no orphan holding the port.
        if (kind === "SIGKILL") expect(a.stderr).not.toContain('"event":"orphan-rsync"');
        log.push(`  re-apply of ${left.length} nodes: ${a.stdout.split("\n").length - 1} event lines`);
      }
      const final = await exec(["apply", ...cfg(), "--auto-approve"]);
      expect(final.code, final.stderr).toBe(0);
      expect(final.stdout).toContain("No changes.");
      expect(final.asked).toEqual([]);
    }, 90_000);
  });
});
