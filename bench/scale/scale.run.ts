// bench/scale: N simulated nodes (udhcpc, curl, rsync in namespaces of their own)
// installed through 1, 2 and 3 provisioners whose outgoing bandwidth is capped with
// tc, each run on a fresh state; prints the time to provision them beside the ideal
// 1/k. No assertion on time: the numbers are the output. Start with bench/scale/run.sh.
import type { ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, it } from "vitest";
import { jsonEvents, sh, SimLab } from "../../test/apply/sim-lab.js";
import { waitFor } from "../../test/helpers/netns.js";
import { startPostgres, type PgServer } from "../../test/state/pg-server.js";

const NODES = Number(process.env.NODES ?? 12);
const IMAGE_MIB = Number(process.env.IMAGE_MIB ?? 24);
const RATE = process.env.RATE ?? "80mbit";
const KS = (process.env.KS ?? "1 2 3").split(/\s+/).filter(Boolean).map(Number);
const MAXK = Math.max(...KS);

const lab = new SimLab({ prefix: "mfbench-sc", nodes: NODES, subnet: 90, portBase: 18190 });
let pg: PgServer;
const hosts: Array<{ ns: string; address: string }> = [];

beforeAll(async () => {
  lab.setup();
  // Incompressible data, so the cap is what limits the copy.
  writeFileSync(join(lab.imageDir, "usr/share/data/big.bin"), randomBytes(IMAGE_MIB << 20));
  pg = await startPostgres({ netns: lab.head, listen: lab.address, allow: ["10.77.90.0/24"] });
  for (let i = 0; i < MAXK; i++) {
    const h = lab.addHost(`p${i + 1}`, i);
    sh("ip", ["netns", "exec", h.ns, "tc", "qdisc", "add", "dev", "eth0", "root", "tbf", "rate", RATE, "burst", "256kb", "latency", "400ms"]);
    hosts.push(h);
  }
}, 600_000);

afterAll(() => {
  try {
    pg?.stop();
  } finally {
    lab.cleanup();
  }
});

function stop(p: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (p.exitCode !== null || p.signalCode !== null) return resolve();
    const t = setTimeout(() => p.kill("SIGKILL"), 15_000);
    p.once("close", () => {
      clearTimeout(t);
      resolve();
    });
    p.kill("SIGTERM");
  });
}

it(`provisions ${NODES} nodes (${IMAGE_MIB} MiB image) through k provisioners capped at ${RATE} each`, async () => {
  const rows: Array<{ k: number; wall: number; install: number; ok: number; perProvisioner: string }> = [];
  for (const k of KS) {
    const url = `${pg.url()}#scale-${k}-${Date.now()}`;
    const env = { METALFORM_STATE_URL: url };
    const procs = hosts
      .slice(0, k)
      .map((h, i) =>
        lab.spawnIn(
          h.ns,
          [
            "serve",
            "--role",
            "provisioner",
            "--config",
            lab.cfgDir,
            "--name",
            `p${i + 1}`,
            "--address",
            h.address,
            "--bind-interface",
            "eth0",
            "--heartbeat",
            "1s",
            "--slots",
            String(NODES),
            "--log-level",
            "warn",
          ],
          env,
        ),
      );
    const scope = url.slice(url.indexOf("#") + 1);
    await waitFor(
      `${k} provisioners`,
      () => {
        try {
          return pg.psql(`SELECT count(*) FROM metalform_provisioners WHERE scope = '${scope}' AND now() - heartbeat_at < interval '3 s'`).trim() === String(k);
        } catch {
          return false;
        }
      },
      120_000,
      200,
    );
    // Every node starts with empty disks (the simulated node keeps its root in its work directory).
    for (const n of lab.names) rmSync(join(lab.dir, `work-${n}`), { recursive: true, force: true });
    const t0 = Date.now();
    const r = await lab.metalform(["apply", "--config", lab.cfgDir, "--auto-approve", "--json", "--parallelism", String(NODES), "--provisioners", "required"], { env }).done;
    const wall = (Date.now() - t0) / 1000;
    const ev = jsonEvents(r.stdout);
    const start = Date.parse(String(ev.find((e) => e.type === "apply_start")?.time));
    const ends = ev.filter((e) => e.type === "node_complete").map((e) => Date.parse(String(e.time)));
    const per = new Map<string, number>();
    for (const e of ev)
      if (e.type === "node_message" && /^assigned to provisioner /.test(String(e.message))) per.set(String(e.message).slice(24), (per.get(String(e.message).slice(24)) ?? 0) + 1);
    rows.push({
      k,
      wall,
      install: ends.length ? (Math.max(...ends) - start) / 1000 : NaN,
      ok: ends.length,
      perProvisioner: [...per]
        .sort()
        .map(([p, n]) => `${p}:${n}`)
        .join(" "),
    });
    const errors = ev.filter((e) => e.type === "node_errored");
    if (errors.length)
      process.stderr.write(
        `k=${k}: ${errors.length} node errors, e.g. ${errors
          .slice(0, 3)
          .map((e) => `${String(e.node)}: ${String(e.error)}`)
          .join(" | ")}\n`,
      );
    if (r.code !== 0) process.stderr.write(`apply with ${k} provisioner(s) exited ${r.code}\n${r.stderr.slice(-3000)}\n`);
    await Promise.all(procs.map(stop));
  }
  const base = rows.find((x) => x.k === 1) ?? rows[0]!;
  const lines = [
    `bench/scale: ${NODES} simulated nodes, ${IMAGE_MIB} MiB image + installer over HTTP, each provisioner capped at ${RATE} (tc tbf)`,
    "k  nodes UP  install s  apply wall s  speed-up  ideal  installs per provisioner",
    ...rows.map(
      (x) =>
        `${String(x.k).padEnd(3)}${`${x.ok}/${NODES}`.padEnd(10)}${x.install.toFixed(1).padStart(9)}  ${x.wall.toFixed(1).padStart(12)}  ${(base.install / x.install).toFixed(2).padStart(7)}x  ${(x.k / base.k).toFixed(2)}x  ${x.perProvisioner}`,
    ),
  ];
  process.stdout.write("\n" + lines.join("\n") + "\n");
});
