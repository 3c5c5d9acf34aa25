// A throwaway PostgreSQL for tests: initdb into a temporary directory as the
// `postgres` OS user (the server refuses to run as root), listening on loopback
// only, on a free port, with a password for TCP logins. Stopped and removed by stop().
import { execFileSync, spawnSync } from "node:child_process";
import { appendFileSync, chownSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { processAlive } from "../helpers/process.js";
import { freePort } from "../helpers/ports.js";

export interface PgServer {
  /** A directory removed with the server (tests may keep their files here). */
  dir: string;
  port: number;
  password: string;
  /** postgres://postgres:PASSWORD@127.0.0.1:PORT/DB */
  url(db?: string): string;
  /** Runs SQL through psql over the local socket (as the postgres user). */
  psql(sql: string, db?: string): string;
  stop(): void;
}

function pgBinDir(): string {
  const base = "/usr/lib/postgresql";
  const versions = existsSync(base)
    ? readdirSync(base)
        .filter((v) => existsSync(join(base, v, "bin", "initdb")))
        .sort((a, b) => Number(b) - Number(a))
    : [];
  if (!versions.length) {
    throw new Error("PostgreSQL server binaries not found under /usr/lib/postgresql/*/bin: install the Debian package `postgresql` (apt-get install -y postgresql)");
  }
  return join(base, versions[0]!, "bin");
}

const asPostgres = (cmd: string, args: string[]) => {
  const r = spawnSync("runuser", ["-u", "postgres", "--", cmd, ...args], { encoding: "utf8" });
  if (r.status !== 0) throw new Error(`${cmd} failed (${r.status}): ${r.stderr || r.stdout}`);
  return r.stdout;
};

/** Stops and removes servers left by earlier test runs that were killed before their afterAll. */
function cleanupStale(bin: string): void {
  for (const name of readdirSync(tmpdir()).filter((n) => n.startsWith("mfpg-srv-"))) {
    const dir = join(tmpdir(), name);
    let owner: number;
    try {
      owner = Number(readFileSync(join(dir, "owner.pid"), "utf8"));
    } catch {
      continue; // not ours, or still being set up
    }
    if (!owner || processAlive(owner)) continue;
    if (existsSync(join(dir, "data", "postmaster.pid")))
      spawnSync("runuser", ["-u", "postgres", "--", join(bin, "pg_ctl"), "-D", join(dir, "data"), "-m", "immediate", "-w", "stop"]);
    rmSync(dir, { recursive: true, force: true });
  }
}

export interface PgServerOptions {
  /** Run the server inside this network namespace (the tests' own), listening on `listen`. */
  netns?: string;
  /** Address to listen on (default 127.0.0.1). */
  listen?: string;
  /** Port (default: a free one on loopback; 5432 inside a namespace of its own). */
  port?: number;
  /** Networks (CIDR) allowed to log in with the password, besides loopback. */
  allow?: string[];
}

export async function startPostgres(opts: PgServerOptions = {}): Promise<PgServer> {
  const bin = pgBinDir();
  cleanupStale(bin);
  const dir = mkdtempSync(join(tmpdir(), "mfpg-srv-"));
  writeFileSync(join(dir, "owner.pid"), String(process.pid));
  const data = join(dir, "data");
  const sock = join(dir, "sock");
  const password = `pw-${Math.random().toString(36).slice(2)}-s3cr3t`;
  mkdirSync(sock);
  writeFileSync(join(dir, "pwfile"), password + "\n");
  const uid = Number(execFileSync("id", ["-u", "postgres"]).toString().trim());
  const gid = Number(execFileSync("id", ["-g", "postgres"]).toString().trim());
  for (const p of [dir, sock, join(dir, "pwfile")]) chownSync(p, uid, gid);
  asPostgres(join(bin, "initdb"), [
    "-D",
    data,
    "-U",
    "postgres",
    "--pwfile",
    join(dir, "pwfile"),
    "--auth-local=trust",
    "--auth-host=scram-sha-256",
    "-N",
    "-E",
    "UTF8",
    "--locale=C",
  ]);
  for (const cidr of opts.allow ?? []) appendFileSync(join(data, "pg_hba.conf"), `host all all ${cidr} scram-sha-256\n`);
  const port = opts.port ?? (opts.netns ? 5432 : await freePort());
  const listen = opts.listen ?? "127.0.0.1";
  const start = (cmd: string, args: string[]) => {
    if (!opts.netns) return asPostgres(cmd, args);
    const r = spawnSync("ip", ["netns", "exec", opts.netns, "runuser", "-u", "postgres", "--", cmd, ...args], { encoding: "utf8" });
    if (r.status !== 0) throw new Error(`${cmd} failed (${r.status}): ${r.stderr || r.stdout}`);
    return r.stdout;
  };
  start(join(bin, "pg_ctl"), [
    "-D",
    data,
    "-l",
    join(dir, "log"),
    "-w",
    "-t",
    "30",
    "-o",
    `-k ${sock} -c listen_addresses=${listen} -p ${port} -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c shared_buffers=16MB -c max_connections=${opts.netns ? 100 : 40}`,
    "start",
  ]);
  let stopped = false;
  return {
    dir,
    port,
    password,
    url: (db = "postgres") => `postgres://postgres:${encodeURIComponent(password)}@${listen}:${port}/${db}`,
    psql: (sql, db = "postgres") => asPostgres(join(bin, "psql"), ["-h", sock, "-p", String(port), "-U", "postgres", "-d", db, "-v", "ON_ERROR_STOP=1", "-XAtq", "-c", sql]),
    stop: () => {
      if (stopped) return;
      stopped = true;
      try {
        asPostgres(join(bin, "pg_ctl"), ["-D", data, "-m", "immediate", "-w", "stop"]);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
  };
}
