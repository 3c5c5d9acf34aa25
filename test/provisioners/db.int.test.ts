// The provisioning tables against a real PostgreSQL on loopback: registrations and
// heartbeats by the database's clock, the DHCP authority lease, the assignment
// queue with generations and acknowledgements, observations per apply.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ProvisioningDb, type ProvisionerRegistration } from "../../src/provisioners/db.js";
import { parsePgUrl } from "../../src/state/pgurl.js";
import { sleep } from "../helpers/wait.js";
import { startPostgres, type PgServer } from "../state/pg-server.js";

let pg: PgServer;
const dbs: ProvisioningDb[] = [];
const open = (scope: string, url = pg.url()) => {
  const t = parsePgUrl(url, scope);
  const db = new ProvisioningDb({ ...t, location: t.redacted }, "metalform-test", { connectTimeoutMs: 3000 });
  dbs.push(db);
  return db;
};
const reg = (name: string, over: Partial<ProvisionerRegistration> = {}): ProvisionerRegistration => ({
  name,
  address: "10.0.0.2",
  httpUrl: "http://10.0.0.2:8080",
  rsyncUrl: "rsync://10.0.0.2:873",
  slots: 10,
  categories: [],
  nodePatterns: [],
  images: {},
  configDigest: "sha256:c",
  host: "h",
  pid: 1,
  ...over,
});

beforeAll(async () => {
  pg = await startPostgres();
}, 60_000);

afterAll(async () => {
  for (const d of dbs) await d.close();
  pg?.stop();
});

describe("ProvisioningDb", () => {
  it("registers, heart-beats by the database's clock, and tells when the row is gone", async () => {
    const db = open("reg");
    await db.register(reg("p1", { images: { base: "sha256:1" } }));
    await sleep(300);
    let [p] = await db.provisioners();
    expect(p).toMatchObject({ name: "p1", slots: 10, images: { base: "sha256:1" } });
    expect(p!.ageMs).toBeGreaterThanOrEqual(250);
    expect(await db.heartbeat("p1", { base: "sha256:2" }, "sha256:d")).toBe(true);
    [p] = await db.provisioners();
    expect(p!.ageMs).toBeLessThan(200);
    expect(p).toMatchObject({ images: { base: "sha256:2" }, configDigest: "sha256:d" });
    await db.deregister("p1");
    expect(await db.heartbeat("p1", {}, "")).toBe(false);
    // Scopes (state names) do not see each other.
    await open("other").register(reg("p9"));
    expect(await db.provisioners()).toEqual([]);
  });

  it("grants the DHCP authority to one holder until its lease runs out", async () => {
    const db = open("dhcp");
    expect(await db.claimAuthority("10.1.0.0/24", "p1", 400)).toBe(true);
    expect(await db.claimAuthority("10.1.0.0/24", "p2", 400)).toBe(false);
    expect(await db.claimAuthority("10.1.0.0/24", "p1", 400)).toBe(true); // renewal
    expect(await db.claimAuthority("10.2.0.0/24", "p2", 400)).toBe(true); // another network
    await sleep(600);
    expect(await db.claimAuthority("10.1.0.0/24", "p2", 5000)).toBe(true);
    expect(await db.claimAuthority("10.1.0.0/24", "p1", 400)).toBe(false);
    expect(await db.authority("10.1.0.0/24")).toMatchObject({ holder: "p2" });
    await db.releaseAuthority("10.1.0.0/24", "p1"); // not the holder: no effect
    expect((await db.authority("10.1.0.0/24"))?.holder).toBe("p2");
    await db.releaseAuthority("10.1.0.0/24", "p2");
    expect(await db.authority("10.1.0.0/24")).toBeUndefined();
  });

  it("keeps one assignment per node with a generation; acknowledgement needs the assignee and the DHCP authority", async () => {
    const db = open("queue");
    await db.register(reg("p1"));
    await db.register(reg("p2"));
    const a = { node: "n1", applyId: "A", provisioner: "p1", image: "base", digest: "sha256:x", configDigest: "sha256:c", reason: "install", allowWipe: false };
    expect(await db.assign(a)).toBe(1);
    expect(await db.assignmentSeen("n1", 1)).toEqual({ seen: false });
    // The assignee acts on a snapshot taken after the assignment.
    const snap = await db.assignmentsSnapshot();
    expect(snap.rows.map((r) => [r.node, r.provisioner, r.generation])).toEqual([["n1", "p1", 1]]);
    await db.markSeen("p1", snap.at);
    expect(await db.assignmentSeen("n1", 1)).toEqual({ seen: true });
    // With a DHCP authority (p2), it must have seen it too.
    expect(await db.claimAuthority("net", "p2", 10_000)).toBe(true);
    expect(await db.assign({ ...a, provisioner: "p1" })).toBe(2);
    await db.markSeen("p1", (await db.assignmentsSnapshot()).at);
    expect(await db.assignmentSeen("n1", 2)).toEqual({ seen: false });
    await db.markSeen("p2", (await db.assignmentsSnapshot()).at);
    expect(await db.assignmentSeen("n1", 2)).toEqual({ seen: true });
    // An older generation is not this assignment.
    expect(await db.assignmentSeen("n1", 1)).toBeUndefined();
    // markSeen never goes back in time.
    await db.markSeen("p1", "2000-01-01 00:00:00+00");
    expect(await db.assignmentSeen("n1", 2)).toEqual({ seen: true });
    await db.reject("n1", 2, "no image");
    expect(await db.assignmentSeen("n1", 2)).toMatchObject({ rejected: "no image" });
    // Reassigning clears the refusal.
    expect(await db.assign({ ...a, provisioner: "p2" })).toBe(3);
    expect((await db.assignments())[0]).toMatchObject({ provisioner: "p2", generation: 3 });
    expect((await db.assignments())[0]!.rejected).toBeUndefined();
  });

  it("keeps observations per apply in order; an apply's leftovers go when another starts", async () => {
    const db = open("obs");
    await db.postObservations([
      { applyId: "A", node: "n1", generation: 1, provisioner: "p1", body: { phase: "dhcp" } },
      { applyId: "B", node: "n1", generation: 1, provisioner: "p1", body: { phase: "x" } },
      { applyId: "A", node: "n2", generation: 2, provisioner: "p2", body: { bytes: 5 } },
    ]);
    const rows = await db.observationsSince("A", 0);
    expect(rows.map((r) => [r.node, r.generation, r.body])).toEqual([
      ["n1", 1, { phase: "dhcp" }],
      ["n2", 2, { bytes: 5 }],
    ]);
    expect(await db.observationsSince("A", rows[0]!.id)).toHaveLength(1);
    await db.assign({ node: "n1", applyId: "B", provisioner: "p1", image: "i", digest: "d", configDigest: "c", reason: "r", allowWipe: false });
    await db.assign({ node: "n2", applyId: "A", provisioner: "p1", image: "i", digest: "d", configDigest: "c", reason: "r", allowWipe: false });
    expect(await db.releaseOthers("A")).toBe(1);
    expect((await db.assignments()).map((x) => x.node)).toEqual(["n2"]);
    expect(await db.observationsSince("B", 0)).toEqual([]);
    await db.releaseApply("A");
    expect(await db.assignments()).toEqual([]);
  });

  it("knows the running applies, their configuration and how long since they were heard of", async () => {
    const db = open("applies");
    await db.applyHeartbeat("A", "sha256:c1");
    await sleep(300);
    await db.applyHeartbeat("B", "sha256:c2");
    const a = await db.applies();
    expect(a.get("A")).toMatchObject({ configDigest: "sha256:c1" });
    expect(a.get("A")!.ageMs).toBeGreaterThanOrEqual(250);
    expect(a.get("B")!.ageMs).toBeLessThan(250);
    await db.endApply("A");
    expect([...(await db.applies()).keys()]).toEqual(["B"]);
  });

  it("refuses tables laid out by a newer metalform", async () => {
    const db = open("schema");
    await db.ensure();
    pg.psql("UPDATE metalform_schema SET version = 99, written_by = '9.9.9' WHERE component = 'provisioning'");
    try {
      await expect(open("schema2").provisioners()).rejects.toThrow(/laid out by metalform 9\.9\.9 \(version 99\).*Upgrade metalform/);
    } finally {
      pg.psql("UPDATE metalform_schema SET version = 1 WHERE component = 'provisioning'");
    }
  });

  it("never puts the password in an error", async () => {
    const bad = pg.url().replace(/:(\d+)\//, ":1/");
    const err = await open("x", bad)
      .provisioners()
      .then(
        () => undefined,
        (e: Error) => e,
      );
    expect(err?.message).toMatch(/provisioning database postgres:\/\/postgres:\*\*\*@127\.0\.0\.1:1\/postgres#x/);
    expect(err?.message).not.toContain(pg.password);
  });
});
