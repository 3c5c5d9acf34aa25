import { describe, expect, it } from "vitest";
import { PowerError } from "../../src/power/driver.js";
import { answerBoundSec, classifyFailure, ipmitoolArgs } from "../../src/power/ipmitool.js";
import { ManualDriver, type ManualRequest } from "../../src/power/manual.js";
import { createPowerDriver } from "../../src/power/factory.js";

describe("manual driver", () => {
  it("asks a person and resolves when told", async () => {
    const asked: ManualRequest[] = [];
    const d = new ManualDriver({ node: "node01", notify: (r) => asked.push(r) });
    await d.setBootDevice("pxe");
    let done = false;
    const p = d.cycle().then(() => (done = true));
    expect(asked).toEqual([{ node: "node01", action: "cycle", message: "power-cycle node01 now (it must boot from the network)" }]);
    expect(d.waiting?.action).toBe("cycle");
    await new Promise((r) => setTimeout(r, 20));
    expect(done).toBe(false);
    expect(d.confirm()).toBe(true);
    await p;
    expect(done).toBe(true);
    expect(d.waiting).toBeUndefined();
    expect(d.confirm()).toBe(false);
    expect(await d.status()).toBe("unknown");
  });

  it("resolves through a hook the apply layer provides", async () => {
    let release!: () => void;
    const seen = new Promise<void>((r) => (release = r));
    const d = new ManualDriver({ node: "node02", notify: () => undefined, waitFor: () => seen });
    const events: string[] = [];
    d.events.on("request", (r) => events.push(`request ${r.message}`));
    d.events.on("done", (r) => events.push(`done ${r.action}`));
    const p = d.on();
    release();
    await p;
    expect(events).toEqual(["request power on node02 now", "done on"]);
  });

  it("rejects when cancelled or not confirmed in time", async () => {
    const d = new ManualDriver({ node: "node03", notify: () => undefined });
    const p = d.off();
    d.cancel("apply interrupted");
    await expect(p).rejects.toThrow("off of node03: apply interrupted");
    const t = new ManualDriver({ node: "node04", notify: () => undefined, timeoutMs: 50 });
    const err = await t.cycle().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PowerError);
    expect((err as PowerError).kind).toBe("cancelled");
    expect((err as Error).message).toBe('nobody confirmed "power-cycle node04 now" within 50 ms');
  });

  it("is what nodes without a BMC get", () => {
    expect(createPowerDriver({ name: "n" }, undefined).kind).toBe("manual");
    expect(createPowerDriver({ name: "n", bmc: { driver: "manual", port: 623 } }, undefined).kind).toBe("manual");
    expect(createPowerDriver({ name: "n", bmc: { driver: "ipmi", address: "10.0.0.9", port: 623, user: "a" } }, "pw").kind).toBe("ipmi");
  });
});

describe("ipmitool output", () => {
  it("builds arguments without the password", () => {
    const args = ipmitoolArgs({ host: "10.1.0.5", port: 623, user: "admin", password: "hunter2", cipherSuite: 3, timeoutSec: 2, retries: 1 }, ["power", "status"]);
    expect(args.join(" ")).toBe("-I lanplus -H 10.1.0.5 -p 623 -U admin -E -N 2 -R 1 -C 3 -v power status");
    expect(args.join(" ")).not.toContain("hunter2");
  });
  it("classifies ipmitool's complaints", () => {
    expect(classifyFailure("> RAKP 2 HMAC is invalid\nError: Unable to establish IPMI v2 / RMCP+ session")).toBe("auth");
    expect(classifyFailure("RAKP 2 message indicates an error : unauthorized name\nError: Unable to establish IPMI v2 / RMCP+ session")).toBe("auth");
    expect(classifyFailure("Get Auth Capabilities error\nError issuing Get Channel Authentication Capabilities request")).toBe("unreachable");
    expect(classifyFailure("Error in open session response message : invalid authentication algorithm")).toBe("cipher");
    expect(answerBoundSec({ timeoutSec: 1, retries: 2 })).toBe(6);
    expect(classifyFailure("Set Chassis Power Control to Up/On failed: Unspecified error")).toBe("failed");
    expect(classifyFailure("Set Chassis Power Control to Up/On failed: Insufficient privilege level")).toBe("privilege");
    // A refused optional probe in verbose output is not the command's failure.
    expect(classifyFailure("Invalid completion code received: Insufficient privilege level\nSet Chassis Power Control to Up/On failed: Node busy")).toBe("failed");
  });
});
