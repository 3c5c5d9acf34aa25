// The tables of the PostgreSQL backend, created on first use, and the schema version
// that lets an older metalform refuse a database laid out by a newer one.
import { createHash } from "node:crypto";
import type pg from "pg";
import { StateError } from "./errors.js";
import { METALFORM_VERSION } from "./version.js";

/** Bumped when the tables change incompatibly. */
export const PG_SCHEMA_VERSION = 1;

/** First key of every advisory lock metalform takes ("mfst"), so they are easy to find in pg_locks. */
export const ADVISORY_CLASS = 0x6d667374;

/** Second advisory key for one state name (non-negative so it compares equal in pg_locks.objid). */
export function advisoryKey(name: string): number {
  return createHash("sha256").update(`metalform-state:${name}`).digest().readUInt32BE(0) & 0x7fffffff;
}
/** Serializes table creation between metalforms starting at once. */
const SCHEMA_KEY = 0;

/** One row per component (state, provisioning): the version of its tables and who laid them out. */
export const SCHEMA_TABLE_DDL = `CREATE TABLE IF NOT EXISTS metalform_schema (
     component text PRIMARY KEY,
     version integer NOT NULL,
     written_by text NOT NULL,
     updated_at timestamptz NOT NULL DEFAULT now())`;

const DDL = [
  SCHEMA_TABLE_DDL,
  // Every write inserts a row: the latest serial is the state, the others its history.
  `CREATE TABLE IF NOT EXISTS metalform_state_versions (
     name text NOT NULL,
     serial bigint NOT NULL CHECK (serial >= 0),
     lineage text NOT NULL,
     format_version integer NOT NULL,
     document text NOT NULL,
     written_at timestamptz NOT NULL DEFAULT now(),
     writer text NOT NULL,
     operation text NOT NULL,
     PRIMARY KEY (name, serial))`,
  `CREATE TABLE IF NOT EXISTS metalform_state_locks (
     name text PRIMARY KEY,
     id text NOT NULL,
     operation text NOT NULL,
     owner text NOT NULL,
     pid integer NOT NULL,
     host text NOT NULL,
     created text NOT NULL,
     backend_pid integer NOT NULL)`,
];

type Queryable = Pick<pg.ClientBase, "query">;

export function undefinedTable(e: unknown): boolean {
  return (e as { code?: string }).code === "42P01";
}

/** Refuses a database whose schema a newer metalform wrote. */
async function checkVersion(q: Queryable, location: string): Promise<boolean> {
  let rows: { version: number; written_by: string }[];
  try {
    rows = (await q.query("SELECT version, written_by FROM metalform_schema WHERE component = 'state'")).rows;
  } catch (e) {
    if (undefinedTable(e)) return false;
    throw e;
  }
  const row = rows[0];
  if (!row) return false;
  if (row.version > PG_SCHEMA_VERSION) {
    throw new StateError(
      "newer-format",
      `the state database ${location} was laid out by metalform ${row.written_by} (schema version ${row.version}); this metalform ` +
        `(${METALFORM_VERSION}) knows schema version ${PG_SCHEMA_VERSION} and older. Upgrade metalform; nothing was changed.`,
    );
  }
  return true;
}

/**
 * Makes sure the tables exist (creating them when `create`); returns whether they do.
 * Reading never creates: a read-only user can plan against an empty database.
 */
export async function ensureSchema(client: pg.ClientBase, opts: { location: string; create: boolean }): Promise<boolean> {
  const { location, create } = opts;
  if (await checkVersion(client, location)) return true;
  if (!create) return false;
  await client.query("BEGIN");
  try {
    await client.query("SELECT pg_advisory_xact_lock($1, $2)", [ADVISORY_CLASS, SCHEMA_KEY]);
    for (const sql of DDL) await client.query(sql);
    await client.query(`INSERT INTO metalform_schema (component, version, written_by) VALUES ('state', $1, $2) ON CONFLICT (component) DO NOTHING`, [
      PG_SCHEMA_VERSION,
      METALFORM_VERSION,
    ]);
    await client.query("COMMIT");
  } catch (e) {
    await client.query("ROLLBACK").catch(() => {});
    throw e;
  }
  await checkVersion(client, location);
  return true;
}
