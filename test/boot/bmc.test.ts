// The BMC step's rendering: which ipmitool commands the installer runs in-band for a
// node's configured LAN settings (address, netmask, gateway, VLAN, channel, user slot
// and privilege), that the password never enters the plan, and that the settings load
// from YAML (merged from the category) or are refused with the file, line and field.
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { renderBmc } from "../../src/boot/bmc.js";
import { renderPlanShell } from "../../src/boot/plan-shell.js";
import { renderInstallPlan } from "../../src/boot/install-plan.js";
import type { BmcSettings } from "../../src/config/types.js";
import { loadClusterSync } from "../../src/config/load.js";
import { removeConfigs, writeConfig } from "../config/helpers.js";
import { apiUrlFor, layouts, node, planInputBase } from "./fixtures.js";

afterAll(removeConfigs);

function planFor(bmc: BmcSettings) {
  const n = node({ diskLayout: "single", bmc });
  return renderInstallPlan({ ...planInputBase, node: n, layout: layouts.single!, apiUrl: apiUrlFor(n.name) });
}

const IPMI: BmcSettings = { driver: "ipmi", address: "10.148.0.21", port: 623 };

describe("renderBmc", () => {
  it("writes every configured LAN setting on the configured channel, then the user in its slot with its privilege", () => {
    const b = renderBmc({
      ...IPMI,
      netmask: "255.255.0.0",
      gateway: "10.148.255.254",
      vlan: 42,
      channel: 2,
      userId: 3,
      privilege: "operator",
      user: "mfops",
      password: { kind: "env", name: "BMC_PW" },
    });
    expect(b).toEqual({
      channel: 2,
      passwordUserId: 3,
      commands: [
        ["lan", "set", "2", "ipsrc", "static"],
        ["lan", "set", "2", "ipaddr", "10.148.0.21"],
        ["lan", "set", "2", "netmask", "255.255.0.0"],
        ["lan", "set", "2", "defgw", "ipaddr", "10.148.255.254"],
        ["lan", "set", "2", "vlan", "id", "42"],
        ["lan", "set", "2", "access", "on"],
        ["user", "set", "name", "3", "mfops"],
        ["channel", "setaccess", "2", "3", "link=on", "ipmi=on", "callin=on", "privilege=3"],
        ["user", "enable", "3"],
      ],
    });
  });

  it("defaults: channel 1, user 2 as administrator; no VLAN command unless written, `off` untags", () => {
    const b = renderBmc({ ...IPMI, user: "admin" })!;
    expect(b.channel).toBe(1);
    expect(b.passwordUserId).toBeUndefined(); // no password configured: none is set
    expect(b.commands.some((c) => c.includes("vlan"))).toBe(false);
    expect(b.commands).toContainEqual(["channel", "setaccess", "1", "2", "link=on", "ipmi=on", "callin=on", "privilege=4"]);
    expect(renderBmc({ ...IPMI, vlan: "off" })!.commands).toContainEqual(["lan", "set", "1", "vlan", "id", "off"]);
    expect(renderBmc({ ...IPMI, privilege: "user", user: "u" })!.commands).toContainEqual(["channel", "setaccess", "1", "2", "link=on", "ipmi=on", "callin=on", "privilege=2"]);
  });

  it("only the LAN settings without a user", () => {
    const b = renderBmc({ ...IPMI, userId: 5, password: { kind: "env", name: "P" } })!;
    expect(b.commands.every((c) => c[0] === "lan")).toBe(true);
    expect(b.passwordUserId).toBeUndefined();
  });

  it("renders for IPMI and for a manual BMC with an address (onboarding); never for Redfish or without an address", () => {
    expect(renderBmc({ ...IPMI, driver: "manual" })?.commands[1]).toEqual(["lan", "set", "1", "ipaddr", "10.148.0.21"]);
    expect(renderBmc({ driver: "manual", port: 623 })).toBeUndefined();
    expect(renderBmc({ ...IPMI, driver: "redfish", port: 443 })).toBeUndefined();
    expect(renderBmc({ driver: "ipmi", port: 623 })).toBeUndefined();
    expect(renderBmc(undefined)).toBeUndefined();
  });

  it("the plan's shell form carries the commands, the channel and the password's user, never the password", () => {
    const plan = planFor({ ...IPMI, channel: 2, userId: 3, user: "mfops", password: { kind: "env", name: "BMC_PW" } });
    const sh = renderPlanShell(plan);
    expect(sh).toContain("MF_BMC_CHANNEL='2'\n");
    expect(sh).toContain("MF_BMC_PASSWORD_USER='3'\n");
    expect(sh).toContain("MF_BMC_3='user set name 3 mfops'\n");
    expect(sh + JSON.stringify(plan)).not.toMatch(/BMC_PW/);
  });

  it("refuses a user name the installer could not pass as one word", () => {
    expect(() => renderPlanShell(planFor({ ...IPMI, user: "a b" }))).toThrow(/unsafe word/);
  });
});

const BASE = `
network: {interface: eth1, address: 10.0.255.254/16}
images: {a: {root: /, kernel: /}}
diskLayouts:
  one: {disks: [{name: sda, match: {device: /dev/sda}, partitions: [{size: rest, fs: ext4, mount: /}]}]}
`;

function load(yaml: string) {
  const dir = writeConfig({ "cluster.yaml": BASE + yaml });
  return loadClusterSync(join(dir, "cluster.yaml"));
}

describe("in-band BMC settings in the configuration", () => {
  it("load merged from the category, per node", () => {
    const r = load(`
categories:
  c: {image: a, diskLayout: one, bmc: {user: mfops, password: {env: P}, netmask: 255.255.0.0, vlan: 42, channel: 2, userId: 3, privilege: operator}}
nodes:
  - {name: n1, category: c, mac: "52:54:00:00:00:01", ip: 10.0.0.1, bmc: {address: 10.1.0.1}}
  - {name: n2, category: c, mac: "52:54:00:00:00:02", ip: 10.0.0.2, bmc: {address: 10.1.0.2, vlan: "off", driver: manual}}
`);
    expect(r.diagnostics).toEqual([]);
    const [n1, n2] = r.cluster!.nodes;
    expect(n1!.bmc).toMatchObject({ driver: "ipmi", vlan: 42, channel: 2, userId: 3, privilege: "operator", netmask: "255.255.0.0" });
    expect(n2!.bmc).toMatchObject({ driver: "manual", vlan: "off", channel: 2, userId: 3 });
  });

  it("says what a VLAN may be (not the secret's message other oneOf fields used to get)", () => {
    const r = load(`
nodes:
  - {name: n1, image: a, diskLayout: one, mac: "52:54:00:00:00:01", ip: 10.0.0.1, bmc: {address: 10.1.0.1, vlan: "42", cipherSuite: fast}}
`);
    expect(r.diagnostics.map((d) => [d.code, d.message])).toEqual([
      ["invalid-value", '"bmc.vlan" of node "n1" must be an integer from 1 to 4094 or "off"'],
      ["invalid-value", '"bmc.cipherSuite" of node "n1" must be an integer from 0 to 255 or "auto"'],
    ]);
  });

  it.each([
    ["vlan: 4095", "vlan"],
    ["vlan: 0", "vlan"],
    ["channel: 16", "channel"],
    ["userId: 1", "userId"],
    ["privilege: root", "privilege"],
  ])("refuses %s with the file, line and field", (setting, field) => {
    const r = load(`
nodes:
  - name: n1
    image: a
    diskLayout: one
    mac: "52:54:00:00:00:01"
    ip: 10.0.0.1
    bmc:
      address: 10.1.0.1
      ${setting}
`);
    expect(r.cluster).toBeUndefined();
    const err = r.diagnostics.find((d) => d.severity === "error");
    expect(err?.message).toContain(field);
    expect(err?.file).toMatch(/cluster.yaml$/);
    expect(err?.line).toBe(15);
  });
});
