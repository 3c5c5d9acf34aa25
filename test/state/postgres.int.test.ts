// The PostgreSQL state backend against a real PostgreSQL started for this file:
// the shared contract, then what only a database does (history, stale locks of
// killed holders, the schema version, secrets kept out of messages).
import { spawn } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import { hostname } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { stateCommand } from "../../src/cli/commands/state.js";
import { loadCluster } from "../../src/config/load.js";
import { openMigrationTarget, openStateStore } from "../../src/plan/inputs.js";
import { newState } from "../../src/state/codec.js";
import type { StateError } from "../../src/state/errors.js";
import { LocalStateStore } from "../../src/state/local.js";
import { migrateState } from "../../src/state/migrate.js";
import { PostgresStateStore } from "../../src/state/postgres.js";
import { runCommandsInProcess, type CliRun } from "../helpers/cli-in-process.js";
import { errorOf, stateStoreContract } from "./contract.js";
import { transpileStateModule } from "./helpers.js";
import { startPostgres, type PgServer } from "./pg-server.js";

let server: PgServer;
let admin: pg.Client;
beforeAll(async () => {
  server = await startPostgres();
  admin = new pg.Client({ connectionString: server.url() });
  await admin.connect();
});
afterAll(async () => {
  await admin?.end().catch(() => {});
  server?.stop();
});

let n = 0;
async function latestDoc(name: string): Promise<string | undefined> {
  const r = await admin.query("SELECT document FROM metalform_state_versions WHERE name = $1 ORDER BY serial DESC LIMIT 1", [name]).catch((e) => {
    if (e.code === "42P01") return { rows: [] };
    throw e;
  });
  return (r.rows[0] as { document: string } | undefined)?.document;
}

stateStoreContract("postgres", () => ({
  fresh() {
    const name = `case${++n}`;
    return {
      make: () => new PostgresStateStore(server.url(), { name }),
      tamper: async (text) => {
        await admin.query("UPDATE metalform_state_versions SET document = $2 WHERE name = $1 AND serial = (SELECT max(serial) FROM metalform_state_versions WHERE name = $1)", [
          name,
          text,
        ]);
      },
      raw: () => latestDoc(name),
    };
  },
}));

// ---------------------------------------------------------------------------
// What only the database backend does.

const SILENT = { stdio: ["ignore", "pipe", "pipe"] as ["ignore", "pipe", "pipe"] };
/** Inside the server's directory, so that a killed run's files go with its server. */
let work = "";
beforeAll(() => {
  work = mkdtempSync(join(server.dir, "work-"));
});

const stores: PostgresStateStore[] = [];
function pgStore(name: string, url = server.url()): PostgresStateStore {
  const s = new PostgresStateStore(url, { name });
  stores.push(s);
  return s;
}
afterAll(async () => {
  for (const s of stores) await s.close();
});

/** The state commands in-process, as main.ts runs them. */
const cli = (...args: string[]): Promise<CliRun> => runCommandsInProcess([stateCommand], ["--config", join(work, "no-such-cluster.yaml"), "--no-color", ...args]);

describe("postgres state backend", () => {
  it("keeps every version: history newest first, each readable, with who wrote it", async () => {
    const s = pgStore("history");
    const lock = await s.lock({ operation: "apply", owner: "bob@head" }, 0);
    let st = await s.write(newState("lab"), 0);
    for (const node of ["node001", "node002"]) {
      st.nodes[node] = { reported: { phase: "up", time: "2026-11-24T21:00:00Z" } };
      st = await s.write(st, st.serial);
    }
    await lock.release();
    const h = await s.history();
    expect(h.map((v) => v.serial)).toEqual([3, 2, 1]);
    expect(h.every((v) => v.lineage === st.lineage && v.operation === "apply")).toBe(true);
    expect(h[0]!.writer).toBe(`bob@head pid ${process.pid} on ${hostname()}`);
    expect(Date.now() - Date.parse(h[0]!.writtenAt)).toBeLessThan(60_000);
    expect(Object.keys((await s.readVersion(2))!.nodes)).toEqual(["node001"]);
    expect(Object.keys((await s.read())!.nodes)).toEqual(["node001", "node002"]);
    expect((await s.history(1)).length).toBe(1);
    const r = await cli("state", "history", "--state-url", `${server.url()}#history`);
    expect(r.code, r.err).toBe(0);
    expect(r.out).toMatch(/serial +3 .* apply +bob@head/);
    expect(r.out).not.toContain(server.password);
  });

  it("two writes issued at once on one store run one after the other: one lands, the other is a serial conflict", async () => {
    const s = pgStore("concurrent");
    const lock = await s.lock({ operation: "apply" }, 0);
    const st = newState();
    const results = await Promise.allSettled([s.write(st, 0), s.write(st, 0)]);
    expect(results.map((r) => r.status).sort()).toEqual(["fulfilled", "rejected"]);
    const failed = results.find((r) => r.status === "rejected") as PromiseRejectedResult;
    expect((failed.reason as StateError).code).toBe("conflict");
    expect((failed.reason as StateError).message).toContain("serial is 1, expected 0");
    expect((await s.write(st, 1)).serial).toBe(2); // the session is still usable
    await lock.release();
  });

  it("keeps only the last keepVersions versions when told to (backend.keepVersions in the configuration)", async () => {
    const dir = join(work, "keep");
    mkdirSync(dir, { recursive: true });
    const cfg = join(dir, "cluster.yaml");
    writeFileSync(cfg, `backend: { type: postgres, url: { env: MFPG_KEEP_URL }, name: keep, keepVersions: 2 }\n`);
    process.env.MFPG_KEEP_URL = server.url();
    try {
      const s = (await openStateStore({ config: cfg })) as PostgresStateStore;
      stores.push(s);
      const lock = await s.lock({ operation: "apply" }, 0);
      let st = newState();
      for (let i = 0; i < 4; i++) st = await s.write(st, st.serial);
      await lock.release();
      expect((await s.history()).map((v) => v.serial)).toEqual([4, 3]);
      expect(await s.readVersion(2)).toBeUndefined();
      expect((await s.read())!.serial).toBe(4);
    } finally {
      delete process.env.MFPG_KEEP_URL;
    }
    expect(() => new PostgresStateStore(server.url(), { keepVersions: 0 })).toThrow(/at least 1/);
  });

  it("reads nothing and creates nothing in an empty database; creates its tables on the first lock", async () => {
    server.psql("CREATE DATABASE mfpg_empty");
    const s = pgStore("x", server.url("mfpg_empty"));
    expect(await s.read()).toBeUndefined();
    expect(await s.lockHolder()).toBeUndefined();
    expect(server.psql("SELECT count(*) FROM pg_tables WHERE tablename LIKE 'metalform%'", "mfpg_empty").trim()).toBe("0");
    const lock = await s.lock({ operation: "first" }, 0);
    expect(server.psql("SELECT string_agg(tablename, ',' ORDER BY tablename) FROM pg_tables WHERE tablename LIKE 'metalform%'", "mfpg_empty").trim()).toBe(
      "metalform_schema,metalform_state_locks,metalform_state_versions",
    );
    await lock.release();
  });

  it("refuses a database laid out by a newer metalform, and changes nothing in it", async () => {
    server.psql("CREATE DATABASE mfpg_newer");
    const s = pgStore("x", server.url("mfpg_newer"));
    const lock = await s.lock({ operation: "setup" }, 0);
    await s.write(newState(), 0);
    await lock.release();
    server.psql("UPDATE metalform_schema SET version = 42, written_by = '7.0.0'", "mfpg_newer");
    const e = await errorOf(s.read());
    expect(e.code).toBe("newer-format");
    expect(e.message).toContain("laid out by metalform 7.0.0 (schema version 42)");
    expect(e.message).toContain("Upgrade metalform");
    expect((await errorOf(s.lock({ operation: "apply" }, 0))).code).toBe("newer-format");
    expect(server.psql("SELECT count(*) FROM metalform_state_locks", "mfpg_newer").trim()).toBe("0");
  });

  it("never shows the URL's password: not in locations, errors or command output", async () => {
    const s = pgStore("secret");
    expect(s.location).toBe(`postgres://postgres:***@127.0.0.1:${server.port}/postgres#secret`);
    // A server that is not there: the error names the redacted URL.
    const closedPort = server.port === 1 ? 2 : 1;
    const gone = new PostgresStateStore(`postgres://postgres:${server.password}@127.0.0.1:${closedPort}/postgres`, { connectTimeoutMs: 2000 });
    stores.push(gone);
    const e = await errorOf(gone.read());
    expect(e.code).toBe("io");
    expect(e.message).toContain(`postgres://postgres:***@127.0.0.1:${closedPort}/postgres#default`);
    expect(e.message).not.toContain(server.password);
    // A wrong password: PostgreSQL refuses; the message does not repeat either password.
    const wrong = new PostgresStateStore(`postgres://postgres:not-${server.password}@127.0.0.1:${server.port}/postgres`);
    stores.push(wrong);
    const e2 = await errorOf(wrong.read());
    expect(e2.message).toContain("password authentication failed");
    expect(e2.message).not.toContain(server.password);
    const r = await cli("state", "list", "--state-url", `${server.url()}#nothing-here`);
    expect(r.code).toBe(1);
    expect(r.err).toContain("no state at postgres://postgres:***@");
    expect(r.out + r.err).not.toContain(server.password);
  });

  it("takes the backend from the configuration ({env: NAME}); an inline URL is refused without echoing it", async () => {
    const dir = join(work, "cfg");
    mkdirSync(dir, { recursive: true });
    const cfg = join(dir, "cluster.yaml");
    writeFileSync(cfg, `cluster: { name: pgcfg }\nbackend:\n  type: postgres\n  url: { env: MFPG_TEST_URL }\n  name: fromconfig\n`);
    process.env.MFPG_TEST_URL = server.url();
    try {
      const s = await openStateStore({ config: cfg });
      stores.push(s as PostgresStateStore);
      expect(s).toBeInstanceOf(PostgresStateStore);
      expect(s.location).toBe(`postgres://postgres:***@127.0.0.1:${server.port}/postgres#fromconfig`);
      // $METALFORM_STATE_URL comes before the configuration; --state before both.
      process.env.METALFORM_STATE_URL = `${server.url("template1")}#fromenv`;
      try {
        expect((await openStateStore({ config: cfg })).location).toBe(`postgres://postgres:***@127.0.0.1:${server.port}/template1#fromenv`);
        expect((await openStateStore({ config: cfg, state: join(dir, "s.json") })).location).toBe(join(dir, "s.json"));
      } finally {
        delete process.env.METALFORM_STATE_URL;
      }
      // A migration target without #NAME goes to the configuration's state name.
      const t1 = await openMigrationTarget(server.url(), { config: cfg });
      const t2 = await openMigrationTarget(`${server.url()}#other`, { config: cfg });
      stores.push(t1 as PostgresStateStore, t2 as PostgresStateStore);
      expect([t1.location, t2.location].map((l) => l.split("#")[1])).toEqual(["fromconfig", "other"]);
      delete process.env.MFPG_TEST_URL;
      const e = await errorOf(openStateStore({ config: cfg }));
      expect(e.message).toContain("the state backend's url (env:MFPG_TEST_URL, ");
      expect(e.message).toContain("environment variable MFPG_TEST_URL is not set");
      writeFileSync(cfg, `cluster: { name: pgcfg }\nbackend:\n  type: postgres\n  url: ${server.url()}\n`);
      const loaded = await loadCluster(cfg);
      const d = loaded.diagnostics.find((x) => x.code === "inline-secret")!;
      expect(d.severity).toBe("error");
      expect(d.line).toBe(4);
      expect(JSON.stringify(loaded.diagnostics)).not.toContain(server.password);
      expect((await errorOf(openStateStore({ config: cfg }))).message).toContain(`"backend:" section has errors`);
      writeFileSync(cfg, `backend: { type: local, path: elsewhere/state.json }\n`);
      const local = await openStateStore({ config: cfg });
      expect(local.location).toBe(join(dir, "elsewhere", "state.json"));
      writeFileSync(cfg, `backend: { type: local, url: { env: X } }\n`);
      expect((await loadCluster(cfg)).diagnostics.map((x) => x.message)).toContain('backend field "url" does not apply to a local backend');
    } finally {
      delete process.env.MFPG_TEST_URL;
    }
  });
});

describe("a lock holder in another process", () => {
  let lib = "";
  beforeAll(() => {
    const out = mkdtempSync(join(work, "js-"));
    lib = transpileStateModule(out);
    // The child imports "pg": let it find this project's node_modules.
    symlinkSync(fileURLToPath(new URL("../../node_modules", import.meta.url)), join(out, "node_modules"));
  });

  /** A child that takes the lock (waiting up to MF_TIMEOUT ms), adds itself to the state, holds for MF_HOLD ms, writes, releases. */
  const childSource = (libDir: string) => `
    import { PostgresStateStore } from ${JSON.stringify(join(libDir, "postgres.js"))};
    import { newState } from ${JSON.stringify(join(libDir, "codec.js"))};
    const { MF_URL: url, MF_NAME: name, MF_TIMEOUT: timeout, MF_HOLD: hold } = process.env;
    const s = new PostgresStateStore(url);
    try {
      const lock = await s.lock({ operation: "child " + name }, Number(timeout));
      console.log("LOCKED " + lock.info.id);
      const st = (await s.read()) ?? newState("race", "11111111-2222-4333-8444-555555555555");
      const serial = st.serial;
      st.nodes[name] = { reported: { phase: "up", time: new Date().toISOString() } };
      await new Promise((r) => setTimeout(r, Number(hold)));
      await s.write(st, serial);
      await lock.release();
      await s.close();
      console.log("OK " + name);
    } catch (e) {
      console.log("REFUSED " + name + ": " + e.message);
      process.exitCode = 3;
      await s.close();
    }
  `;

  function spawnChild(url: string, name: string, timeout: number, hold: number) {
    const p = spawn(process.execPath, ["--input-type=module", "-e", childSource(lib)], {
      ...SILENT,
      cwd: work,
      env: { ...process.env, MF_URL: url, MF_NAME: name, MF_TIMEOUT: String(timeout), MF_HOLD: String(hold) },
    });
    let out = "";
    p.stdout.on("data", (d) => (out += d));
    p.stderr.on("data", (d) => (out += d));
    const exited = new Promise<number | null>((resolve) => p.on("exit", (code) => resolve(code)));
    const locked = new Promise<string>((resolve, reject) => {
      p.stdout.on("data", () => {
        const m = /LOCKED (\S+)/.exec(out);
        if (m) resolve(m[1]!);
      });
      void exited.then(() => reject(new Error(`child exited before locking: ${out}`)));
    });
    locked.catch(() => {}); // only the tests that wait for the lock look at this

    return { p, locked, exited, out: () => out };
  }

  it("a second writer is refused naming the holder; SIGKILL frees the advisory lock, the row stays stale until state unlock", async () => {
    const url = `${server.url()}#killed`;
    const child = spawnChild(url, "holder", 0, 600_000);
    const id = await child.locked;
    const me = pgStore("killed");
    const e = await errorOf(me.lock({ operation: "apply" }, 200));
    expect(e.code).toBe("lock-held");
    expect(e.message).toContain(`(pid ${child.p.pid} on ${hostname()})`);
    expect(e.message).toContain(`for "child holder", lock ID ${id}`);
    expect((await me.lockHolder())!.stale).toBeUndefined();
    child.p.kill("SIGKILL");
    await child.exited;
    // PostgreSQL ends the dead client's session as soon as its socket closes; the advisory lock goes with it.
    const deadline = Date.now() + 10_000;
    while (!(await me.lockHolder())?.stale && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    const stale = (await me.lockHolder())!;
    expect(stale.id).toBe(id);
    expect(stale.stale).toBe(true);
    expect(server.psql(`SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND classid = ${0x6d667374}`).trim()).toBe("0");
    const r = await cli("state", "unlock", id, "--state-url", url);
    expect(r.code, r.err).toBe(0);
    expect(r.out).toContain(`Unlocked postgres://postgres:***@127.0.0.1:${server.port}/postgres#killed (lock ${id} held by`);
    expect(r.out).toContain("stale: its session was gone");
    expect(r.out + r.err).not.toContain(server.password);
    expect(await me.lockHolder()).toBeUndefined();
  });

  it("a stale row left by a killed holder does not block the next writer, who replaces it", async () => {
    const url = `${server.url()}#takeover`;
    const child = spawnChild(url, "holder", 0, 600_000);
    const id = await child.locked;
    child.p.kill("SIGKILL");
    await child.exited;
    const me = pgStore("takeover");
    const lock = await me.lock({ operation: "apply" }, 10_000);
    expect(lock.info.id).not.toBe(id);
    expect((await me.lockHolder())!.id).toBe(lock.info.id);
    await me.write(newState(), 0);
    await lock.release();
  });

  it("two processes writing with a lock timeout: both get through one after the other, no update lost", async () => {
    const url = `${server.url()}#race`;
    const a = spawnChild(url, "alpha", 15_000, 300);
    const b = spawnChild(url, "beta", 15_000, 300);
    expect([await a.exited, await b.exited], a.out() + b.out()).toEqual([0, 0]);
    const st = (await pgStore("race").read())!;
    expect(Object.keys(st.nodes).sort()).toEqual(["alpha", "beta"]);
    expect(st.serial).toBe(2);
    expect((await pgStore("race").history()).map((v) => v.serial)).toEqual([2, 1]);
  });

  it("two processes without a timeout: exactly one wins, the other is told who holds the lock", async () => {
    const url = `${server.url()}#race0`;
    const a = spawnChild(url, "alpha", 0, 1500);
    const b = spawnChild(url, "beta", 0, 1500);
    const [ca, cb] = [await a.exited, await b.exited];
    expect([ca, cb].sort(), a.out() + b.out()).toEqual([0, 3]);
    const loser = ca === 3 ? a : b;
    expect(loser.out()).toContain("cannot lock: the state postgres://postgres:***@");
    expect(loser.out()).not.toContain(server.password);
    expect((await pgStore("race0").read())!.serial).toBe(1);
  });
});

describe("state migrate", () => {
  it("local → postgres → local keeps lineage, serial and contents; refuses a target of another lineage", async () => {
    const file1 = join(work, "m1", "state.json");
    const local = new LocalStateStore(file1);
    const lock = await local.lock({ operation: "setup" }, 0);
    let st = await local.write(newState("mig"), 0);
    st.nodes.node001 = { reported: { phase: "up", time: "2026-11-24T21:00:00Z" } };
    st.images.compute = { digest: "sha256:abc", size: 42 };
    st = await local.write(st, 1);
    st = await local.write(st, 2);
    await lock.release();
    process.env.MFPG_TO = `${server.url()}#migrated`;
    try {
      const r1 = await cli("state", "migrate", "--state", file1, "--to-env", "MFPG_TO");
      expect(r1.code, r1.err).toBe(0);
      expect(r1.out).toContain(`Copied the state (lineage ${st.lineage}, serial 3, 1 node) from ${file1} to postgres://postgres:***@`);
      expect(r1.out + r1.err).not.toContain(server.password);
      const pgs = pgStore("migrated");
      expect(await pgs.read()).toEqual(st);
      expect((await pgs.history()).map((v) => v.serial)).toEqual([3]);
      expect((await pgs.history())[0]!.operation).toBe("state migrate");
      expect(await pgs.lockHolder()).toBeUndefined();
      expect(existsSync(`${file1}.lock`)).toBe(false);
      // Again: nothing to copy.
      const r2 = await cli("state", "migrate", "--state", file1, "--to-env", "MFPG_TO");
      expect(r2.code, r2.err).toBe(0);
      expect(r2.out).toContain("already holds this state (lineage");
      // The database moves on, then goes back into a new file.
      const l2 = await pgs.lock({ operation: "apply" }, 0);
      const st4 = await pgs.write({ ...st, nodes: { ...st.nodes, node002: { reported: { phase: "installing", time: "2026-11-24T22:00:00Z" } } } }, 3);
      await l2.release();
      const file2 = join(work, "m2", "state.json");
      const r3 = await cli("state", "migrate", "--state", process.env.MFPG_TO, "--to", file2, "--json");
      expect(r3.code, r3.err).toBe(0);
      expect(JSON.parse(r3.out)).toMatchObject({ lineage: st.lineage, serial: 4, copied: true, from: pgs.location, to: file2 });
      const back = JSON.parse(readFileSync(file2, "utf8"));
      expect(back).toEqual(st4);
      expect(statSync(file2).mode & 0o777).toBe(0o600);
      // A target holding another lineage is never overwritten.
      const other = pgStore("otherlineage");
      const l3 = await other.lock({ operation: "setup" }, 0);
      const foreign = await other.write(newState("someone-else"), 0);
      await l3.release();
      const r4 = await cli("state", "migrate", "--state", file2, "--to", `${server.url()}#otherlineage`);
      expect(r4.code).toBe(1);
      expect(r4.err).toContain(`already holds a different state (lineage ${foreign.lineage}, serial 1; the source has lineage ${st.lineage})`);
      expect(r4.err).not.toContain(server.password);
      expect(await other.read()).toEqual(foreign);
      expect(await other.lockHolder()).toBeUndefined();
      // A source with nothing in it.
      const r5 = await cli("state", "migrate", "--state", join(work, "empty", "state.json"), "--to-env", "MFPG_TO");
      expect(r5.code).toBe(1);
      expect(r5.err).toContain("nothing to migrate");
      // The target must be named once.
      expect((await cli("state", "migrate", "--state", file2)).err).toContain("--to TARGET or --to-env VARIABLE");
    } finally {
      delete process.env.MFPG_TO;
    }
  });

  it("refuses a target that is ahead, and holds both locks while copying", async () => {
    const src = pgStore("ahead-src");
    const dst = pgStore("ahead-dst");
    const l1 = await src.lock({ operation: "setup" }, 0);
    const st = await src.write(newState(), 0);
    await l1.release();
    const l2 = await dst.lock({ operation: "setup" }, 0);
    await dst.importState({ ...st, serial: 5 });
    await l2.release();
    const e = await errorOf(migrateState(src, dst, 0));
    expect(e.message).toContain("is ahead of the source (serial 5 > 1)");
    // A locked target: migrate waits for it, then is refused naming the holder.
    const hold = await dst.lock({ operation: "apply", owner: "carol@head" }, 0);
    const e2 = await errorOf(migrateState(src, pgStore("ahead-dst"), 100));
    expect(e2.code).toBe("lock-held");
    expect(e2.message).toContain("carol@head");
    expect(await src.lockHolder()).toBeUndefined(); // the source's lock was let go
    await hold.release();
  });
});
