// The IPMI driver driving the real ipmitool against OpenIPMI's ipmi_sim on loopback.

import { execFile } from "node:child_process";
import dgram from "node:dgram";
import { readFileSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { powerAction, type PowerActionResult } from "../../src/power/action.js";
import { PowerError } from "../../src/power/driver.js";
import { createPowerDriver } from "../../src/power/factory.js";
import { IpmiDriver } from "../../src/power/ipmi.js";
import { waitFor } from "../helpers/wait.js";
import { startIpmiSim, type SimBmc } from "./ipmi-sim.js";

const USER = "admin";
const PASSWORD = "Sup3r-S3cret-9";
// A distinct 127.0.0.x per run keeps parallel runs apart.
const HOST = `127.0.0.${2 + (process.pid % 200)}`;

let sim: SimBmc;
let unreachablePort: number;

async function freeUdpPort(host: string): Promise<number> {
  const s = dgram.createSocket("udp4");
  await new Promise<void>((r) => s.bind(0, host, r));
  const port = s.address().port;
  await new Promise<void>((r) => s.close(r));
  return port;
}

function driver(extra: Partial<ConstructorParameters<typeof IpmiDriver>[0]> = {}): IpmiDriver {
  return new IpmiDriver({ host: HOST, port: sim.port, user: USER, password: PASSWORD, timeoutSec: 1, retries: 1, ...extra });
}

beforeAll(async () => {
  await new Promise<void>((resolve, reject) =>
    execFile("ipmitool", ["-V"], (err) => (err ? reject(new Error("ipmitool is not installed: apt-get install -y ipmitool (Debian package ipmitool)")) : resolve())),
  );
  sim = await startIpmiSim({
    host: HOST,
    port: await freeUdpPort(HOST),
    users: [
      { name: USER, password: PASSWORD },
      { name: "viewer", password: "view-only", priv: "user" },
    ],
    power: "off",
  });
  unreachablePort = await freeUdpPort(HOST);
});

afterAll(async () => {
  await sim?.stop();
});

describe("ipmi driver against ipmi_sim", () => {
  it("reads and changes the power state", async () => {
    const d = driver();
    expect(await d.status()).toBe("off");
    await d.on();
    expect(await sim.power()).toBe("1");
    expect(await d.status()).toBe("on");
    await d.off();
    expect(await sim.power()).toBe("0");
    expect(await d.status()).toBe("off");
  });

  it("power-cycles a node that is on, and powers on a node that is off", async () => {
    const d = driver();
    await d.on();
    const before = (await sim.calls()).length;
    await d.cycle();
    // ipmi_sim turns power off at once and back on a second later.
    const setCalls = (await sim.calls()).slice(before).filter((c) => c.startsWith("set power"));
    expect(setCalls[0]).toBe("set power 0");
    await waitFor("the power to be on", async () => (await d.status()) === "on", 5000, 100);
    expect((await sim.calls()).slice(before).filter((c) => c.startsWith("set power"))).toEqual(["set power 0", "set power 1"]);

    await d.off();
    const mark = (await sim.calls()).length;
    await d.cycle();
    expect(await d.status()).toBe("on");
    expect((await sim.calls()).slice(mark).filter((c) => c.startsWith("set power"))).toEqual(["set power 1"]);
  });

  it("sets the boot device", async () => {
    const d = driver();
    await d.setBootDevice("pxe");
    expect(await sim.boot()).toBe("pxe");
    await d.setBootDevice("disk", { persistent: true });
    expect(await sim.boot()).toBe("default"); // IPMI "force boot from default hard drive"
    await d.setBootDevice("pxe", { persistent: true, efi: true });
    expect(await sim.boot()).toBe("pxe");
  });

  it("reports a wrong password clearly and quickly, without the password", async () => {
    const wrong = "not-the-password";
    const started = Date.now();
    const err = await driver({ password: wrong })
      .status()
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PowerError);
    expect((err as PowerError).kind).toBe("auth");
    expect((err as PowerError).message).toBe(`BMC at ${HOST}:${sim.port} refused the credentials for user ${USER}`);
    expect(JSON.stringify(err) + (err as Error).message + ((err as PowerError).detail ?? "")).not.toContain(wrong);
    expect(Date.now() - started).toBeLessThan(3000);
  });

  it("reports an unknown user the same way", async () => {
    await driver().off();
    const err = (await driver({ user: "mallory" })
      .on()
      .catch((e: unknown) => e)) as PowerError;
    expect(err.kind).toBe("auth");
    expect(err.message).toBe(`BMC at ${HOST}:${sim.port} refused the credentials for user mallory`);
    expect(await sim.power()).toBe("0"); // nothing was switched
  });

  it("reports a user without the privilege to switch power", async () => {
    await driver().off();
    const viewer = driver({ user: "viewer", password: "view-only", privilege: "USER" });
    expect(await viewer.status()).toBe("off"); // reading is allowed
    const err = (await viewer.on().catch((e: unknown) => e)) as PowerError;
    expect(err.kind).toBe("privilege");
    expect(err.message).toBe(`BMC at ${HOST}:${sim.port}: user viewer lacks the privilege for "power on"`);
    expect(await sim.power()).toBe("0");
  });

  it("reports an unreachable BMC within the bound", async () => {
    const started = Date.now();
    const d = new IpmiDriver({ host: HOST, port: unreachablePort, user: USER, password: PASSWORD, timeoutSec: 1, retries: 1 });
    const err = (await d.status().catch((e: unknown) => e)) as PowerError;
    const elapsed = Date.now() - started;
    expect(err).toBeInstanceOf(PowerError);
    expect(err.kind).toBe("unreachable");
    expect(err.message).toBe(`BMC at ${HOST}:${unreachablePort} did not answer within 2 s`);
    // ipmitool gives up after 1 s × 1 × 2; the hard kill would come at 5 s.
    expect(elapsed).toBeGreaterThanOrEqual(1500);
    expect(elapsed).toBeLessThan(4500);
  });

  it("never puts the password on ipmitool's command line", async () => {
    const secret = "Cmdline-Probe-77";
    const seen: { cmdline: string; environ: string; ps: string }[] = [];
    const probes: Promise<void>[] = [];
    const d = new IpmiDriver({
      host: HOST,
      port: unreachablePort, // keeps ipmitool running long enough to inspect it
      user: USER,
      password: secret,
      timeoutSec: 1,
      retries: 1,
      onSpawn: (pid) => {
        const cmdline = readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0").join(" ");
        const environ = readFileSync(`/proc/${pid}/environ`, "utf8");
        probes.push(
          new Promise((resolve) =>
            execFile("ps", ["-ww", "-eo", "pid,args"], (_e, out) => {
              seen.push({ cmdline, environ, ps: String(out) });
              resolve();
            }),
          ),
        );
      },
    });
    await d.status().catch(() => undefined);
    await Promise.all(probes);
    expect(seen.length).toBe(1);
    const s = seen[0]!;
    // The probe looked at the right process...
    expect(s.cmdline).toContain("ipmitool");
    expect(s.cmdline).toContain(`-H ${HOST}`);
    expect(s.cmdline).toContain("-E");
    expect(s.ps).toContain(`-p ${unreachablePort}`);
    // ...which got the password from its environment only.
    expect(s.environ.split("\0")).toContain(`IPMI_PASSWORD=${secret}`);
    expect(s.cmdline).not.toContain(secret);
    expect(s.ps).not.toContain(secret);
  });

  it("names the Debian package when ipmitool is missing", async () => {
    const err = (await driver({ ipmitoolPath: "/nonexistent/ipmitool" })
      .status()
      .catch((e: unknown) => e)) as PowerError;
    expect(err.kind).toBe("missing-tool");
    expect(err.message).toMatch(/Debian package ipmitool/);
  });

  it("refuses passwords longer than IPMI allows, and retry counts ipmitool misreads", () => {
    expect(() => driver({ password: "x".repeat(21) })).toThrow(/longer than 20 bytes/);
    expect(() => driver({ retries: 0 })).toThrow(/retries must be 1..10/);
  });
});

describe("powerAction", () => {
  it("runs across nodes with bounded parallelism and reports each one", async () => {
    await driver().off();
    const bmc = (port: number, passwordName: string) => ({
      driver: "ipmi" as const,
      address: HOST,
      port,
      user: USER,
      password: { kind: "env" as const, name: passwordName },
    });
    const nodes = [
      { name: "node01", bmc: bmc(sim.port, "GOOD") },
      { name: "node02", bmc: bmc(sim.port, "BAD") },
      { name: "node03" },
      { name: "node04", bmc: bmc(unreachablePort, "GOOD") },
    ];
    const order: string[] = [];
    let running = 0;
    let maxRunning = 0;
    const results = await powerAction(
      nodes,
      "on",
      async (n) => {
        running++;
        maxRunning = Math.max(maxRunning, running);
        await new Promise((r) => setTimeout(r, 20));
        running--;
        return n.bmc?.password?.kind === "env" && n.bmc.password.name === "GOOD" ? PASSWORD : "wrong-password";
      },
      { parallelism: 2, ipmi: { timeoutSec: 1, retries: 1 }, onResult: (r) => order.push(r.node) },
    );
    expect(maxRunning).toBeLessThanOrEqual(2);
    expect(Math.max(...results.map((r) => r.ms))).toBeLessThan(4500);
    expect(results.map((r) => r.node)).toEqual(["node01", "node02", "node03", "node04"]);
    expect(order.sort()).toEqual(["node01", "node02", "node03", "node04"]);
    const by = Object.fromEntries(results.map((r) => [r.node, r])) as Record<string, PowerActionResult>;
    expect(by.node01).toMatchObject({ ok: true });
    expect(await sim.power()).toBe("1");
    expect(by.node02).toMatchObject({ ok: false, errorKind: "auth", error: `BMC at ${HOST}:${sim.port} refused the credentials for user ${USER}` });
    expect(by.node03).toMatchObject({ ok: false, manual: true, error: "node03 has no BMC: power on node03 by hand" });
    expect(by.node04).toMatchObject({ ok: false, errorKind: "unreachable", error: `BMC at ${HOST}:${unreachablePort} did not answer within 2 s` });

    const status = await powerAction(nodes.slice(0, 1).concat(nodes[2]!), "status", () => PASSWORD);
    expect(status.map((r) => [r.node, r.ok, r.state])).toEqual([
      ["node01", true, "on"],
      ["node03", true, "unknown"],
    ]);
  });

  it("explains missing BMC settings per node", async () => {
    const [r] = await powerAction([{ name: "node09", bmc: { driver: "ipmi", port: 623, user: "admin" } }], "status", () => "x");
    expect(r).toMatchObject({ ok: false, errorKind: "config", error: "node09: the BMC has no address" });
    expect(() => createPowerDriver({ name: "n", bmc: { driver: "ipmi", address: "10.0.0.9", port: 623, user: "admin" } }, undefined)).toThrow(
      "n: no password for BMC user admin at 10.0.0.9",
    );
  });
});
