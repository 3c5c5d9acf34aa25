// The PostgreSQL backend: every write inserts the next serial into
// metalform_state_versions (history kept, the latest is the state); the lock is a
// row in metalform_state_locks naming its holder plus a session advisory lock held
// on a connection of its own for as long as the lock is held. The advisory lock is
// the truth: when its holder dies, PostgreSQL ends its session and the lock goes
// with it; the row it leaves behind is stale and the next locker replaces it.
import pg from "pg";
import { parseState } from "./codec.js";
import { StateError } from "./errors.js";
import { describeHolder, newLockInfo } from "./lockfile.js";
import { ADVISORY_CLASS, advisoryKey, ensureSchema } from "./pgschema.js";
import { parsePgUrl, scrub, type PgTarget } from "./pgurl.js";
import type { ImportableStore, LockInfo, LockRequest, StateLock } from "./store.js";
import { STATE_FORMAT_VERSION, type ClusterState } from "./types.js";
import { METALFORM_VERSION } from "./version.js";

const POLL_MS = 150;

export interface PostgresStoreOptions {
  /** State name inside the database (default: the URL's #fragment or "default"). */
  name?: string;
  /** How long to wait for a connection (default 10 s). */
  connectTimeoutMs?: number;
  /** Versions kept, the latest included (default: all); older ones are deleted by each write. */
  keepVersions?: number;
}

/** One stored version of the state, for `state history`. */
export interface StateVersion {
  serial: number;
  lineage: string;
  writtenAt: string;
  writer: string;
  operation: string;
}

/** The lock table's row: the lock's LockInfo plus the holding connection. */
interface LockRow extends Omit<LockInfo, "stale"> {
  backend_pid: number;
  live: boolean;
}

/** A connection that remembers whether PostgreSQL ended it. */
interface Session {
  client: pg.Client;
  dead: boolean;
}

const LOCK_ROW_SQL = `
  SELECT l.id, l.operation, l.owner, l.pid, l.host, l.created, l.backend_pid,
         EXISTS (SELECT 1 FROM pg_locks p
                  WHERE p.locktype = 'advisory' AND p.granted AND p.objsubid = 2
                    AND p.classid::bigint = $2 AND p.objid::bigint = $3 AND p.pid = l.backend_pid) AS live
    FROM metalform_state_locks l WHERE l.name = $1`;

export class PostgresStateStore implements ImportableStore {
  readonly location: string;
  private readonly target: PgTarget;
  private readonly key: number;
  private readonly connectTimeoutMs: number;
  private readonly keepVersions: number | undefined;
  private pool: pg.Pool | undefined;
  /** Lock IDs this instance holds, with the session holding the advisory lock. */
  private readonly held = new Map<string, Session>();
  /** Transactions on the lock session run one after the other (one connection, one transaction at a time). */
  private txChain: Promise<unknown> = Promise.resolve();

  constructor(url: string, opts: PostgresStoreOptions = {}) {
    try {
      this.target = parsePgUrl(url, opts.name);
    } catch (e) {
      throw new StateError("io", (e as Error).message);
    }
    this.location = this.target.redacted;
    this.key = advisoryKey(this.target.name);
    this.connectTimeoutMs = opts.connectTimeoutMs ?? 10_000;
    if (opts.keepVersions !== undefined && !(Number.isInteger(opts.keepVersions) && opts.keepVersions >= 1)) {
      throw new StateError("io", `keepVersions must be a whole number of at least 1, not ${opts.keepVersions}`);
    }
    this.keepVersions = opts.keepVersions;
  }

  /** The state's name inside the database. */
  get name(): string {
    return this.target.name;
  }

  /** Where the database is, for the provisioning tables that live beside the state (issue: scale-out). */
  get database(): PgTarget & { location: string } {
    return { ...this.target, location: this.location };
  }

  private clientConfig(app: string): pg.ClientConfig {
    return { connectionString: this.target.connectionString, connectionTimeoutMillis: this.connectTimeoutMs, application_name: app };
  }

  /** Any failure below becomes a StateError whose message never carries the password. */
  private wrap(e: unknown): StateError {
    if (e instanceof StateError) return new StateError(e.code, scrub(e.message, this.target.password));
    const msg = scrub((e as Error).message ?? String(e), this.target.password);
    return new StateError("io", `state database ${this.location}: ${msg}`);
  }

  private getPool(): pg.Pool {
    if (!this.pool) {
      // Idle connections must not keep a finished command alive.
      this.pool = new pg.Pool({ ...this.clientConfig("metalform"), max: 3, idleTimeoutMillis: 2000, allowExitOnIdle: true });
      this.pool.on("error", () => {}); // an idle connection that dies is simply dropped
    }
    return this.pool;
  }

  private async withClient<T>(fn: (c: pg.PoolClient) => Promise<T>): Promise<T> {
    let c: pg.PoolClient;
    try {
      c = await this.getPool().connect();
    } catch (e) {
      throw this.wrap(e);
    }
    try {
      return await fn(c);
    } catch (e) {
      throw this.wrap(e);
    } finally {
      c.release();
    }
  }

  /** Parses a stored document; a corrupt one is named by its serial. */
  private parse(serial: number, document: string): ClusterState {
    const where = `${this.location} (serial ${serial})`;
    let st: ClusterState;
    try {
      st = parseState(document, where);
    } catch (e) {
      if (e instanceof StateError && e.code === "corrupt") {
        const why = /is corrupt \((.*)\); it was left untouched/s.exec(e.message)?.[1] ?? "unreadable";
        throw new StateError("corrupt", `the state in ${where} is corrupt (${why}); it was left untouched. Earlier versions are kept: ` + `see metalform state history.`);
      }
      throw e;
    }
    if (st.serial !== serial) throw new StateError("corrupt", `the state in ${where} says serial ${st.serial}; it was left untouched.`);
    return st;
  }

  private async latest(q: Pick<pg.ClientBase, "query">): Promise<ClusterState | undefined> {
    const r = await q.query<{ serial: string; document: string }>("SELECT serial, document FROM metalform_state_versions WHERE name = $1 ORDER BY serial DESC LIMIT 1", [
      this.target.name,
    ]);
    const row = r.rows[0];
    return row ? this.parse(Number(row.serial), row.document) : undefined;
  }

  async read(): Promise<ClusterState | undefined> {
    return this.withClient(async (c) => ((await ensureSchema(c, { location: this.location, create: false })) ? this.latest(c) : undefined));
  }

  /** The stored versions, newest first. */
  async history(limit = 20): Promise<StateVersion[]> {
    return this.withClient(async (c) => {
      if (!(await ensureSchema(c, { location: this.location, create: false }))) return [];
      const r = await c.query<{ serial: string; lineage: string; written_at: Date; writer: string; operation: string }>(
        `SELECT serial, lineage, written_at, writer, operation FROM metalform_state_versions
          WHERE name = $1 ORDER BY serial DESC LIMIT $2`,
        [this.target.name, limit],
      );
      return r.rows.map((x) => ({ serial: Number(x.serial), lineage: x.lineage, writtenAt: x.written_at.toISOString(), writer: x.writer, operation: x.operation }));
    });
  }

  /** One stored version; undefined when there is none with this serial (or it was pruned by keepVersions). */
  async readVersion(serial: number): Promise<ClusterState | undefined> {
    return this.withClient(async (c) => {
      if (!(await ensureSchema(c, { location: this.location, create: false }))) return undefined;
      const r = await c.query<{ document: string }>("SELECT document FROM metalform_state_versions WHERE name = $1 AND serial = $2", [this.target.name, serial]);
      return r.rows[0] ? this.parse(serial, r.rows[0].document) : undefined;
    });
  }

  /**
   * Runs `fn` in a transaction on the session that holds our lock, after checking
   * that the lock row is still ours. A session PostgreSQL ended cannot write.
   */
  private underLock<T>(fn: (c: pg.Client, lock: LockInfo) => Promise<T>): Promise<T> {
    const run = this.txChain.then(() => this.underLockNow(fn));
    this.txChain = run.catch(() => undefined);
    return run;
  }

  private async underLockNow<T>(fn: (c: pg.Client, lock: LockInfo) => Promise<T>): Promise<T> {
    const first = this.held.entries().next();
    if (first.done) throw new StateError("not-locked", `refusing to write ${this.location} without holding its lock`);
    const [, session] = first.value;
    const lost = (now: string) => new StateError("not-locked", `the lock on ${this.location} was taken away (now: ${now}); nothing written`);
    if (session.dead) throw lost("its database session ended");
    const c = session.client;
    try {
      await c.query("BEGIN");
      const r = await c.query<LockRow>(`${LOCK_ROW_SQL} FOR UPDATE OF l`, [this.target.name, ADVISORY_CLASS, this.key]);
      const row = r.rows[0];
      if (!row || !this.held.has(row.id)) throw lost(row ? row.id : "none");
      const out = await fn(c, { id: row.id, operation: row.operation, owner: row.owner, pid: row.pid, host: row.host, created: row.created });
      await c.query("COMMIT");
      return out;
    } catch (e) {
      await c.query("ROLLBACK").catch(() => {});
      if (session.dead && !(e instanceof StateError)) throw lost("its database session ended");
      if ((e as { code?: string }).code === "23505") {
        throw new StateError("conflict", `state ${this.location} moved on while writing (another writer inserted the same serial); nothing written`);
      }
      throw this.wrap(e);
    }
  }

  private async insert(c: pg.Client, lock: LockInfo, next: ClusterState): Promise<void> {
    await c.query(
      `INSERT INTO metalform_state_versions (name, serial, lineage, format_version, document, writer, operation)
       VALUES ($1, $2, $3, $4, $5, $6, $7)`,
      [this.target.name, next.serial, next.lineage, next.formatVersion, JSON.stringify(next), `${lock.owner} pid ${lock.pid} on ${lock.host}`, lock.operation],
    );
    if (this.keepVersions !== undefined) {
      await c.query("DELETE FROM metalform_state_versions WHERE name = $1 AND serial <= $2", [this.target.name, next.serial - this.keepVersions]);
    }
  }

  async write(state: ClusterState, expectedSerial: number): Promise<ClusterState> {
    return this.underLock(async (c, lock) => {
      // Parsing the latest version first refuses a corrupt or newer one before anything is added.
      const current = await this.latest(c);
      const currentSerial = current?.serial ?? 0;
      if (current && current.lineage !== state.lineage) {
        throw new StateError("conflict", `state ${this.location} has lineage ${current.lineage}, not ${state.lineage}: it is a different state; nothing written`);
      }
      if (currentSerial !== expectedSerial) {
        throw new StateError("conflict", `state ${this.location} moved on: serial is ${currentSerial}, expected ${expectedSerial}; nothing written`);
      }
      const next: ClusterState = { ...state, formatVersion: STATE_FORMAT_VERSION, metalformVersion: METALFORM_VERSION, serial: expectedSerial + 1 };
      await this.insert(c, lock, next);
      return next;
    });
  }

  /**
   * Stores `state` as it is, lineage and serial included (`state migrate`): only
   * into an empty state or one of the same lineage that is behind it.
   */
  async importState(state: ClusterState): Promise<ClusterState> {
    return this.underLock(async (c, lock) => {
      const current = await this.latest(c);
      if (current && current.lineage !== state.lineage) {
        throw new StateError("conflict", `state ${this.location} already holds another state (lineage ${current.lineage}, not ${state.lineage}); nothing written`);
      }
      if (current && current.serial >= state.serial) {
        throw new StateError("conflict", `state ${this.location} is at serial ${current.serial}, not behind serial ${state.serial}; nothing written`);
      }
      const next: ClusterState = { ...state, formatVersion: STATE_FORMAT_VERSION, metalformVersion: METALFORM_VERSION };
      await this.insert(c, lock, next);
      return next;
    });
  }

  private async readLockRow(q: Pick<pg.ClientBase, "query">): Promise<LockRow | undefined> {
    return (await q.query<LockRow>(LOCK_ROW_SQL, [this.target.name, ADVISORY_CLASS, this.key])).rows[0];
  }

  private static info(row: LockRow): LockInfo {
    return { id: row.id, operation: row.operation, owner: row.owner, pid: row.pid, host: row.host, created: row.created, ...(row.live ? {} : { stale: true }) };
  }

  /** Who holds the advisory lock when no row says so (a holder between its two steps, or a foreign session). */
  private async anonymousHolder(q: Pick<pg.ClientBase, "query">): Promise<LockInfo | undefined> {
    const r = await q.query<{ pid: number; usename: string | null; client_addr: string | null; application_name: string | null; backend_start: Date | null }>(
      `SELECT p.pid, a.usename, host(a.client_addr) AS client_addr, a.application_name, a.backend_start
         FROM pg_locks p LEFT JOIN pg_stat_activity a ON a.pid = p.pid
        WHERE p.locktype = 'advisory' AND p.granted AND p.objsubid = 2 AND p.classid::bigint = $1 AND p.objid::bigint = $2`,
      [ADVISORY_CLASS, this.key],
    );
    const x = r.rows[0];
    if (!x) return undefined;
    return {
      id: "(no lock record)",
      operation: x.application_name || "?",
      owner: `database user ${x.usename ?? "?"} (backend pid ${x.pid})`,
      pid: 0,
      host: x.client_addr ?? "local socket",
      created: x.backend_start ? x.backend_start.toISOString() : "?",
    };
  }

  async lock(request: LockRequest, timeoutMs: number): Promise<StateLock> {
    const info = newLockInfo(request);
    const session: Session = { client: new pg.Client(this.clientConfig(`metalform lock: ${request.operation}`)), dead: false };
    // A terminated session (state unlock, a restart) must not crash us: the next write notices.
    session.client.on("error", () => (session.dead = true));
    session.client.on("end", () => (session.dead = true));
    const c = session.client;
    try {
      await c.connect();
      await ensureSchema(c, { location: this.location, create: true });
      const deadline = Date.now() + Math.max(0, timeoutMs);
      for (;;) {
        const got = await c.query<{ ok: boolean }>("SELECT pg_try_advisory_lock($1, $2) AS ok", [ADVISORY_CLASS, this.key]);
        if (got.rows[0]!.ok) {
          // A row still there is stale: its holder's session, and so its advisory lock, is gone.
          await c.query(
            `INSERT INTO metalform_state_locks (name, id, operation, owner, pid, host, created, backend_pid)
             VALUES ($1, $2, $3, $4, $5, $6, $7, pg_backend_pid())
             ON CONFLICT (name) DO UPDATE SET id = EXCLUDED.id, operation = EXCLUDED.operation, owner = EXCLUDED.owner,
               pid = EXCLUDED.pid, host = EXCLUDED.host, created = EXCLUDED.created, backend_pid = EXCLUDED.backend_pid`,
            [this.target.name, info.id, info.operation, info.owner, info.pid, info.host, info.created],
          );
          this.held.set(info.id, session);
          return { info, release: () => this.release(info.id) };
        }
        if (Date.now() >= deadline) {
          const row = await this.readLockRow(c);
          const holder = row?.live ? PostgresStateStore.info(row) : await this.anonymousHolder(c);
          if (!holder) continue; // let go between our attempt and the look: try again at once
          throw new StateError("lock-held", `cannot lock: ${describeHolder(holder, this.location)}`);
        }
        await new Promise((r) => setTimeout(r, Math.min(POLL_MS, Math.max(1, deadline - Date.now()))));
      }
    } catch (e) {
      await c.end().catch(() => {});
      throw this.wrap(e);
    }
  }

  private async release(id: string): Promise<void> {
    const session = this.held.get(id);
    if (!session) return;
    this.held.delete(id);
    try {
      if (!session.dead) await session.client.query("DELETE FROM metalform_state_locks WHERE name = $1 AND id = $2", [this.target.name, id]);
    } catch {
      // The session died under us; the row it leaves is stale and harmless.
    }
    // Ending the session releases the advisory lock.
    await session.client.end().catch(() => {});
  }

  async unlock(id: string): Promise<void> {
    await this.withClient(async (c) => {
      const notLocked = new StateError("not-locked", `the state ${this.location} is not locked; nothing to unlock`);
      if (!(await ensureSchema(c, { location: this.location, create: false }))) throw notLocked;
      await c.query("BEGIN");
      try {
        const r = await c.query<LockRow>(`${LOCK_ROW_SQL} FOR UPDATE OF l`, [this.target.name, ADVISORY_CLASS, this.key]);
        const row = r.rows[0];
        if (!row) throw notLocked;
        if (row.id !== id) {
          throw new StateError(
            "lock-mismatch",
            `lock ID ${id} does not match the current lock ${row.id} held by ${row.owner} (pid ${row.pid} on ${row.host}); nothing was unlocked`,
          );
        }
        await c.query("DELETE FROM metalform_state_locks WHERE name = $1 AND id = $2", [this.target.name, id]);
        // A holder still connected keeps its advisory lock: end its session (it can then no longer write).
        if (row.live) await c.query("SELECT pg_terminate_backend($1)", [row.backend_pid]);
        await c.query("COMMIT");
        // Termination is a signal: wait until the session is gone, so that the lock is free when we return.
        const deadline = Date.now() + 10_000;
        const gone = async () => (await c.query("SELECT 1 FROM pg_stat_activity WHERE pid = $1", [row.backend_pid])).rowCount === 0;
        while (row.live && !(await gone()) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      } catch (e) {
        await c.query("ROLLBACK").catch(() => {});
        throw e;
      }
    });
    const mine = this.held.get(id);
    if (mine) {
      this.held.delete(id);
      await mine.client.end().catch(() => {});
    }
  }

  async lockHolder(): Promise<LockInfo | undefined> {
    return this.withClient(async (c) => {
      if (!(await ensureSchema(c, { location: this.location, create: false }))) return undefined;
      const row = await this.readLockRow(c);
      return row ? PostgresStateStore.info(row) : this.anonymousHolder(c);
    });
  }

  /** Releases held locks and closes the connections. */
  async close(): Promise<void> {
    for (const id of [...this.held.keys()]) await this.release(id);
    const p = this.pool;
    this.pool = undefined;
    await p?.end().catch(() => {});
  }
}
