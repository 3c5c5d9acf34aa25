// Scale-out end to end: PostgreSQL and the apply on the head node, three
// provisioners (`metalform serve --role provisioner`) in namespaces of their own on
// the provisioning bridge, simulated nodes (udhcpc, curl, rsync) in theirs. Installs
// spread by load; the provisioner that is also the DHCP authority is killed in the
// middle of its installs: its nodes complete on the others, DHCP moves, the state
// says what happened; a second apply from another machine finds the lock held.
import { spawnSync, type ChildProcess } from "node:child_process";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { jsonEvents, sh, SimLab } from "../apply/sim-lab.js";
import { waitFor } from "../helpers/netns.js";
import { startPostgres, type PgServer } from "../state/pg-server.js";

const lab = new SimLab({ prefix: "mfint-p", nodes: 6, subnet: 84, portBase: 18087 });
let pg: PgServer;
let url: string;
const provisioners = new Map<string, { proc: ChildProcess; address: string; ns: string; log: string[] }>();
const FAILOVER_S = 6;

const sql = (q: string) => pg.psql(q).trim();

/** Waits for a condition, checking every 200 ms (each check may run psql or curl). */
const until = <T>(what: string, fn: () => T | undefined | false, timeoutMs = 60_000) => waitFor(what, fn, timeoutMs, 200);

/** The provisioners' recent output, for failure messages. */
function dump(): string {
  return [...provisioners].map(([n, p]) => `--- ${n}\n${p.log.join("").slice(-4000)}`).join("\n");
}

function startProvisioner(name: string, index: number, opts: { config?: string; extra?: string[] } = {}): void {
  const { ns, address } = lab.addHost(name, index);
  // The URL carries the password: through the environment, never on a command line.
  const proc = lab.spawnIn(
    ns,
    [
      "serve",
      "--role",
      "provisioner",
      "--config",
      opts.config ?? lab.cfgDir,
      "--name",
      name,
      "--address",
      address,
      "--bind-interface",
      "eth0",
      "--heartbeat",
      "1s",
      "--slots",
      "10",
      "--apply-timeout",
      "3s",
      "--json",
      "--log-level",
      "info",
      ...(opts.extra ?? []),
    ],
    { METALFORM_STATE_URL: url },
  );
  const log: string[] = [];
  proc.stdout!.on("data", (d) => log.push(String(d)));
  proc.stderr!.on("data", (d) => log.push(String(d)));
  provisioners.set(name, { proc, address, ns, log });
}

beforeAll(async () => {
  lab.setup();
  pg = await startPostgres({ netns: lab.head, listen: lab.address, allow: ["10.77.84.0/24"] });
  url = `${pg.url()}#sim`;
  ["p1", "p2", "p3"].forEach((n, i) => startProvisioner(n, i));
  await until(
    "three provisioners registered",
    () => {
      try {
        return sql("SELECT count(*) FROM metalform_provisioners WHERE now() - heartbeat_at < interval '3 s'") === "3";
      } catch {
        return false; // the tables are created by the first one
      }
    },
    90_000,
  ).catch((e: Error) => {
    throw new Error(`${e.message}\n${[...provisioners].map(([n, p]) => `--- ${n}\n${p.log.join("").slice(-3000)}`).join("\n")}`);
  });
}, 150_000);

afterAll(() => {
  for (const p of provisioners.values()) p.proc.kill("SIGKILL");
  try {
    pg?.stop();
  } finally {
    lab.cleanup();
  }
});

describe("provisioners sharing installs", () => {
  let victim = "";
  let events: ReturnType<typeof jsonEvents> = [];

  it("spreads installs by load, and moves the installs of a provisioner that dies (the DHCP authority) to the others", async () => {
    victim = await until("a DHCP authority", () => {
      const h = sql("SELECT holder FROM metalform_dhcp_authority WHERE expires_at > now()");
      return h || undefined;
    });
    const v = provisioners.get(victim)!;
    const behaviour = Object.fromEntries(lab.names.map((n) => [n, `hang-if=${v.address}`]));
    const run = lab.metalform(
      ["apply", "--config", lab.cfgDir, "--auto-approve", "--json", "--parallelism", "6", "--provisioners", "required", "--failover-timeout", `${FAILOVER_S}s`, "--retries", "0"],
      { behaviour, env: { METALFORM_STATE_URL: url } },
    );
    // The victim's nodes are in their sync (hanging there) when it dies.
    const assigned = (stdout: string, to: string) =>
      jsonEvents(stdout)
        .filter((e) => e.type === "node_message" && String(e.message) === `assigned to provisioner ${to}`)
        .map((e) => String(e.node));
    const victimNodes = await until(
      "the victim's nodes in their sync",
      () => {
        const mine = assigned(run.stdout, victim);
        const syncing = new Set(
          jsonEvents(run.stdout)
            .filter((e) => e.type === "node_phase" && e.phase === "sync")
            .map((e) => String(e.node)),
        );
        return mine.length === 2 && mine.every((n) => syncing.has(n)) ? mine : undefined;
      },
      120_000,
    ).catch((e: Error) => {
      throw new Error(`${e.message}\n--- apply\n${run.stderr.slice(-3000)}\n${run.stdout.slice(-3000)}\n${dump()}`);
    });
    const killedAt = Date.now();
    v.proc.kill("SIGKILL");
    const r = await run.done;
    events = jsonEvents(r.stdout);
    expect(r.code, `${r.stderr}\n${r.stdout.slice(-3000)}\n${dump()}`).toBe(0);

    // Spread by load: two nodes each at first.
    const first = new Map<string, string>();
    for (const e of events)
      if (e.type === "node_message" && /^assigned to provisioner /.test(String(e.message)) && !first.has(String(e.node))) first.set(String(e.node), String(e.message).slice(24));
    const counts = [...first.values()].reduce((m, p) => m.set(p, (m.get(p) ?? 0) + 1), new Map<string, number>());
    expect(Object.fromEntries(counts)).toEqual({ p1: 2, p2: 2, p3: 2 });

    // The victim's nodes, and only they, moved; to live provisioners; within the failover time.
    const moved = events.filter((e) => e.type === "node_message" && /stopped heart-beating .* moved to provisioner/.test(String(e.message)));
    expect(moved.map((e) => String(e.node)).sort()).toEqual([...victimNodes].sort());
    const lag = moved.map((m) => Date.parse(String(m.time)) - killedAt);
    process.stdout.write(`failover: ${victim} killed; its installs moved after ${lag.map((x) => (x / 1000).toFixed(1)).join(", ")} s (timeout ${FAILOVER_S} s)\n`);
    for (const m of moved) {
      expect(String(m.message)).toContain(`provisioner ${victim} stopped heart-beating`);
      expect(String(m.message)).not.toMatch(new RegExp(`moved to provisioner ${victim}$`));
      const after = Date.parse(String(m.time)) - killedAt;
      // Dead after FAILOVER_S without a heartbeat; checked every second; then placed and acknowledged.
      expect(after).toBeLessThan((FAILOVER_S + 5) * 1000);
    }
    // Every node completed, the moved ones on their second boot.
    const complete = events
      .filter((e) => e.type === "node_complete")
      .map((e) => String(e.node))
      .sort();
    expect(complete).toEqual(lab.names);
    expect(events.filter((e) => e.type === "node_errored")).toEqual([]);
    for (const n of victimNodes) expect(r.asked.filter((x) => x === n)).toHaveLength(2);
    // DHCP moved: the restarted nodes got leases from the new authority.
    const holder = sql("SELECT holder FROM metalform_dhcp_authority WHERE expires_at > now()");
    expect(holder).not.toBe(victim);
    expect(["p1", "p2", "p3"]).toContain(holder);

    // The state: all six installed with the image digest; nothing left in the queue.
    const doc = JSON.parse(sql("SELECT document FROM metalform_state_versions WHERE name = 'sim' ORDER BY serial DESC LIMIT 1")) as {
      nodes: Record<string, { reported?: { phase?: string; imageDigest?: string } }>;
    };
    const digest = String(events.find((e) => e.type === "node_complete")?.image_digest);
    expect(digest).toMatch(/^sha256:/);
    for (const n of lab.names) expect(doc.nodes[n]?.reported).toMatchObject({ phase: "up", imageDigest: digest });
    expect(sql("SELECT count(*) FROM metalform_assignments")).toBe("0");

    // What an administrator sees.
    const list = await lab.metalform(["provisioners", "list", "--json", "--failover-timeout", `${FAILOVER_S}s`], { env: { METALFORM_STATE_URL: url } }).done;
    expect(list.code, list.stderr).toBe(0);
    const rows = (JSON.parse(list.stdout) as { provisioners: Array<{ name: string; live: boolean; dhcpAuthority: string[]; installing: number; images: Record<string, string> }> })
      .provisioners;
    expect(rows.map((x) => [x.name, x.live])).toEqual(["p1", "p2", "p3"].map((n) => [n, n !== victim]));
    expect(rows.find((x) => x.name === holder)!.dhcpAuthority).toEqual(["10.77.84.0/24"]);
    for (const x of rows) expect(x.installing).toBe(0);
    for (const x of rows.filter((y) => y.live)) expect(x.images).toEqual({ sim: digest });
    const table = await lab.metalform(["provisioners", "list", "--failover-timeout", `${FAILOVER_S}s`], { env: { METALFORM_STATE_URL: url } }).done;
    expect(table.stdout).toMatch(new RegExp(`^${victim} +10\\.77\\.84\\.\\d +dead `, "m"));
    expect(table.stdout).toMatch(new RegExp(`^${holder} .* live .*10\\.77\\.84\\.0/24`, "m"));
    // A live provisioner cannot be forgotten; the dead one can.
    const env = { METALFORM_STATE_URL: url };
    const refused = await lab.metalform(["provisioners", "rm", victim, holder, "--failover-timeout", `${FAILOVER_S}s`], { env }).done;
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain(`nothing removed: ${holder} is alive`);
    const rm = await lab.metalform(["provisioners", "rm", victim, "--failover-timeout", `${FAILOVER_S}s`], { env }).done;
    expect(rm.code, rm.stderr).toBe(0);
    expect(sql(`SELECT count(*) FROM metalform_provisioners WHERE name = '${victim}'`)).toBe("0");
  }, 300_000);

  it("a second apply from another machine finds the lock held; the first completes (two provisioners left)", async () => {
    lab.bumpImage(2);
    const survivors = [...provisioners.keys()].filter((n) => n !== victim);
    const first = lab.metalform(
      ["apply", "--config", lab.cfgDir, "--auto-approve", "--json", "--parallelism", "6", "--provisioners", "required", "--failover-timeout", `${FAILOVER_S}s`],
      {
        env: { METALFORM_STATE_URL: url },
      },
    );
    await until("the first apply running", () => jsonEvents(first.stdout).some((e) => e.type === "apply_start"), 120_000);
    const other = provisioners.get(survivors[0]!)!;
    const second = await lab.metalform(["apply", "--config", lab.cfgDir, "--auto-approve", "--json", "--lock-timeout", "0"], { ns: other.ns, env: { METALFORM_STATE_URL: url } })
      .done;
    expect(second.code).toBe(1);
    expect(second.stderr).toMatch(/lock/i);
    expect(second.stderr).toContain("apply");
    expect(second.asked).toEqual([]);
    // Nothing anyone printed or logged carries the database password.
    for (const text of [second.stdout, second.stderr, ...[...provisioners.values()].map((p) => p.log.join(""))]) expect(text).not.toContain(pg.password);
    const r = await first.done;
    expect(r.code, `${r.stderr}\n${r.stdout.slice(-3000)}\n${dump()}`).toBe(0);
    expect(r.stdout + r.stderr).not.toContain(pg.password);
    const ev = jsonEvents(r.stdout);
    expect(
      ev
        .filter((e) => e.type === "node_complete")
        .map((e) => String(e.node))
        .sort(),
    ).toEqual(lab.names);
    const used = new Set(ev.filter((e) => e.type === "node_message" && /^assigned to provisioner /.test(String(e.message))).map((e) => String(e.message).slice(24)));
    expect([...used].sort()).toEqual(survivors.sort());
  }, 300_000);

  it("a provisioner running another configuration refuses its installs; they go to the others", async () => {
    // p4's checkout differs (one comment): same image, another configuration digest.
    const cfg4 = join(lab.dir, "cfg4");
    mkdirSync(cfg4);
    writeFileSync(join(cfg4, "cluster.yaml"), readFileSync(join(lab.cfgDir, "cluster.yaml"), "utf8") + "# not yet pulled\n");
    startProvisioner("p4", 3, { config: cfg4, extra: ["--no-dhcp"] });
    await until("p4 registered", () => sql("SELECT count(*) FROM metalform_provisioners WHERE name = 'p4' AND now() - heartbeat_at < interval '3 s'") === "1", 60_000);
    lab.bumpImage(3);
    // p1..p3's killed one is dead after the failover timeout: nobody waits for its copy.
    const r = await lab.metalform(
      ["apply", "--config", lab.cfgDir, "--auto-approve", "--json", "--parallelism", "6", "--provisioners", "required", "--failover-timeout", `${FAILOVER_S}s`],
      {
        env: { METALFORM_STATE_URL: url },
      },
    ).done;
    expect(r.code, `${r.stderr}\n${r.stdout.slice(-3000)}\n${dump()}`).toBe(0);
    const ev = jsonEvents(r.stdout);
    const refused = ev.filter((e) => e.type === "node_message" && /^provisioner p4 refused it: provisioner p4 runs configuration sha256:/.test(String(e.message)));
    expect(refused.length).toBeGreaterThan(0);
    // Where each node ended up: never p4.
    const last = new Map<string, string>();
    for (const e of ev) if (e.type === "node_message" && /^assigned to provisioner /.test(String(e.message))) last.set(String(e.node), String(e.message).slice(24));
    expect(last.size).toBe(6);
    expect([...last.values()]).not.toContain("p4");
    for (const n of refused.map((e) => String(e.node))) expect(last.get(n)).not.toBe("p4");
    expect(
      ev
        .filter((e) => e.type === "node_complete")
        .map((e) => String(e.node))
        .sort(),
    ).toEqual(lab.names);
    expect(provisioners.get("p4")!.log.join("")).toContain("assignment-rejected");
  }, 300_000);

  it("an apply that dies leaves no node installing: its provisioners send its nodes back to local boot", async () => {
    lab.bumpImage(4);
    const behaviour = Object.fromEntries(lab.names.map((n) => [n, "hang-sync"]));
    const run = lab.metalform(
      ["apply", "--config", lab.cfgDir, "--auto-approve", "--json", "--parallelism", "6", "--provisioners", "required", "--failover-timeout", `${FAILOVER_S}s`],
      {
        behaviour,
        env: { METALFORM_STATE_URL: url },
      },
    );
    const assignedTo = new Map<string, string>();
    await until(
      "every node in its sync",
      () => {
        const ev = jsonEvents(run.stdout);
        for (const e of ev) if (e.type === "node_message" && /^assigned to provisioner /.test(String(e.message))) assignedTo.set(String(e.node), String(e.message).slice(24));
        const syncing = new Set(ev.filter((e) => e.type === "node_phase" && e.phase === "sync").map((e) => String(e.node)));
        return lab.names.every((n) => syncing.has(n));
      },
      120_000,
    );
    const script = (node: string) => {
      const p = provisioners.get(assignedTo.get(node)!)!;
      return sh("ip", ["netns", "exec", lab.head, "curl", "-sS", "--max-time", "5", `http://${p.address}:${lab.httpPort}/boot/${lab.mac(node)}.ipxe`]);
    };
    // While the apply runs, a node that reboots gets the installer again.
    expect(script("n01")).toMatch(/run the installer[\s\S]*mf\.api=/);
    run.proc.kill("SIGKILL");
    await run.killNodes();
    const killedAt = Date.now();
    await until("every node back to local boot", () => lab.names.every((n) => !script(n).includes("mf.api=")), 30_000);
    const after = Date.now() - killedAt;
    expect(after).toBeLessThan(3000 + 4000);
    // The node's normal boot (the sim's nodes boot their installed root with the image's kernel).
    expect(script("n01")).toMatch(/# metalform: n01 .*boot the (installed system|local disk)/);
  }, 300_000);

  it("a node removed from the configuration: the provisioners follow the apply's configuration (no script, no lease)", async () => {
    const keep = lab.names.filter((n) => n !== "n06");
    const authority = provisioners.get(sql("SELECT holder FROM metalform_dhcp_authority WHERE expires_at > now()"))!;
    const scriptStatus = () =>
      sh("ip", [
        "netns",
        "exec",
        lab.head,
        "curl",
        "-s",
        "-o",
        "/dev/null",
        "-w",
        "%{http_code}",
        "--max-time",
        "5",
        `http://${authority.address}:${lab.httpPort}/boot/${lab.mac("n06")}.ipxe`,
      ]);
    expect(scriptStatus()).toBe("200");
    lab.writeConfig(keep);
    const r = await lab.metalform(["apply", "--config", lab.cfgDir, "--auto-approve", "--json", "--provisioners", "required", "--failover-timeout", `${FAILOVER_S}s`], {
      env: { METALFORM_STATE_URL: url },
    }).done;
    expect(r.code, `${r.stderr}\n${r.stdout.slice(-3000)}\n${dump()}`).toBe(0);
    // n06 goes; the others finish the sync the killed apply left undone.
    const done = jsonEvents(r.stdout).filter((e) => e.type === "node_complete");
    expect(done.filter((e) => e.change === "remove").map((e) => e.node)).toEqual(["n06"]);
    expect(
      done
        .filter((e) => e.change === "sync")
        .map((e) => String(e.node))
        .sort(),
    ).toEqual(keep);
    // The apply published its configuration; the DHCP authority re-read its checkout.
    await until("n06 gone from the DHCP authority", () => scriptStatus() === "404", 15_000);
    const dhcp = spawnSync("ip", ["netns", "exec", lab.nodeNs("n06"), "udhcpc", "-i", "eth0", "-n", "-q", "-t", "2", "-T", "1", "-s", "/bin/true"], { encoding: "utf8" });
    expect(dhcp.status).not.toBe(0);
    expect(authority.log.join("")).toContain("configuration-reloaded");
  }, 300_000);

  it("a provisioner that cannot copy an image says why; the apply goes on without it", async () => {
    // p5's checkout describes the image with another initrd: its copy never has the applied digest.
    const cfg5 = join(lab.dir, "cfg5");
    mkdirSync(cfg5);
    writeFileSync(join(cfg5, "cluster.yaml"), readFileSync(join(lab.cfgDir, "cluster.yaml"), "utf8").replace("initrd: ../image/boot/initrd.img", "initrd: ../image/boot/vmlinuz"));
    startProvisioner("p5", 4, { config: cfg5, extra: ["--no-dhcp"] });
    await until("p5 registered", () => sql("SELECT count(*) FROM metalform_provisioners WHERE name = 'p5' AND now() - heartbeat_at < interval '3 s'") === "1", 60_000);
    lab.bumpImage(5);
    const r = await lab.metalform(["apply", "--config", lab.cfgDir, "--auto-approve", "--json", "--provisioners", "required", "--failover-timeout", `${FAILOVER_S}s`], {
      env: { METALFORM_STATE_URL: url },
    }).done;
    expect(r.code, `${r.stderr}\n${r.stdout.slice(-3000)}\n${dump()}`).toBe(0);
    expect(r.stderr).toMatch(/Going on without p5 \(sim: the copy of image sim from rsync:\/\/\S+ has digest sha256:\w+, not sha256:\w+/);
    const ev = jsonEvents(r.stdout);
    const to = ev.filter((e) => e.type === "node_message" && /^assigned to provisioner /.test(String(e.message))).map((e) => String(e.message).slice(24));
    expect(to.length).toBe(5);
    expect(to).not.toContain("p5");
    expect(ev.filter((e) => e.type === "node_complete")).toHaveLength(5);
  }, 300_000);
});
