// The Redfish driver against a small fake Redfish service on loopback (HTTPS with a
// throw-away self-signed certificate): what it sends (paths, bodies, auth headers,
// If-Match), how it reads PowerState, how it refuses a certificate it cannot trust
// before sending anything, and what an operator reads when the BMC says no.
// The real peer (the lab's emulator driving QEMU, checked with DMTF's redfishtool)
// is in test/lab/redfish.int.test.ts.
import { execFileSync } from "node:child_process";
import { X509Certificate } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { createServer, type Server } from "node:https";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { powerAction } from "../../src/power/action.js";
import { PowerError } from "../../src/power/driver.js";
import { createPowerDriver } from "../../src/power/factory.js";
import { bootOverrideBody, errorText, powerOf, systemPath } from "../../src/power/redfish/protocol.js";
import { RedfishDriver, type RedfishDriverOptions } from "../../src/power/redfish/driver.js";
import { createLogger, memorySink, type LogRecord } from "../../src/util/log.js";

const USER = "root";
const PASSWORD = "calvin-Redfish-7";

interface Seen {
  method: string;
  url: string;
  headers: Record<string, string | string[] | undefined>;
  body: unknown;
}

/** What the fake does; tests change it between cases. */
const fake = {
  power: "Off" as string,
  resetTypes: ["On", "ForceOff", "ForceRestart", "PowerCycle"] as string[] | undefined,
  systems: ["1"],
  refuseReset: false,
  etag: 'W/"7"',
  boot: {} as Record<string, unknown>,
  seen: [] as Seen[],
  connections: 0,
};

function system(id: string): Record<string, unknown> {
  return {
    "@odata.id": `/redfish/v1/Systems/${id}`,
    "@odata.type": "#ComputerSystem.v1_20_0.ComputerSystem",
    Id: id,
    PowerState: fake.power,
    Boot: { BootSourceOverrideTarget: "None", BootSourceOverrideEnabled: "Disabled", "BootSourceOverrideTarget@Redfish.AllowableValues": ["None", "Pxe", "Hdd"], ...fake.boot },
    Actions: {
      "#ComputerSystem.Reset": {
        target: `/redfish/v1/Systems/${id}/Actions/ComputerSystem.Reset`,
        ...(fake.resetTypes ? { "ResetType@Redfish.AllowableValues": fake.resetTypes } : {}),
      },
    },
  };
}

function redfishError(id: string, message: string) {
  return {
    error: { code: "Base.1.8.GeneralError", message: "A general error has occurred.", "@Message.ExtendedInfo": [{ MessageId: id, Message: message, Severity: "Critical" }] },
  };
}

function answer(req: Seen): { status: number; body?: unknown; headers?: Record<string, string> } {
  const authed = req.headers["x-auth-token"] === "tok-1" || req.headers.authorization === `Basic ${Buffer.from(`${USER}:${PASSWORD}`).toString("base64")}`;
  if (req.method === "GET" && req.url === "/redfish/v1/") {
    return {
      status: 200,
      body: { "@odata.id": "/redfish/v1/", Systems: { "@odata.id": "/redfish/v1/Systems" }, Links: { Sessions: { "@odata.id": "/redfish/v1/SessionService/Sessions" } } },
    };
  }
  if (req.method === "POST" && req.url === "/redfish/v1/SessionService/Sessions") {
    const b = req.body as { UserName?: string; Password?: string };
    if (b.UserName !== USER || b.Password !== PASSWORD)
      return { status: 401, body: redfishError("Base.1.8.NoValidSession", "There is no valid session established with the implementation.") };
    return { status: 201, body: { Id: "1", UserName: USER }, headers: { "X-Auth-Token": "tok-1", Location: "/redfish/v1/SessionService/Sessions/1" } };
  }
  if (!authed) return { status: 401, body: redfishError("Base.1.8.NoValidSession", "There is no valid session established with the implementation.") };
  if (req.method === "DELETE" && req.url === "/redfish/v1/SessionService/Sessions/1") return { status: 204 };
  if (req.method === "GET" && req.url === "/redfish/v1/Systems")
    return { status: 200, body: { Members: fake.systems.map((id) => ({ "@odata.id": `/redfish/v1/Systems/${id}` })) } };
  const m = /^\/redfish\/v1\/Systems\/([^/]+)(\/Actions\/ComputerSystem\.Reset)?$/.exec(req.url);
  if (m && req.method === "GET" && !m[2]) return { status: 200, body: system(m[1]!), headers: { ETag: fake.etag } };
  if (m && req.method === "PATCH" && !m[2]) {
    if (req.headers["if-match"] !== fake.etag) return { status: 412, body: redfishError("Base.1.8.PreconditionFailed", "The ETag supplied did not match.") };
    fake.boot = { ...fake.boot, ...(req.body as { Boot: object }).Boot };
    return { status: 204 };
  }
  if (m && req.method === "POST" && m[2]) {
    if (fake.refuseReset) return { status: 409, body: redfishError("Base.1.8.ResourceInUse", "The system is being serviced; try again in 5 minutes.") };
    const t = (req.body as { ResetType: string }).ResetType;
    fake.power = t === "ForceOff" ? "Off" : "On";
    return { status: 204 };
  }
  return { status: 404, body: redfishError("Base.1.8.ResourceMissingAtURI", `The resource at the URI ${req.url} was not found.`) };
}

let server: Server;
let port: number;
let dir: string;
let fingerprint: string;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "mfR-redfish-unit-"));
  execFileSync(
    "openssl",
    [
      "req",
      "-x509",
      "-newkey",
      "ec",
      "-pkeyopt",
      "ec_paramgen_curve:prime256v1",
      "-nodes",
      "-days",
      "2",
      "-subj",
      "/CN=fake-bmc",
      "-addext",
      "subjectAltName=IP:127.0.0.1",
      "-keyout",
      join(dir, "key.pem"),
      "-out",
      join(dir, "cert.pem"),
    ],
    { stdio: "ignore" },
  );
  fingerprint = new X509Certificate(readFileSync(join(dir, "cert.pem"))).fingerprint256;
  server = createServer({ cert: readFileSync(join(dir, "cert.pem")), key: readFileSync(join(dir, "key.pem")) }, (req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const text = Buffer.concat(chunks).toString();
      const seen: Seen = { method: req.method!, url: req.url!, headers: req.headers, body: text ? JSON.parse(text) : undefined };
      fake.seen.push(seen);
      const a = answer(seen);
      res.writeHead(a.status, { ...(a.body ? { "Content-Type": "application/json" } : {}), ...a.headers });
      res.end(a.body ? JSON.stringify(a.body) : undefined);
    });
  });
  server.on("secureConnection", () => fake.connections++);
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  port = (server.address() as AddressInfo).port;
});

const tempDirs: string[] = [];

afterAll(async () => {
  await new Promise<void>((r) => server.close(() => r()));
  for (const d of [dir, ...tempDirs]) if (d) rmSync(d, { recursive: true, force: true });
});

beforeEach(() => {
  Object.assign(fake, { power: "Off", resetTypes: ["On", "ForceOff", "ForceRestart", "PowerCycle"], systems: ["1"], refuseReset: false, boot: {}, seen: [], connections: 0 });
});

function driver(extra: Partial<RedfishDriverOptions> = {}): RedfishDriver {
  return new RedfishDriver({ host: "127.0.0.1", port, user: USER, password: PASSWORD, tls: { ca: join(dir, "cert.pem") }, timeoutMs: 10_000, ...extra });
}

/** The PowerError a call rejects with (the test fails when it resolves). */
async function failure(p: Promise<unknown>): Promise<PowerError> {
  const r = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(r).toBeInstanceOf(PowerError);
  return r as PowerError;
}

const calls = () => fake.seen.map((s) => `${s.method} ${s.url}`);
const actions = () => fake.seen.filter((s) => s.method === "POST" && s.url.includes("/Actions/")).map((s) => s.body);

describe("redfish protocol (pure)", () => {
  it("reads PowerState: On, PoweringOn and Paused are on; Off and PoweringOff are off; anything else is an error", () => {
    expect(["On", "PoweringOn", "Paused", "Off", "PoweringOff"].map(powerOf)).toEqual(["on", "on", "on", "off", "off"]);
    expect(() => powerOf("Standby")).toThrow(/unexpected PowerState "Standby"/);
    expect(() => powerOf(undefined)).toThrow(/unexpected PowerState/);
  });
  it("builds boot override bodies: Once or Continuous, the mode only when asked", () => {
    expect(bootOverrideBody("pxe")).toEqual({ Boot: { BootSourceOverrideTarget: "Pxe", BootSourceOverrideEnabled: "Once" } });
    expect(bootOverrideBody("disk", { persistent: true, efi: true })).toEqual({
      Boot: { BootSourceOverrideTarget: "Hdd", BootSourceOverrideEnabled: "Continuous", BootSourceOverrideMode: "UEFI" },
    });
    expect(bootOverrideBody("pxe", { efi: false }).Boot.BootSourceOverrideMode).toBe("Legacy");
  });
  it("picks the system: the only member, the named one, or says which to name", () => {
    const coll = (ids: string[]) => ({ Members: ids.map((i) => ({ "@odata.id": `/redfish/v1/Systems/${i}` })) });
    expect(systemPath(coll(["437XR1138R2"]))).toBe("/redfish/v1/Systems/437XR1138R2");
    expect(systemPath(coll(["a", "b"]), "b")).toBe("/redfish/v1/Systems/b");
    expect(() => systemPath(coll(["a", "b"]))).toThrow("it manages 2 systems (a, b): set bmc.system to one of them");
    expect(() => systemPath(coll(["a"]), "c")).toThrow('no system "c" among a');
  });
  it("quotes a Redfish error body's messages", () => {
    expect(errorText(redfishError("Base.1.8.PropertyValueNotInList", "The value Floppy for the property BootSourceOverrideTarget is not in the list of acceptable values."))).toBe(
      "The value Floppy for the property BootSourceOverrideTarget is not in the list of acceptable values. (Base.1.8.PropertyValueNotInList)",
    );
    expect(errorText({ error: { code: "X", message: "only a message" } })).toBe("only a message");
    expect(errorText("not json")).toBeUndefined();
  });
});

describe("redfish driver against a fake service", () => {
  it("reads the power state through a session it deletes afterwards", async () => {
    expect(await driver().status()).toBe("off");
    fake.power = "On";
    expect(await driver().status()).toBe("on");
    const login = fake.seen.find((s) => s.method === "POST" && s.url.endsWith("/Sessions"))!;
    expect(login.body).toEqual({ UserName: USER, Password: PASSWORD });
    // After the login only the token travels; the session ends with a DELETE.
    const after = fake.seen.filter((s) => s.url !== "/redfish/v1/" && !(s.method === "POST" && s.url === login.url));
    for (const s of after) {
      expect(s.headers["x-auth-token"]).toBe("tok-1");
      expect(s.headers.authorization).toBeUndefined();
    }
    expect(calls().filter((c) => c === "DELETE /redfish/v1/SessionService/Sessions/1")).toHaveLength(2);
    expect(fake.seen.every((s) => s.headers["odata-version"] === "4.0")).toBe(true);
  });

  it("sends On, ForceOff, and for a cycle PowerCycle when offered, else ForceRestart, and On when the system is off", async () => {
    const d = driver();
    await d.on();
    await d.off();
    await d.cycle(); // off → On
    await d.cycle(); // on, PowerCycle offered
    fake.resetTypes = ["On", "ForceOff", "ForceRestart"];
    await d.cycle(); // on, no PowerCycle
    fake.resetTypes = undefined;
    await d.cycle(); // on, nothing listed: ForceRestart is what every BMC has
    expect(actions()).toEqual(["On", "ForceOff", "On", "PowerCycle", "ForceRestart", "ForceRestart"].map((t) => ({ ResetType: t })));
    expect(fake.seen.filter((s) => s.url.includes("/Actions/")).every((s) => s.url === "/redfish/v1/Systems/1/Actions/ComputerSystem.Reset")).toBe(true);
  });

  it("sets a one-time boot override with PATCH and If-Match", async () => {
    await driver().setBootDevice("pxe", { persistent: false });
    const patch = fake.seen.find((s) => s.method === "PATCH")!;
    expect(patch.url).toBe("/redfish/v1/Systems/1");
    expect(patch.headers["if-match"]).toBe('W/"7"');
    expect(patch.body).toEqual({ Boot: { BootSourceOverrideTarget: "Pxe", BootSourceOverrideEnabled: "Once" } });
    await driver().setBootDevice("disk", { persistent: true, efi: true });
    expect(fake.boot).toMatchObject({ BootSourceOverrideTarget: "Hdd", BootSourceOverrideEnabled: "Continuous", BootSourceOverrideMode: "UEFI" });
  });

  it("uses HTTP Basic on every request when auth is basic, and no session", async () => {
    fake.power = "On";
    expect(await driver({ auth: "basic" }).status()).toBe("on");
    expect(calls()).toEqual(["GET /redfish/v1/", "GET /redfish/v1/Systems", "GET /redfish/v1/Systems/1"]);
    expect(fake.seen.slice(1).every((s) => s.headers.authorization === `Basic ${Buffer.from(`${USER}:${PASSWORD}`).toString("base64")}`)).toBe(true);
  });

  it("refuses a ResetType the service does not list, and a boot target it does not offer, before sending it", async () => {
    fake.power = "On";
    fake.resetTypes = ["On", "ForceRestart"];
    const err = await failure(driver().off());
    expect(err).toBeInstanceOf(PowerError);
    expect(err.message).toBe(`BMC at 127.0.0.1:${port}: /redfish/v1/Systems/1 does not allow ResetType ForceOff (it allows On, ForceRestart)`);
    expect(actions()).toEqual([]);
  });

  it("says what the BMC said when it refuses, and which credentials it refused (never the password)", async () => {
    fake.refuseReset = true;
    const refused = await failure(driver().on());
    expect(refused.kind).toBe("failed");
    expect(refused.message).toBe(
      `BMC at 127.0.0.1:${port}: POST /redfish/v1/Systems/1/Actions/ComputerSystem.Reset answered HTTP 409 Conflict: The system is being serviced; try again in 5 minutes. (Base.1.8.ResourceInUse)`,
    );
    expect(refused.said).toBe("The system is being serviced; try again in 5 minutes. (Base.1.8.ResourceInUse)");
    const wrong = await failure(driver({ password: "not-the-password" }).status());
    expect(wrong.kind).toBe("auth");
    expect(wrong.message).toBe(
      `BMC at 127.0.0.1:${port} refused the credentials for user root (HTTP 401 Unauthorized: There is no valid session established with the implementation. (Base.1.8.NoValidSession))`,
    );
    expect(JSON.stringify(wrong) + wrong.message).not.toContain("not-the-password");
  });

  it("asks which system when the BMC manages several, and controls the one named", async () => {
    fake.systems = ["A", "B"];
    const err = await failure(driver().status());
    expect(err.message).toBe(`BMC at 127.0.0.1:${port}: it manages 2 systems (A, B): set bmc.system to one of them`);
    await driver({ system: "B" }).on();
    expect(fake.seen.find((s) => s.url.includes("/Actions/"))!.url).toBe("/redfish/v1/Systems/B/Actions/ComputerSystem.Reset");
  });
});

describe("redfish driver TLS", () => {
  it("without a CA, refuses the self-signed certificate before sending a request", async () => {
    const err = await failure(driver({ tls: undefined }).status());
    expect(err.kind).toBe("tls");
    expect(err.message).toMatch(/^BMC at 127\.0\.0\.1:\d+: its HTTPS certificate is not trusted by the system's CA store \(DEPTH_ZERO_SELF_SIGNED_CERT/);
    expect(fake.seen).toEqual([]);
  });

  it("pins a fingerprint: the right one connects, another is refused with nothing sent", async () => {
    fake.power = "On";
    expect(await driver({ tls: { fingerprint: fingerprint.toLowerCase() } }).status()).toBe("on");
    fake.seen = [];
    const other = "AA:".repeat(31) + "AA";
    const err = await failure(driver({ tls: { fingerprint: other } }).on());
    expect(err.kind).toBe("tls");
    expect(err.message).toBe(`BMC at 127.0.0.1:${port}: its certificate's SHA-256 fingerprint ${fingerprint} is not the pinned ${other}; nothing was sent`);
    expect(fake.seen).toEqual([]);
    expect(fake.power).toBe("On");
  });

  it("insecure: connects without a check, and warns that it does", async () => {
    const records: LogRecord[] = [];
    const logger = createLogger({ component: "test", level: "debug", sink: memorySink(records) });
    fake.power = "On";
    expect(await driver({ tls: { insecure: true }, logger }).status()).toBe("on");
    const warn = records.find((r) => r.event === "redfish-tls-insecure")!;
    expect(warn.level).toBe("warn");
    expect(String(warn.fields.message)).toContain("is not checked");
    expect(JSON.stringify(records)).not.toContain(PASSWORD);
  });

  it("a CA that does not name the address is refused (the certificate is checked against 127.0.0.1, not only its chain)", async () => {
    const other = mkdtempSync(join(tmpdir(), "mfR-redfish-unit-"));
    tempDirs.push(other);
    execFileSync(
      "openssl",
      [
        "req",
        "-x509",
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
        "-nodes",
        "-days",
        "2",
        "-subj",
        "/CN=other",
        "-keyout",
        join(other, "k.pem"),
        "-out",
        join(other, "c.pem"),
      ],
      { stdio: "ignore" },
    );
    const err = await failure(driver({ tls: { ca: join(other, "c.pem") } }).status());
    expect(err.kind).toBe("tls");
    expect(fake.seen).toEqual([]);
  });
});

describe("power action with a redfish node", () => {
  it("goes through the factory with the node's settings and reports what the BMC said", async () => {
    const node = {
      name: "n1",
      bmc: { driver: "redfish" as const, address: "127.0.0.1", port, user: USER, password: { kind: "env" as const, name: "X" }, tls: { ca: join(dir, "cert.pem") } },
    };
    expect(createPowerDriver(node, PASSWORD).kind).toBe("redfish");
    const [ok] = await powerAction([node], "on", () => PASSWORD);
    expect(ok).toMatchObject({ node: "n1", ok: true });
    fake.refuseReset = true;
    const [failed] = await powerAction([node], "off", () => PASSWORD);
    expect(failed).toMatchObject({ ok: false, errorKind: "failed", said: "The system is being serviced; try again in 5 minutes. (Base.1.8.ResourceInUse)" });
  });
});
