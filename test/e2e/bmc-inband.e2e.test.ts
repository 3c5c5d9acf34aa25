// In-band BMC settings, written and read back. Two lab VMs — one installs the lab's
// busybox image on the lab kernel, one Debian 12 on its own distribution kernel — each
// with QEMU's KCS interface wired to its own ipmi_sim. Their BMCs are "new to the
// head": the configuration names a user (slot 3, operator) and password they do not
// have yet, so the nodes are `driver: manual` (this test powers them on with the lab's
// own admin account, as a person at the rack would) and the installer sets the BMC's
// LAN channel (address, netmask, gateway, VLAN) and the user through /dev/ipmi0. The
// head then reads the settings out-of-band (`ipmitool -I lanplus lan print` at the
// BMC's address) and logs in with the new user and password. A third (busybox) node
// names a LAN channel its BMC does not have: its bmc step fails with ipmitool's message.
import { randomBytes } from "node:crypto";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { parse, stringify } from "yaml";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { labDown, labIpmitool, labUp, type LabInfo } from "../../src/lab/index.js";
import { randomBmcPassword } from "../../src/lab/bmc.js";
import { runCommand, inNamespace } from "../../src/lab/run.js";
import { detail, jsonLines, type ApplyEvent, type Run } from "../helpers/debian-lab.js";
import { DEBIAN_NODE_RECIPE, debianRoot } from "../helpers/debian-root.js";
import { removeStaleNamespaces, requireBuilt, startMetalformInNs } from "../helpers/netns.js";

const NS = `mfKbmc${process.pid % 100000}`;
let lab: LabInfo;
let config: string;
/** The password the installer gives user `mfops` (16 characters: ipmi_sim keeps only 16 of a 20-byte one). */
let newPasswordFile: string;
/** The settings each node's BMC must end up with; the lab's ipmi_sim starts with 0.0.0.0, no VLAN and no user 3. */
const WANT = { netmask: "255.255.0.0", gateway: "10.78.0.254", user: "mfops", userId: 3, privilege: "operator" };
const VLAN: Record<string, number> = { lab1: 42, lab2: 43 };
let events: ApplyEvent[] = [];

/** ipmitool over lanplus from the head's namespace to a node's BMC, as `user` with the password in `file`. */
async function oob(node: string, user: string, file: string, args: string[]): Promise<Run> {
  const n = lab.nodes.find((x) => x.name === node)!;
  const argv = ["ipmitool", "-I", "lanplus", "-C", "3", "-H", n.bmcAddress, "-p", String(n.bmcPort), "-U", user, "-f", file, "-R", "2", "-N", "2", ...args];
  const r = await runCommand(inNamespace(NS, argv), { timeoutMs: 60_000 });
  return { code: r.code ?? 1, stdout: r.stdout, stderr: r.stderr };
}

/** `lan print` as the lab's own admin account (slot 2, which the installer leaves alone). */
async function lanPrint(node: string): Promise<Record<string, string>> {
  const r = await oob(node, "admin", lab.bmcPasswordFile, ["lan", "print", "1"]);
  expect(r.code, detail(r)).toBe(0);
  const out: Record<string, string> = {};
  for (const line of r.stdout.split("\n")) {
    const m = /^([^:]+?)\s*:\s*(.*)$/.exec(line);
    if (m && m[1]!.trim()) out[m[1]!.trim()] = m[2]!.trim();
  }
  return out;
}

/** The cluster: the lab's, with node lab2 on the Debian recipe and both BMCs to be set up in-band. */
function writeConfig(debianRecipe: typeof DEBIAN_NODE_RECIPE): string {
  const doc = parse(readFileSync(lab.configPath, "utf8")) as {
    images: Record<string, unknown>;
    categories: { default: Record<string, unknown> };
    nodes: Array<Record<string, unknown> & { name: string; bmc: Record<string, unknown> }>;
  };
  const { suite, variant, packages } = debianRecipe;
  doc.images["debian"] = { recipe: { suite, variant, packages }, kernelArgs: ["console=ttyS0"] };
  const { user, userId, privilege, netmask, gateway } = WANT;
  doc.categories.default["bmc"] = { driver: "manual", user, userId, privilege, netmask, gateway, channel: 1, password: { file: newPasswordFile } };
  for (const n of doc.nodes) if (VLAN[n.name]) n.bmc["vlan"] = VLAN[n.name];
  doc.nodes[1]!["image"] = "debian";
  doc.nodes[2]!.bmc["channel"] = 7; // ipmi_sim's only LAN channel is 1
  const file = join(lab.dir, "bmc-inband.yaml");
  writeFileSync(file, stringify(doc, { lineWidth: 0 }));
  return file;
}

beforeAll(async () => {
  requireBuilt();
  removeStaleNamespaces(/^mfKbmc(\d+)$/, { killProcesses: true });
  const debian = await debianRoot(DEBIAN_NODE_RECIPE); // from the recipe cache (built once per machine)
  lab = await labUp({ namespace: NS, nodes: 3, memoryMiB: 1024, diskBytes: 3 * 1024 ** 3, powerOn: false });
  newPasswordFile = join(lab.dir, "mfops-password");
  writeFileSync(newPasswordFile, randomBmcPassword(randomBytes(16)) + "\n", { mode: 0o600 });
  config = writeConfig(debian.recipe);
}, 1_800_000);

afterAll(async () => {
  await labDown({ namespace: NS }).catch(() => undefined);
}, 120_000);

/** Runs apply; when it waits for a node's manual power-on, turns that VM on through the lab's BMC account. */
async function applyPoweringOnByHand(): Promise<Run> {
  const child = startMetalformInNs(NS, ["apply", "--auto-approve", "--json", "--retries", "0", "-c", config]);
  let stdout = "";
  let stderr = "";
  const poweredOn = new Set<string>();
  child.stderr!.on("data", (d: Buffer) => (stderr += d.toString()));
  child.stdout!.on("data", (d: Buffer) => {
    stdout += d.toString();
    for (const e of jsonLines(stdout)) {
      const node = String(e.node);
      if (e.type !== "node_phase" || e.phase !== "power" || poweredOn.has(node)) continue;
      poweredOn.add(node);
      void labIpmitool(lab, node, ["chassis", "bootdev", "pxe"]).then(() => labIpmitool(lab, node, ["chassis", "power", "on"]));
    }
  });
  const code = await new Promise<number>((resolve) => child.once("exit", (c) => resolve(c ?? 1)));
  return { code, stdout, stderr };
}

describe.sequential("in-band BMC settings (KCS) read back out-of-band", () => {
  it("before: the BMCs have the simulator's defaults and no user mfops", async () => {
    for (const node of ["lab1", "lab2"]) {
      const lan = await lanPrint(node);
      expect(lan["Subnet Mask"]).toBe("0.0.0.0");
      expect(lan["802.1q VLAN ID"]).toBe("Disabled");
      const login = await oob(node, WANT.user, newPasswordFile, ["chassis", "power", "status"]);
      expect(login.code, detail(login)).not.toBe(0);
    }
  }, 120_000);

  it("a busybox node and a Debian node install and report the bmc step's outcome; a wrong channel fails with ipmitool's message", async () => {
    const run = await applyPoweringOnByHand();
    events = jsonLines(run.stdout);
    expect(run.code, detail(run)).not.toBe(0); // lab3 failed
    const failed = events.find((e) => e.type === "node_errored" && e.node === "lab3" && e.final);
    expect(failed, detail(run)).toBeDefined();
    // ipmitool's own words, without its usage text.
    expect(String(failed!.error)).toMatch(/ipmitool lan set 7 ipsrc static failed: Get Channel Info command failed: .*\nChannel 7 is not a LAN channel!/);
    expect(String(failed!.error)).not.toMatch(/usage|IANA/);
    for (const node of ["lab1", "lab2"]) {
      expect(
        events.find((e) => e.type === "node_complete" && e.node === node),
        detail(run),
      ).toBeDefined();
      const address = lab.nodes.find((n) => n.name === node)!.bmcAddress;
      // The installer's own in-band read-back, in the bmc step's message.
      const said = JSON.stringify(events.filter((e) => e.node === node));
      expect(said).toContain(`channel 1: ${address} netmask ${WANT.netmask} gateway ${WANT.gateway} vlan ${VLAN[node]} (over /dev/ipmi0; password of user ${WANT.userId} set)`);
    }
  }, 1_200_000);

  it.each(["lab1", "lab2"])(
    "%s: lan print at the BMC's address shows what the installer set",
    async (node) => {
      const lan = await lanPrint(node);
      expect(lan).toMatchObject({
        "IP Address Source": "Static Address",
        "IP Address": lab.nodes.find((n) => n.name === node)!.bmcAddress,
        "Subnet Mask": WANT.netmask,
        "Default Gateway IP": WANT.gateway,
        "802.1q VLAN ID": String(VLAN[node]),
      });
    },
    120_000,
  );

  it.each(["lab1", "lab2"])(
    "%s: the new user logs in with the new password; the BMC lists it in slot 3 as operator",
    async (node) => {
      const status = await oob(node, WANT.user, newPasswordFile, ["-L", "OPERATOR", "chassis", "power", "status"]);
      expect(status.code, detail(status)).toBe(0);
      expect(status.stdout).toContain("Chassis Power is on");
      const wrong = join(lab.dir, "wrong-password");
      writeFileSync(wrong, "not-the-password\n", { mode: 0o600 });
      const refused = await oob(node, WANT.user, wrong, ["chassis", "power", "status"]);
      expect(refused.code, detail(refused)).not.toBe(0);
      // (ipmi_sim does not hold a session to the user's channel limit: -L ADMINISTRATOR would pass too.)
      const users = await oob(node, "admin", lab.bmcPasswordFile, ["user", "list", "1"]);
      expect(users.stdout).toMatch(/^3\s+mfops\s+true\s+true\s+true\s+OPERATOR/m);
    },
    180_000,
  );
});
