// The lab's Redfish BMC service without sockets, with a machine that only records:
// authentication (session token, Basic, none), what each reset asks of the VM and
// with which boot device, the "Once" override cleared by the boot it applied to,
// ETag preconditions, and the Redfish errors for what it cannot do.
import { describe, expect, it } from "vitest";
import { MachineRefusal, RedfishBmcService, type Machine, type ServiceRequest } from "../../src/lab/redfish/service.js";

const USER = "admin";
const PASSWORD = "Pw-of-the-lab-1";

class RecordingMachine implements Machine {
  on = false;
  calls: string[] = [];
  async power(): Promise<"On" | "Off"> {
    return this.on ? "On" : "Off";
  }
  async reset(type: string, boot: "network" | "disk"): Promise<void> {
    if (type === "ForceRestart" && !this.on) throw new MachineRefusal("The system is powered off.");
    this.calls.push(`${type} ${boot}`);
    this.on = type !== "ForceOff" && type !== "GracefulShutdown";
  }
}

function setup(now = () => 0) {
  const machine = new RecordingMachine();
  const service = new RedfishBmcService({ id: "lab1", uuid: "u", mac: "52:54:00:00:00:01", modes: ["Legacy"] }, { user: USER, password: PASSWORD }, machine, now);
  const basic = { authorization: `Basic ${Buffer.from(`${USER}:${PASSWORD}`).toString("base64")}` };
  const call = (method: string, url: string, body?: unknown, headers: Record<string, string> = basic) =>
    service.handle({ method, url, headers, body: body === undefined ? "" : typeof body === "string" ? body : JSON.stringify(body) } satisfies ServiceRequest);
  return { machine, service, call, basic };
}

const RESET = "/redfish/v1/Systems/lab1/Actions/ComputerSystem.Reset";

describe("lab Redfish service", () => {
  it("serves the root without credentials and nothing else", async () => {
    const { call } = setup();
    expect((await call("GET", "/redfish/v1/", undefined, {})).status).toBe(200);
    expect((await call("GET", "/redfish", undefined, {})).body).toEqual({ v1: "/redfish/v1/" });
    const denied = await call("GET", "/redfish/v1/Systems", undefined, {});
    expect(denied.status).toBe(401);
    expect(denied.headers["WWW-Authenticate"]).toMatch(/^Basic/);
    expect((await call("GET", "/redfish/v1/Systems", undefined, { authorization: `Basic ${Buffer.from(`${USER}:wrong`).toString("base64")}` })).status).toBe(401);
  });

  it("logs in a session, accepts its token, and forgets it after DELETE or 30 idle minutes", async () => {
    let t = 0;
    const { call } = setup(() => t);
    const login = await call("POST", "/redfish/v1/SessionService/Sessions", { UserName: USER, Password: PASSWORD }, {});
    expect(login.status).toBe(201);
    const token = login.headers["X-Auth-Token"]!;
    expect(login.headers.Location).toBe("/redfish/v1/SessionService/Sessions/1");
    expect(JSON.stringify(login.body)).not.toContain(PASSWORD);
    expect((await call("GET", "/redfish/v1/Systems/lab1", undefined, { "x-auth-token": token })).status).toBe(200);
    expect((await call("DELETE", "/redfish/v1/SessionService/Sessions/1", undefined, { "x-auth-token": token })).status).toBe(204);
    expect((await call("GET", "/redfish/v1/Systems/lab1", undefined, { "x-auth-token": token })).status).toBe(401);
    const again = (await call("POST", "/redfish/v1/SessionService/Sessions", { UserName: USER, Password: PASSWORD }, {})).headers["X-Auth-Token"]!;
    t += 1800_001;
    expect((await call("GET", "/redfish/v1/Systems", undefined, { "x-auth-token": again })).status).toBe(401);
    expect((await call("POST", "/redfish/v1/SessionService/Sessions", { UserName: USER, Password: "nope" }, {})).status).toBe(401);
  });

  it("boots the override's device once, then the VM's own order again", async () => {
    const { call, machine } = setup();
    const sys = await call("GET", "/redfish/v1/Systems/lab1");
    const etag = sys.headers.ETag!;
    const patched = await call(
      "PATCH",
      "/redfish/v1/Systems/lab1",
      { Boot: { BootSourceOverrideTarget: "Hdd", BootSourceOverrideEnabled: "Once" } },
      { ...setup().basic, "if-match": etag },
    );
    expect(patched.status).toBe(200);
    expect((patched.body as { Boot: object }).Boot).toMatchObject({ BootSourceOverrideTarget: "Hdd", BootSourceOverrideEnabled: "Once" });
    expect((await call("POST", RESET, { ResetType: "On" })).status).toBe(204);
    expect((await call("POST", RESET, { ResetType: "PowerCycle" })).status).toBe(204);
    expect(machine.calls).toEqual(["On disk", "PowerCycle network"]);
    expect(((await call("GET", "/redfish/v1/Systems/lab1")).body as { Boot: object }).Boot).toMatchObject({
      BootSourceOverrideTarget: "None",
      BootSourceOverrideEnabled: "Disabled",
    });
    // Continuous stays.
    await call("PATCH", "/redfish/v1/Systems/lab1", { Boot: { BootSourceOverrideTarget: "Pxe", BootSourceOverrideEnabled: "Continuous" } });
    await call("POST", RESET, { ResetType: "ForceRestart" });
    await call("POST", RESET, { ResetType: "ForceRestart" });
    expect(machine.calls.slice(2)).toEqual(["ForceRestart network", "ForceRestart network"]);
    expect(((await call("GET", "/redfish/v1/Systems/lab1")).body as { Boot: object }).Boot).toMatchObject({
      BootSourceOverrideTarget: "Pxe",
      BootSourceOverrideEnabled: "Continuous",
    });
  });

  it("refuses a stale ETag, unknown properties and values, and resets it cannot do", async () => {
    const { call } = setup();
    const stale = await call("PATCH", "/redfish/v1/Systems/lab1", { Boot: { BootSourceOverrideTarget: "Pxe" } }, { ...setup().basic, "if-match": 'W/"999"' });
    expect(stale.status).toBe(412);
    const mode = await call("PATCH", "/redfish/v1/Systems/lab1", { Boot: { BootSourceOverrideMode: "UEFI" } });
    expect(mode.status).toBe(400);
    expect(JSON.stringify(mode.body)).toContain("Base.1.15.PropertyValueNotInList");
    expect((await call("PATCH", "/redfish/v1/Systems/lab1", { PowerState: "On" })).status).toBe(400);
    expect((await call("PATCH", "/redfish/v1/Systems/lab1", { Boot: { Colour: "red" } })).status).toBe(400);
    expect((await call("POST", RESET, {})).status).toBe(400);
    expect((await call("POST", RESET, { ResetType: "PushPowerButton" })).status).toBe(400);
    const off = await call("POST", RESET, { ResetType: "ForceRestart" });
    expect(off.status).toBe(409);
    expect(JSON.stringify(off.body)).toContain("The system is powered off.");
    expect((await call("PUT", "/redfish/v1/Systems/lab1")).headers.Allow).toBe("GET, PATCH");
    expect((await call("GET", "/redfish/v1/Systems/lab2")).status).toBe(404);
  });
});
