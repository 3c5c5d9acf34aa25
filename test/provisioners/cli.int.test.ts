// `serve --role provisioner` and apply's provisioner flags refuse bad input clearly,
// with exit 1, and change nothing.
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ProvisioningDb } from "../../src/provisioners/db.js";
import { parsePgUrl } from "../../src/state/pgurl.js";
import { startPostgres, type PgServer } from "../state/pg-server.js";

const root = new URL("../../", import.meta.url).pathname;
let dir: string;

function mf(args: string[], env: Record<string, string | undefined> = {}) {
  const e: Record<string, string | undefined> = { ...process.env, NO_COLOR: "1", METALFORM_STATE_URL: undefined, ...env };
  for (const k of Object.keys(e)) if (e[k] === undefined) delete e[k];
  const r = spawnSync(process.execPath, [join(root, "bin/metalform"), ...args], { encoding: "utf8", timeout: 30_000, env: e });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

beforeAll(() => {
  if (!existsSync(join(root, "dist/cli/main.js"))) throw new Error("dist/ is not built: run `npm run build`");
  dir = mkdtempSync(join(tmpdir(), "mfprov-cli-"));
  mkdirSync(join(dir, "image/boot"), { recursive: true });
  writeFileSync(join(dir, "image/boot/vmlinuz"), "k");
  writeFileSync(
    join(dir, "cluster.yaml"),
    `cluster: { name: c }
network: { interface: eth1, address: 10.9.0.1/24 }
images: { base: { root: ./image, kernel: ./image/boot/vmlinuz } }
diskLayouts:
  one: { disks: [ { name: vda, match: { device: /dev/vda }, partitions: [ { size: rest, fs: ext4, mount: / } ] } ] }
categories: { c: { image: base, diskLayout: one } }
nodes: [ { name: n1, category: c, mac: "52:54:00:00:00:01", ip: 10.9.0.11 } ]
`,
  );
});

afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("serve --role provisioner", () => {
  let base: string[] = [];
  beforeAll(() => {
    base = ["serve", "--role", "provisioner", "-c", dir];
  });

  it("needs its address on the provisioning network", () => {
    const r = mf(base);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("--address: the provisioner's address on the provisioning network is needed");
  });

  it("needs the state in PostgreSQL (it shares it with the head node)", () => {
    const r = mf([...base, "--address", "10.9.0.2"]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/a provisioner shares the state with the head node in PostgreSQL: give --state postgres:\/\//);
    expect(existsSync(join(dir, ".metalform/state.json"))).toBe(false);
  });

  it("refuses a bad name, slot count or heartbeat", () => {
    expect(mf([...base, "--address", "10.9.0.2", "--name", "two words"]).stderr).toMatch(/--name "two words": letters, digits/);
    expect(mf([...base, "--address", "10.9.0.2", "--name", "p1", "--slots", "0"]).stderr).toContain("--slots 0: a whole number of at least 1");
    const hb = mf([...base, "--address", "10.9.0.2", "--heartbeat", "soon"]);
    expect(hb.code).toBe(1);
    expect(hb.stderr).toContain("--heartbeat soon: expected a duration such as 5s");
  });

  it("documents the role and its flags in --help", () => {
    const r = mf(["serve", "--help"]);
    expect(r.code).toBe(0);
    for (const f of ["--role", "--slots", "--affinity-category", "--affinity-nodes", "--heartbeat", "--no-dhcp"]) expect(r.stdout).toContain(f);
  });
});

describe("apply with provisioners", () => {
  it("--provisioners required refuses a local state, before touching it", () => {
    const r = mf(["apply", "-c", dir, "--auto-approve", "--provisioners", "required"]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("--provisioners required needs the state in PostgreSQL");
    expect(existsSync(join(dir, ".metalform/state.json"))).toBe(false);
  });

  it("refuses a malformed --failover-timeout", () => {
    const r = mf(["apply", "-c", dir, "--auto-approve", "--failover-timeout", "never"]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("--failover-timeout never: expected a duration such as 60s or 2m");
  });
});

describe("serve (the head's) beside provisioners", () => {
  let pg: PgServer;
  beforeAll(async () => {
    pg = await startPostgres();
  }, 60_000);
  afterAll(() => pg?.stop());

  it("creates no provisioning tables when there are none (a read-only user may run it)", () => {
    const r = mf(["serve", "-c", dir], { METALFORM_STATE_URL: `${pg.url()}#c` });
    expect(r.code).toBe(1); // eth1 is not on this machine
    expect(r.stderr).not.toContain("provisioners are registered");
    expect(pg.psql("SELECT coalesce(to_regclass('metalform_provisioners')::text, 'none')").trim()).toBe("none");
  });

  it("refuses to run a second DHCP server while provisioners of the state are alive", async () => {
    const t = parsePgUrl(pg.url(), "c");
    const db = new ProvisioningDb({ ...t, location: t.redacted }, "test");
    try {
      await db.register({
        name: "p1",
        address: "10.9.0.2",
        httpUrl: "http://10.9.0.2",
        rsyncUrl: "rsync://10.9.0.2:873",
        slots: 10,
        categories: [],
        nodePatterns: [],
        images: {},
        configDigest: "",
        host: "h",
        pid: 1,
      });
    } finally {
      await db.close();
    }
    const r = mf(["serve", "-c", dir], { METALFORM_STATE_URL: `${pg.url()}#c` });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("provisioners are registered for this state (p1): they answer DHCP and serve the installs");
    expect(r.stderr).not.toContain(pg.password);
    // Another state in the same database is not concerned.
    expect(mf(["serve", "-c", dir], { METALFORM_STATE_URL: `${pg.url()}#other` }).stderr).not.toContain("provisioners are registered");
  });
});
