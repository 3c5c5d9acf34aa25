import { spawn } from "node:child_process";
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { hostname, tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { LocalStateStore } from "../../src/state/local.js";
import { newState, serializeState } from "../../src/state/codec.js";
import { StateError } from "../../src/state/errors.js";
import { parseDuration } from "../../src/state/duration.js";
import { defaultCacheDir, defaultStatePath } from "../../src/state/paths.js";
import { transpileStateModule } from "./helpers.js";

const root = mkdtempSync(join(tmpdir(), "mf-state-"));
let n = 0;
const fresh = () => new LocalStateStore(join(root, `case${++n}`, ".metalform", "state.json"));
afterAll(() => rmSync(root, { recursive: true, force: true }));

async function errorOf(p: Promise<unknown>): Promise<StateError> {
  try {
    await p;
  } catch (e) {
    expect(e).toBeInstanceOf(StateError);
    return e as StateError;
  }
  throw new Error("expected a StateError");
}

describe("local state store", () => {
  it("has no state before the first write", async () => {
    expect(await fresh().read()).toBeUndefined();
  });

  it("writes atomically with mode 0600, increments the serial, keeps the previous version as backup", async () => {
    const s = fresh();
    const lock = await s.lock({ operation: "test" }, 0);
    const st = newState("lab");
    const w1 = await s.write(st, 0);
    expect(w1.serial).toBe(1);
    expect(statSync(s.path).mode & 0o777).toBe(0o600);
    expect(existsSync(s.backupPath)).toBe(false);
    const first = readFileSync(s.path, "utf8");
    w1.nodes.node001 = { reported: { phase: "up", time: "2026-11-24T20:00:00Z" } };
    const w2 = await s.write(w1, 1);
    expect(w2.serial).toBe(2);
    expect(readFileSync(s.backupPath, "utf8")).toBe(first);
    expect(statSync(s.backupPath).mode & 0o777).toBe(0o600);
    expect((await s.read())!.nodes.node001!.reported!.phase).toBe("up");
    expect((await s.read())!.lineage).toBe(st.lineage);
    await lock.release();
    expect(existsSync(s.lockPath)).toBe(false);
  });

  it("refuses to write without the lock", async () => {
    const s = fresh();
    const e = await errorOf(s.write(newState(), 0));
    expect(e.code).toBe("not-locked");
    expect(existsSync(s.path)).toBe(false);
  });

  it("refuses a write whose expected serial or lineage is not the stored one", async () => {
    const s = fresh();
    const lock = await s.lock({ operation: "test" }, 0);
    const w = await s.write(newState(), 0);
    const before = readFileSync(s.path);
    const e1 = await errorOf(s.write(w, 0));
    expect(e1.code).toBe("conflict");
    expect(e1.message).toContain("serial is 1, expected 0");
    const e2 = await errorOf(s.write(newState(), 1));
    expect(e2.code).toBe("conflict");
    expect(e2.message).toContain("different state");
    expect(readFileSync(s.path)).toEqual(before);
    await lock.release();
  });

  it("refuses a corrupt state with a clear message and leaves its bytes untouched", async () => {
    const s = fresh();
    const lock = await s.lock({ operation: "test" }, 0);
    await s.write(newState(), 0);
    const text = readFileSync(s.path, "utf8");
    const corrupt = Buffer.from(text.slice(0, text.length / 2)); // a truncated file
    writeFileSync(s.path, corrupt);
    const mtime = statSync(s.path).mtimeMs;
    const e = await errorOf(s.read());
    expect(e.code).toBe("corrupt");
    expect(e.message).toMatch(/is corrupt \(not valid JSON: .*\); it was left untouched\. Restore it from .*state\.json\.backup/);
    const ew = await errorOf(s.write(newState(), 1));
    expect(ew.code).toBe("corrupt");
    expect(readFileSync(s.path)).toEqual(corrupt);
    expect(statSync(s.path).mtimeMs).toBe(mtime);
    expect(existsSync(s.backupPath)).toBe(false);
    await lock.release();
  });

  it("refuses structurally broken state (valid JSON, wrong shape)", async () => {
    const s = fresh();
    const lock = await s.lock({ operation: "test" }, 0);
    await s.write(newState(), 0);
    const doc = JSON.parse(readFileSync(s.path, "utf8"));
    doc.nodes = { node001: { applied: { image: "compute" } } };
    writeFileSync(s.path, JSON.stringify(doc));
    const e = await errorOf(s.read());
    expect(e.message).toContain('node "node001": applied attributes malformed');
    await lock.release();
  });

  it("refuses a state written by a newer metalform and never overwrites it", async () => {
    const s = fresh();
    const lock = await s.lock({ operation: "test" }, 0);
    const newer = serializeState({ ...newState(), formatVersion: 99, metalformVersion: "9.0.0" });
    writeFileSync(s.path, newer);
    const e = await errorOf(s.read());
    expect(e.code).toBe("newer-format");
    expect(e.message).toContain("written by metalform 9.0.0 in format 99");
    expect(e.message).toContain("Upgrade metalform");
    await errorOf(s.write(newState(), 0));
    expect(readFileSync(s.path, "utf8")).toBe(newer);
    await lock.release();
  });

  it("a second writer is refused with who holds the lock; unlock needs the right ID", async () => {
    const path = fresh().path;
    const a = new LocalStateStore(path);
    const b = new LocalStateStore(path);
    const lock = await a.lock({ operation: "apply", owner: "alice@head" }, 0);
    expect(statSync(a.lockPath).mode & 0o777).toBe(0o600);
    const t0 = Date.now();
    const e = await errorOf(b.lock({ operation: "state rm" }, 300));
    expect(Date.now() - t0).toBeGreaterThanOrEqual(250);
    expect(e.code).toBe("lock-held");
    expect(e.message).toContain(`locked by alice@head (pid ${process.pid} on ${hostname()})`);
    expect(e.message).toContain(`for "apply", lock ID ${lock.info.id}`);
    expect(e.message).toContain(`metalform state unlock ${lock.info.id}`);
    expect((await b.lockHolder())!.id).toBe(lock.info.id);
    const wrong = await errorOf(b.unlock("not-the-id"));
    expect(wrong.code).toBe("lock-mismatch");
    expect(existsSync(a.lockPath)).toBe(true);
    await b.unlock(lock.info.id);
    expect(existsSync(a.lockPath)).toBe(false);
    // a's write now fails: its lock was taken away.
    expect((await errorOf(a.write(newState(), 0))).code).toBe("not-locked");
    const e2 = await errorOf(b.unlock(lock.info.id));
    expect(e2.code).toBe("not-locked");
  });

  it("waits up to --lock-timeout for the holder to let go", async () => {
    const path = fresh().path;
    const a = new LocalStateStore(path);
    const b = new LocalStateStore(path);
    const lock = await a.lock({ operation: "apply" }, 0);
    setTimeout(() => void lock.release(), 200);
    const got = await b.lock({ operation: "state rm" }, 5000);
    expect(got.info.operation).toBe("state rm");
    await got.release();
  });

  it("says when the holder's process is gone", async () => {
    const s = fresh();
    await s.lock({ operation: "x" }, 0).then((l) => l); // create the directory and a lock
    const info = JSON.parse(readFileSync(s.lockPath, "utf8"));
    info.pid = 2 ** 22 + 12345; // beyond pid_max defaults: not running
    writeFileSync(s.lockPath, JSON.stringify(info));
    const e = await errorOf(new LocalStateStore(s.path).lock({ operation: "y" }, 0));
    expect(e.message).toContain("(that process is no longer running)");
  });

  it("reports I/O problems reading the state", async () => {
    if (process.getuid?.() === 0) {
      // root reads anything: use a directory where the file should be instead.
      const s = fresh();
      const lock = await s.lock({ operation: "x" }, 0);
      rmSync(s.path, { force: true });
      const { mkdirSync } = await import("node:fs");
      mkdirSync(s.path);
      const e = await errorOf(s.read());
      expect(e.code).toBe("io");
      await lock.release();
    } else {
      const s = fresh();
      const lock = await s.lock({ operation: "x" }, 0);
      await s.write(newState(), 0);
      chmodSync(s.path, 0);
      expect((await errorOf(s.read())).code).toBe("io");
      await lock.release();
    }
  });
});

describe("two processes racing for the lock", () => {
  let lib = "";
  beforeAll(() => {
    lib = transpileStateModule(mkdtempSync(join(root, "js-")));
  });

  // Each child: take the lock (timeout from argv), read, add itself, hold a moment, write, release.
  const childSource = (libDir: string) => `
    import { LocalStateStore } from ${JSON.stringify(join(libDir, "local.js"))};
    import { newState } from ${JSON.stringify(join(libDir, "codec.js"))};
    const { MF_PATH: path, MF_NAME: name, MF_TIMEOUT: timeout, MF_HOLD: hold } = process.env;
    const s = new LocalStateStore(path);
    try {
      const lock = await s.lock({ operation: "race " + name }, Number(timeout));
      const st = (await s.read()) ?? newState("race", "11111111-2222-4333-8444-555555555555");
      const serial = st.serial;
      st.nodes[name] = { reported: { phase: "up", time: new Date().toISOString() } };
      await new Promise((r) => setTimeout(r, Number(hold)));
      await s.write(st, serial);
      await lock.release();
      console.log("OK " + name);
    } catch (e) {
      console.log("REFUSED " + name + ": " + e.message);
      process.exitCode = 3;
    }
  `;

  function run(path: string, name: string, timeout: number, hold: number): Promise<{ code: number | null; out: string; pid: number }> {
    return new Promise((resolve, reject) => {
      const p = spawn(process.execPath, ["--input-type=module", "-e", childSource(lib)], {
        stdio: ["ignore", "pipe", "pipe"],
        cwd: root, // anything written by mistake lands in the test's directory
        env: { ...process.env, MF_PATH: path, MF_NAME: name, MF_TIMEOUT: String(timeout), MF_HOLD: String(hold) },
      });
      let out = "";
      p.stdout.on("data", (d) => (out += d));
      p.stderr.on("data", (d) => (out += d));
      p.on("error", reject);
      p.on("exit", (code) => resolve({ code, out, pid: p.pid! }));
    });
  }

  it("exactly one of two simultaneous writers wins; the other is told who holds the lock", async () => {
    const path = join(root, "race1", "state.json");
    const [a, b] = await Promise.all([run(path, "alpha", 0, 3000), run(path, "beta", 0, 3000)]);
    const results = [a, b].sort((x, y) => (x.code ?? 0) - (y.code ?? 0));
    expect(
      results.map((r) => r.code),
      a.out + b.out,
    ).toEqual([0, 3]);
    const [winner, loser] = results as [typeof a, typeof a];
    const winnerName = winner.out.trim().split(" ")[1]!;
    expect(loser.out).toContain("cannot lock: the state");
    expect(loser.out).toContain(`(pid ${winner.pid} on ${hostname()})`);
    expect(loser.out).toContain(`for "race ${winnerName}"`);
    const st = JSON.parse(readFileSync(path, "utf8"));
    expect(Object.keys(st.nodes)).toEqual([winnerName]);
    expect(st.serial).toBe(1);
    expect(existsSync(`${path}.lock`)).toBe(false);
  });

  it("with a lock timeout both writers get through, one after the other, and no update is lost", async () => {
    const path = join(root, "race2", "state.json");
    const [a, b] = await Promise.all([run(path, "alpha", 10_000, 300), run(path, "beta", 10_000, 300)]);
    expect([a.code, b.code]).toEqual([0, 0]);
    const st = JSON.parse(readFileSync(path, "utf8"));
    expect(Object.keys(st.nodes).sort()).toEqual(["alpha", "beta"]);
    expect(st.serial).toBe(2);
  });
});

describe("helpers", () => {
  it("parses lock timeouts", () => {
    expect(parseDuration("0")).toBe(0);
    expect(parseDuration("30s")).toBe(30_000);
    expect(parseDuration("500ms")).toBe(500);
    expect(parseDuration("2m")).toBe(120_000);
    expect(parseDuration("1.5h")).toBe(5_400_000);
    expect(parseDuration("soon")).toBeUndefined();
    expect(parseDuration("-1s")).toBeUndefined();
  });

  it("puts state and cache beside the configuration", () => {
    expect(defaultStatePath(join(root, "cluster.yaml"))).toBe(join(root, ".metalform", "state.json"));
    expect(defaultStatePath(root)).toBe(join(root, ".metalform", "state.json"));
    expect(defaultCacheDir(root)).toBe(join(root, ".metalform", "cache"));
  });
});
