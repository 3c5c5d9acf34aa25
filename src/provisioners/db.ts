// The provisioning tables that live beside the state in PostgreSQL: who provisions
// (registrations with a heartbeat), which images they should copy, which node is
// being installed by whom (the work queue), what nodes reported (observations, read
// by the apply), and which provisioner answers DHCP on a network (a lease row).
// Times are always the database's (now()), so the clocks of the machines never matter.
import pg from "pg";
import type { DesiredCluster } from "../config/types.js";
import { scrub, type PgTarget } from "../state/pgurl.js";
import { createTables, ProvisioningSchemaError } from "./db-schema.js";
import type { Assignment, ImageSource, ObservationRow, ProvisionerInfo, ProvisionerRegistration } from "./db-types.js";

export { PROVISIONING_SCHEMA_VERSION } from "./db-schema.js";
export type { Assignment, ImageSource, ObservationRow, ProvisionerInfo, ProvisionerRegistration } from "./db-types.js";

export class ProvisioningDbError extends Error {}

/** The DHCP authority is per provisioning network (its address and prefix). */
export function networkKey(c: Pick<DesiredCluster, "network">): string {
  return `${c.network.networkAddress}/${c.network.prefix}`;
}

export class ProvisioningDb {
  readonly scope: string;
  readonly location: string;
  private readonly pool: pg.Pool;
  private ready: Promise<void> | undefined;

  constructor(
    private readonly target: PgTarget & { location: string },
    app: string,
    opts: { connectTimeoutMs?: number } = {},
  ) {
    this.scope = target.name;
    this.location = target.location;
    this.pool = new pg.Pool({
      connectionString: target.connectionString,
      connectionTimeoutMillis: opts.connectTimeoutMs ?? 10_000,
      application_name: app,
      max: 3,
      idleTimeoutMillis: 5000,
      allowExitOnIdle: true,
      // A provisioner whose database went away must notice, not wait forever.
      query_timeout: 15_000,
    });
    this.pool.on("error", () => {});
  }

  /** Errors never carry the URL's password. */
  private wrap(e: unknown): ProvisioningDbError {
    return new ProvisioningDbError(`provisioning database ${this.location}: ${scrub((e as Error).message ?? String(e), this.target.password)}`);
  }

  private async q<T extends pg.QueryResultRow>(sql: string, params: unknown[] = []): Promise<T[]> {
    await this.ensure();
    try {
      return (await this.pool.query<T>(sql, params)).rows;
    } catch (e) {
      throw this.wrap(e);
    }
  }

  /** Creates the tables on first use (idempotent, serialized between processes). */
  ensure(): Promise<void> {
    this.ready ??= this.create().catch((e) => {
      this.ready = undefined;
      throw e;
    });
    return this.ready;
  }

  private async create(): Promise<void> {
    let c: pg.PoolClient;
    try {
      c = await this.pool.connect();
    } catch (e) {
      throw this.wrap(e);
    }
    try {
      await createTables(c, this.location);
    } catch (e) {
      await c.query("ROLLBACK").catch(() => {});
      if (e instanceof ProvisioningSchemaError) throw new ProvisioningDbError(e.message);
      throw this.wrap(e);
    } finally {
      c.release();
    }
  }

  /** Whether the tables exist (without creating them: a read-only user may ask). */
  async hasTables(): Promise<boolean> {
    try {
      const r = await this.pool.query<{ t: string | null }>("SELECT to_regclass('metalform_provisioners')::text AS t");
      return r.rows[0]?.t != null;
    } catch (e) {
      throw this.wrap(e);
    }
  }

  async close(): Promise<void> {
    await this.pool.end().catch(() => {});
  }

  // --- provisioners ------------------------------------------------------------------

  async register(p: ProvisionerRegistration): Promise<void> {
    await this.q(
      `INSERT INTO metalform_provisioners (scope, name, address, http_url, rsync_url, slots, categories, node_patterns, images, config_digest, host, pid)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
       ON CONFLICT (scope, name) DO UPDATE SET address = EXCLUDED.address, http_url = EXCLUDED.http_url, rsync_url = EXCLUDED.rsync_url,
         slots = EXCLUDED.slots, categories = EXCLUDED.categories, node_patterns = EXCLUDED.node_patterns, images = EXCLUDED.images,
         config_digest = EXCLUDED.config_digest, host = EXCLUDED.host, pid = EXCLUDED.pid, started_at = now(), heartbeat_at = now()`,
      [this.scope, p.name, p.address, p.httpUrl, p.rsyncUrl, p.slots, p.categories, p.nodePatterns, JSON.stringify(p.images), p.configDigest, p.host, p.pid],
    );
  }

  /** Returns false when the row is gone (someone deregistered us): register again. */
  async heartbeat(name: string, images: Record<string, string>, configDigest: string, copyErrors: Record<string, string> = {}): Promise<boolean> {
    const r = await this.q(
      "UPDATE metalform_provisioners SET heartbeat_at = now(), images = $3, config_digest = $4, copy_errors = $5 WHERE scope = $1 AND name = $2 RETURNING name",
      [this.scope, name, JSON.stringify(images), configDigest, JSON.stringify(copyErrors)],
    );
    return r.length > 0;
  }

  async deregister(name: string): Promise<void> {
    await this.q("DELETE FROM metalform_provisioners WHERE scope = $1 AND name = $2", [this.scope, name]);
  }

  async provisioners(): Promise<ProvisionerInfo[]> {
    const rows = await this.q<{
      name: string;
      address: string;
      http_url: string;
      rsync_url: string;
      slots: number;
      categories: string[];
      node_patterns: string[];
      images: Record<string, string>;
      copy_errors: Record<string, string>;
      config_digest: string;
      host: string;
      pid: number;
      age_ms: string;
    }>(
      `SELECT name, address, http_url, rsync_url, slots, categories, node_patterns, images, copy_errors, config_digest, host, pid,
              (extract(epoch FROM now() - heartbeat_at) * 1000)::bigint AS age_ms
         FROM metalform_provisioners WHERE scope = $1 ORDER BY name`,
      [this.scope],
    );
    return rows.map((r) => ({
      name: r.name,
      address: r.address,
      httpUrl: r.http_url,
      rsyncUrl: r.rsync_url,
      slots: r.slots,
      categories: r.categories,
      nodePatterns: r.node_patterns,
      images: r.images,
      copyErrors: r.copy_errors,
      configDigest: r.config_digest,
      host: r.host,
      pid: r.pid,
      ageMs: Math.max(0, Number(r.age_ms)),
    }));
  }

  /** Those heart-beating within `withinMs` (the failover timeout): the live ones. */
  async liveProvisioners(withinMs: number): Promise<ProvisionerInfo[]> {
    return (await this.provisioners()).filter((p) => p.ageMs < withinMs);
  }

  // --- images --------------------------------------------------------------------------

  async publishImages(sources: ImageSource[], applyId: string): Promise<void> {
    for (const s of sources) {
      await this.q(
        `INSERT INTO metalform_image_sources (scope, image, digest, url, apply_id, secret) VALUES ($1, $2, $3, $4, $5, $6)
         ON CONFLICT (scope, image) DO UPDATE SET digest = EXCLUDED.digest, url = EXCLUDED.url, apply_id = EXCLUDED.apply_id, secret = EXCLUDED.secret, published_at = now()`,
        [this.scope, s.image, s.digest, s.url, applyId, s.auth ? `${s.auth.user}:${s.auth.password}` : ""],
      );
    }
  }

  async imageSources(): Promise<ImageSource[]> {
    const rows = await this.q<{ image: string; digest: string; url: string; secret: string }>(
      "SELECT image, digest, url, secret FROM metalform_image_sources WHERE scope = $1 ORDER BY image",
      [this.scope],
    );
    return rows.map((r) => {
      const colon = r.secret.indexOf(":");
      const auth = colon > 0 ? { user: r.secret.slice(0, colon), password: r.secret.slice(colon + 1) } : undefined;
      return { image: r.image, digest: r.digest, url: r.url, ...(auth ? { auth } : {}) };
    });
  }

  // --- assignments (the work queue) ----------------------------------------------------

  /** Hands a node to a provisioner; returns the assignment's generation. */
  async assign(a: Omit<Assignment, "generation" | "rejected">): Promise<number> {
    const r = await this.q<{ generation: number }>(
      `INSERT INTO metalform_assignments AS t (scope, node, apply_id, provisioner, image, digest, config_digest, reason, allow_wipe, generation)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, 1)
       ON CONFLICT (scope, node) DO UPDATE SET apply_id = EXCLUDED.apply_id, provisioner = EXCLUDED.provisioner, image = EXCLUDED.image,
         digest = EXCLUDED.digest, config_digest = EXCLUDED.config_digest, reason = EXCLUDED.reason, allow_wipe = EXCLUDED.allow_wipe,
         generation = t.generation + 1, rejected = NULL, assigned_at = now()
       RETURNING generation`,
      [this.scope, a.node, a.applyId, a.provisioner, a.image, a.digest, a.configDigest, a.reason, a.allowWipe],
    );
    return r[0]!.generation;
  }

  async assignments(): Promise<Assignment[]> {
    const rows = await this.q<{
      node: string;
      apply_id: string;
      provisioner: string;
      image: string;
      digest: string;
      config_digest: string;
      reason: string;
      allow_wipe: boolean;
      generation: number;
      rejected: string | null;
    }>("SELECT node, apply_id, provisioner, image, digest, config_digest, reason, allow_wipe, generation, rejected FROM metalform_assignments WHERE scope = $1 ORDER BY node", [
      this.scope,
    ]);
    return rows.map((r) => ({
      node: r.node,
      applyId: r.apply_id,
      provisioner: r.provisioner,
      image: r.image,
      digest: r.digest,
      configDigest: r.config_digest,
      reason: r.reason,
      allowWipe: r.allow_wipe,
      generation: r.generation,
      ...(r.rejected ? { rejected: r.rejected } : {}),
    }));
  }

  /** The assignments and the database's time they were read at (for markSeen). */
  async assignmentsSnapshot(): Promise<{ at: string; rows: Assignment[] }> {
    const [now] = await this.q<{ at: string }>("SELECT now()::text AS at");
    return { at: now!.at, rows: await this.assignments() };
  }

  /** The provisioner acted on every assignment made before `at` (accepted, rejected, or noted for DHCP). */
  async markSeen(name: string, at: string): Promise<void> {
    await this.q("UPDATE metalform_provisioners SET seen_upto = $3::timestamptz WHERE scope = $1 AND name = $2 AND seen_upto < $3::timestamptz", [this.scope, name, at]);
  }

  /**
   * Whether an assignment has been acted on by its provisioner and by the network's
   * current DHCP authority (so the node's next boot finds it), and whether it was refused.
   */
  async assignmentSeen(node: string, generation: number): Promise<{ seen: boolean; rejected?: string } | undefined> {
    const r = await this.q<{ generation: number; rejected: string | null; assignee_saw: boolean; authority_saw: boolean }>(
      `SELECT a.generation, a.rejected,
              coalesce(p.seen_upto >= a.assigned_at, false) AS assignee_saw,
              (SELECT coalesce(bool_and(q.seen_upto >= a.assigned_at), true)
                 FROM metalform_dhcp_authority d JOIN metalform_provisioners q ON q.scope = d.scope AND q.name = d.holder
                WHERE d.scope = a.scope AND d.expires_at > now()) AS authority_saw
         FROM metalform_assignments a LEFT JOIN metalform_provisioners p ON p.scope = a.scope AND p.name = a.provisioner
        WHERE a.scope = $1 AND a.node = $2`,
      [this.scope, node],
    );
    const row = r[0];
    if (!row || row.generation !== generation) return undefined;
    return { seen: row.assignee_saw && row.authority_saw, ...(row.rejected ? { rejected: row.rejected } : {}) };
  }

  async release(node: string, applyId: string): Promise<void> {
    await this.q("DELETE FROM metalform_assignments WHERE scope = $1 AND node = $2 AND apply_id = $3", [this.scope, node, applyId]);
  }

  /** Everything an apply still holds (it ends, or a new apply finds a dead one's leftovers). */
  async releaseApply(applyId: string): Promise<void> {
    await this.q("DELETE FROM metalform_assignments WHERE scope = $1 AND apply_id = $2", [this.scope, applyId]);
  }

  /** Leftovers of applies that are no longer running (only one apply holds the state lock at a time). */
  async releaseOthers(applyId: string): Promise<number> {
    const r = await this.q("DELETE FROM metalform_assignments WHERE scope = $1 AND apply_id <> $2 RETURNING node", [this.scope, applyId]);
    await this.q("DELETE FROM metalform_observations WHERE scope = $1 AND apply_id <> $2", [this.scope, applyId]);
    return r.length;
  }

  async reject(node: string, generation: number, why: string): Promise<void> {
    await this.q("UPDATE metalform_assignments SET rejected = $4 WHERE scope = $1 AND node = $2 AND generation = $3", [this.scope, node, generation, why]);
  }

  // --- applies ----------------------------------------------------------------------

  /** The apply is alive and applies this configuration (provisioners follow it). */
  async applyHeartbeat(applyId: string, configDigest: string): Promise<void> {
    await this.q(
      `INSERT INTO metalform_applies (scope, apply_id, config_digest) VALUES ($1, $2, $3)
       ON CONFLICT (scope, apply_id) DO UPDATE SET heartbeat_at = now(), config_digest = EXCLUDED.config_digest`,
      [this.scope, applyId, configDigest],
    );
  }

  async endApply(applyId: string): Promise<void> {
    await this.q("DELETE FROM metalform_applies WHERE scope = $1 AND apply_id = $2", [this.scope, applyId]);
  }

  /** Running applies: id → milliseconds since their last heartbeat, and the configuration they apply. */
  async applies(): Promise<Map<string, { ageMs: number; configDigest: string }>> {
    const rows = await this.q<{ apply_id: string; age_ms: string; config_digest: string }>(
      "SELECT apply_id, config_digest, (extract(epoch FROM now() - heartbeat_at) * 1000)::bigint AS age_ms FROM metalform_applies WHERE scope = $1",
      [this.scope],
    );
    return new Map(rows.map((r) => [r.apply_id, { ageMs: Math.max(0, Number(r.age_ms)), configDigest: r.config_digest }]));
  }

  // --- observations --------------------------------------------------------------------

  async postObservations(rows: Array<{ applyId: string; node: string; generation: number; provisioner: string; body: Record<string, unknown> }>): Promise<void> {
    if (!rows.length) return;
    const values: unknown[] = [];
    const tuples = rows.map((r, i) => {
      values.push(this.scope, r.applyId, r.node, r.generation, r.provisioner, JSON.stringify(r.body));
      const b = i * 6;
      return `($${b + 1}, $${b + 2}, $${b + 3}, $${b + 4}, $${b + 5}, $${b + 6})`;
    });
    await this.q(`INSERT INTO metalform_observations (scope, apply_id, node, generation, provisioner, body) VALUES ${tuples.join(", ")}`, values);
  }

  async observationsSince(applyId: string, afterId: number, limit = 1000): Promise<ObservationRow[]> {
    const rows = await this.q<{ id: string; node: string; generation: number; provisioner: string; body: Record<string, unknown> }>(
      "SELECT id, node, generation, provisioner, body FROM metalform_observations WHERE scope = $1 AND apply_id = $2 AND id > $3 ORDER BY id LIMIT $4",
      [this.scope, applyId, afterId, limit],
    );
    return rows.map((r) => ({ id: Number(r.id), node: r.node, generation: r.generation, provisioner: r.provisioner, body: r.body }));
  }

  async dropObservations(applyId: string): Promise<void> {
    await this.q("DELETE FROM metalform_observations WHERE scope = $1 AND apply_id = $2", [this.scope, applyId]);
  }

  // --- the DHCP authority: a lease row -------------------------------------------------

  /**
   * Takes or renews the lease on a network's DHCP authority: succeeds when the row is
   * ours or has expired. Returns whether we hold it now.
   */
  async claimAuthority(network: string, holder: string, leaseMs: number): Promise<boolean> {
    const r = await this.q(
      `INSERT INTO metalform_dhcp_authority AS t (scope, network, holder, expires_at)
       VALUES ($1, $2, $3, now() + $4 * interval '1 millisecond')
       ON CONFLICT (scope, network) DO UPDATE SET holder = EXCLUDED.holder, expires_at = EXCLUDED.expires_at
         WHERE t.holder = EXCLUDED.holder OR t.expires_at < now()
       RETURNING holder`,
      [this.scope, network, holder, leaseMs],
    );
    return r.length > 0;
  }

  async releaseAuthority(network: string, holder: string): Promise<void> {
    await this.q("DELETE FROM metalform_dhcp_authority WHERE scope = $1 AND network = $2 AND holder = $3", [this.scope, network, holder]);
  }

  /** Network → holder, for every lease not yet run out. */
  async authorities(): Promise<Map<string, string>> {
    const r = await this.q<{ network: string; holder: string }>("SELECT network, holder FROM metalform_dhcp_authority WHERE scope = $1 AND expires_at > now()", [this.scope]);
    return new Map(r.map((x) => [x.network, x.holder]));
  }

  async authority(network: string): Promise<{ holder: string; remainingMs: number } | undefined> {
    const r = await this.q<{ holder: string; remaining_ms: string }>(
      "SELECT holder, (extract(epoch FROM expires_at - now()) * 1000)::bigint AS remaining_ms FROM metalform_dhcp_authority WHERE scope = $1 AND network = $2",
      [this.scope, network],
    );
    return r[0] ? { holder: r[0].holder, remainingMs: Number(r[0].remaining_ms) } : undefined;
  }
}
