// The provisioning tables' layout (DDL) and their creation: idempotent, serialized
// between processes by an advisory lock, refused when a newer metalform laid them out.
import type pg from "pg";
import { ADVISORY_CLASS, SCHEMA_TABLE_DDL } from "../state/pgschema.js";
import { METALFORM_VERSION } from "../state/version.js";

/** Bumped when these tables change incompatibly. */
export const PROVISIONING_SCHEMA_VERSION = 1;
/** Serializes creating these tables (the state's own tables use key 0). */
const SCHEMA_KEY = 1;

export const DDL = [
  SCHEMA_TABLE_DDL,
  `CREATE TABLE IF NOT EXISTS metalform_provisioners (
     scope text NOT NULL,
     name text NOT NULL,
     address text NOT NULL,
     http_url text NOT NULL,
     rsync_url text NOT NULL,
     slots integer NOT NULL CHECK (slots >= 1),
     categories text[] NOT NULL DEFAULT '{}',
     node_patterns text[] NOT NULL DEFAULT '{}',
     images jsonb NOT NULL DEFAULT '{}',
     -- "IMAGE@DIGEST" -> why its copy failed (the apply stops waiting for it).
     copy_errors jsonb NOT NULL DEFAULT '{}',
     config_digest text NOT NULL DEFAULT '',
     host text NOT NULL,
     pid integer NOT NULL,
     started_at timestamptz NOT NULL DEFAULT now(),
     heartbeat_at timestamptz NOT NULL DEFAULT now(),
     -- It has acted on every assignment made before this time.
     seen_upto timestamptz NOT NULL DEFAULT '-infinity',
     PRIMARY KEY (scope, name))`,
  `CREATE TABLE IF NOT EXISTS metalform_image_sources (
     scope text NOT NULL,
     image text NOT NULL,
     digest text NOT NULL,
     url text NOT NULL,
     apply_id text NOT NULL,
     published_at timestamptz NOT NULL DEFAULT now(),
     PRIMARY KEY (scope, image))`,
  // The apply's image password for its provisioners (rsync auth); '' before it existed.
  `ALTER TABLE metalform_image_sources ADD COLUMN IF NOT EXISTS secret text NOT NULL DEFAULT ''`,
  `CREATE TABLE IF NOT EXISTS metalform_assignments (
     scope text NOT NULL,
     node text NOT NULL,
     apply_id text NOT NULL,
     provisioner text NOT NULL,
     image text NOT NULL,
     digest text NOT NULL,
     config_digest text NOT NULL,
     reason text NOT NULL,
     allow_wipe boolean NOT NULL,
     generation integer NOT NULL,
     rejected text,
     assigned_at timestamptz NOT NULL DEFAULT now(),
     PRIMARY KEY (scope, node))`,
  `CREATE TABLE IF NOT EXISTS metalform_observations (
     id bigserial PRIMARY KEY,
     scope text NOT NULL,
     apply_id text NOT NULL,
     node text NOT NULL,
     generation integer NOT NULL,
     provisioner text NOT NULL,
     body jsonb NOT NULL,
     at timestamptz NOT NULL DEFAULT now())`,
  `CREATE INDEX IF NOT EXISTS metalform_observations_apply ON metalform_observations (scope, apply_id, id)`,
  // Running applies heart-beat: a provisioner drops the assignments of an apply that died.
  `CREATE TABLE IF NOT EXISTS metalform_applies (
     scope text NOT NULL,
     apply_id text NOT NULL,
     config_digest text NOT NULL DEFAULT '',
     heartbeat_at timestamptz NOT NULL DEFAULT now(),
     PRIMARY KEY (scope, apply_id))`,
  `CREATE TABLE IF NOT EXISTS metalform_dhcp_authority (
     scope text NOT NULL,
     network text NOT NULL,
     holder text NOT NULL,
     expires_at timestamptz NOT NULL,
     PRIMARY KEY (scope, network))`,
];

/** Raised when the tables belong to a newer metalform. */
export class ProvisioningSchemaError extends Error {}

/** Creates the tables through `c` (one transaction); `location` names the database in messages. */
export async function createTables(c: pg.PoolClient, location: string): Promise<void> {
  await c.query("BEGIN");
  await c.query("SELECT pg_advisory_xact_lock($1, $2)", [ADVISORY_CLASS, SCHEMA_KEY]);
  for (const sql of DDL) await c.query(sql);
  const r = await c.query<{ version: number; written_by: string }>("SELECT version, written_by FROM metalform_schema WHERE component = 'provisioning'");
  const row = r.rows[0];
  if (row && row.version > PROVISIONING_SCHEMA_VERSION) {
    throw new ProvisioningSchemaError(
      `the provisioning tables in ${location} were laid out by metalform ${row.written_by} (version ${row.version}); this metalform knows version ${PROVISIONING_SCHEMA_VERSION}. Upgrade metalform.`,
    );
  }
  if (!row) {
    await c.query("INSERT INTO metalform_schema (component, version, written_by) VALUES ('provisioning', $1, $2) ON CONFLICT (component) DO NOTHING", [
      PROVISIONING_SCHEMA_VERSION,
      METALFORM_VERSION,
    ]);
  }
  await c.query("COMMIT");
}
