// IPMI settings from the configuration (interface, cipher suite) as ipmitool
// arguments, and what the BMC said picked out of ipmitool's verbose output.
import { describe, expect, it } from "vitest";
import { PowerError } from "../../src/power/driver.js";
import { createPowerDriver } from "../../src/power/factory.js";
import { IpmiDriver } from "../../src/power/ipmi.js";
import { bmcSaid, ipmitoolArgs } from "../../src/power/ipmitool.js";

const target = { host: "10.1.0.5", port: 623, user: "admin", password: "hunter2", cipherSuite: 17 as const, timeoutSec: 2, retries: 1 };

describe("ipmi interface and cipher suite", () => {
  it("passes the cipher suite to lanplus, and none to IPMI 1.5 lan", () => {
    expect(ipmitoolArgs(target, ["power", "status"]).join(" ")).toBe("-I lanplus -H 10.1.0.5 -p 623 -U admin -E -N 2 -R 1 -C 17 -v power status");
    expect(ipmitoolArgs({ ...target, interface: "lan" }, ["power", "status"]).join(" ")).toBe("-I lan -H 10.1.0.5 -p 623 -U admin -E -N 2 -R 1 -v power status");
  });

  it("takes them from the node's BMC settings", () => {
    const node = { name: "n1", bmc: { driver: "ipmi" as const, address: "10.1.0.5", port: 623, user: "admin", interface: "lan" as const, cipherSuite: 17 } };
    const d = createPowerDriver(node, "pw", { ipmi: { ipmitoolPath: "/nonexistent/ipmitool" } });
    expect(d).toBeInstanceOf(IpmiDriver);
    expect((d as unknown as { target: { interface: string; cipherSuite: number } }).target).toMatchObject({ interface: "lan", cipherSuite: 17 });
  });

  it("refuses a cipher suite out of range", () => {
    expect(() => new IpmiDriver({ host: "10.1.0.5", user: "a", password: "b", cipherSuite: 300 })).toThrow(PowerError);
  });
});

describe("what the BMC said", () => {
  it("keeps ipmitool's report of the BMC's answer and drops its own probes", () => {
    const out = [
      "Loading IANA PEN Registry...",
      ">> Sending IPMI command payload",
      "Invalid completion code received: Insufficient privilege level",
      "RAKP 2 message indicates an error : unauthorized name",
      "Error: Unable to establish IPMI v2 / RMCP+ session",
    ].join("\n");
    expect(bmcSaid(out)).toBe("RAKP 2 message indicates an error : unauthorized name; Error: Unable to establish IPMI v2 / RMCP+ session");
    expect(bmcSaid("Set Chassis Power Control to Up/On failed: Node busy\n")).toBe("Set Chassis Power Control to Up/On failed: Node busy");
    expect(bmcSaid("Chassis Power is on\n")).toBeUndefined();
  });
});
