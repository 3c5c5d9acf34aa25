// What the BMC said, from the real ipmitool against OpenIPMI's ipmi_sim: a refused
// login and a refused command each carry ipmitool's report of the BMC's answer,
// and `metalform power`'s result shows it beside its own summary.
import dgram from "node:dgram";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { powerAction } from "../../src/power/action.js";
import { PowerError } from "../../src/power/driver.js";
import { IpmiDriver } from "../../src/power/ipmi.js";
import { startIpmiSim, type SimBmc } from "./ipmi-sim.js";

const HOST = `127.0.0.${2 + ((process.pid + 57) % 200)}`;
let sim: SimBmc;

beforeAll(async () => {
  const s = dgram.createSocket("udp4");
  await new Promise<void>((r) => s.bind(0, HOST, r));
  const port = s.address().port;
  await new Promise<void>((r) => s.close(r));
  sim = await startIpmiSim({
    host: HOST,
    port,
    users: [
      { name: "admin", password: "Right-Pw-1" },
      { name: "viewer", password: "view-only", priv: "user" },
    ],
    power: "off",
  });
});

afterAll(async () => {
  await sim?.stop();
});

describe("ipmi failures carry what the BMC said", () => {
  it("a wrong password: the RAKP answer", async () => {
    const d = new IpmiDriver({ host: HOST, port: sim.port, user: "admin", password: "Wrong-Pw-2", timeoutSec: 1, retries: 1 });
    const err = (await d.status().catch((e: unknown) => e)) as PowerError;
    expect(err.kind).toBe("auth");
    expect(err.said).toMatch(/RAKP|unauthorized|Unable to establish/i);
    expect(err.said).not.toContain("Wrong-Pw-2");
  }, 30_000);

  it("a command the user may not run: the completion code, in power's result", async () => {
    const node = { name: "n1", bmc: { driver: "ipmi" as const, address: HOST, port: sim.port, user: "viewer", password: { kind: "env" as const, name: "X" } } };
    const [r] = await powerAction([node], "on", () => "view-only", { ipmi: { timeoutSec: 1, retries: 1, privilege: "USER" } });
    expect(r).toMatchObject({ ok: false, errorKind: "privilege" });
    expect(r!.said).toMatch(/privilege/i);
  }, 30_000);
});
