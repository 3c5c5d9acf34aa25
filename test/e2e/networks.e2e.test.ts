// A Debian 12 node with a network beyond its provisioning NIC, end to end in the lab
// (issue 17.1): the lab gets a second bridge (a data network, the head at 10.79.0.1/24
// and fd00:79::1/64) and the node two more NICs on it. Its configuration declares the
// network once and gives the node `bond0`, an active-backup bond of the two NICs (by
// MAC) with static IPv4 and IPv6 and the network's MTU. The image is the lab's Debian
// recipe (ifupdown, no ifenslave: metalform makes the bond with iproute2): install →
// UP, and the head reaches the node on both networks; then the node reboots from its
// own disk with metalform stopped and is reached on both again, its bond as configured.
// (No VLAN here: this machine's kernel has no 8021q, so the head cannot join one.)
import { readFileSync, writeFileSync } from "node:fs";
import { parse, stringify } from "yaml";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { labExec, labIpmitool } from "../../src/lab/index.js";
import { DebianLab, detail } from "../helpers/debian-lab.js";
import { debianRoot } from "../helpers/debian-root.js";
import { removeStaleNamespaces, requireBuilt } from "../helpers/netns.js";

const NS = `mfNnet${process.pid}`;
const lab = new DebianLab(NS);
const numbers: string[] = [];
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
/** Set when the first test installed the node: the reboot test has nothing to reboot otherwise. */
let installed = false;

const ADDRESSES = { prov: "", data: "10.79.0.11", data6: "fd00:79::11" };

/** The head's ping of `ip` from the lab namespace, retried until `deadlineMs`. */
async function pingable(ip: string, deadlineMs: number): Promise<boolean> {
  while (Date.now() < deadlineMs) {
    const r = await labExec({ namespace: NS, dir: lab.lab.dir }, ["ping", "-c", "1", "-W", "2", ip], { capture: true, timeoutMs: 10_000 });
    if (r.code === 0) return true;
    await sleep(1000);
  }
  return false;
}

/** Every network answers: the provisioning address, the data network's IPv4 and IPv6. */
async function reachedOnEveryNetwork(what: string, t0: number): Promise<void> {
  const deadline = Date.now() + 300_000;
  const got: Record<string, boolean> = {};
  for (const [k, ip] of Object.entries(ADDRESSES)) got[k] = await pingable(ip, deadline);
  numbers.push(`${what}: every network answers ping ${((Date.now() - t0) / 1000).toFixed(0)} s after the start`);
  expect(got, lab.console().slice(-4000)).toEqual({ prov: true, data: true, data6: true });
}

/** The node's own view: the bond, its mode and members, MTU, addresses. */
async function interfacesOnNode(): Promise<void> {
  const r = await lab.sshWhenUp("cat /proc/net/bonding/bond0; ip -o link show bond0; ip -o addr show dev bond0");
  expect(r.code, detail(r)).toBe(0);
  expect(r.stdout, detail(r)).toContain("Bonding Mode: fault-tolerance (active-backup)");
  expect(r.stdout, detail(r)).toContain("Slave Interface: bond0s0");
  expect(r.stdout, detail(r)).toContain("Slave Interface: bond0s1");
  expect(r.stdout, detail(r)).toMatch(/bond0: .* mtu 1400 /);
  expect(r.stdout).toContain("inet 10.79.0.11/24");
  expect(r.stdout).toContain("inet6 fd00:79::11/64");
}

beforeAll(async () => {
  requireBuilt();
  removeStaleNamespaces(/^mfNnet(\d+)$/, { killProcesses: true });
  // The lab's own Debian recipe: built once per machine into the shared cache.
  const root = await debianRoot();
  await lab.up(root, { dataNetwork: { address: "10.79.0.1/24", address6: "fd00:79::1/64", nics: 2 } });
  ADDRESSES.prov = lab.node.ip;
  type Doc = { networks?: unknown; nodes: Array<Record<string, unknown>>; diskLayouts: { single: { disks: Array<{ partitions: unknown[] }> } } };
  const doc = parse(readFileSync(lab.config, "utf8")) as Doc;
  // GRUB's core image on a GPT disk of a BIOS node needs a BIOS boot partition (the node reboots from its disk).
  doc.diskLayouts.single.disks[0]!.partitions.splice(1, 0, { size: "1MiB", type: "bios", fs: "none" });
  doc.networks = { data: { subnet: "10.79.0.0/24", ipv6: "fd00:79::/64", mtu: 1400 } };
  const members = lab.node.dataNics!.map((n) => n.mac);
  doc.nodes[0]!["interfaces"] = [{ name: "bond0", bond: { mode: "active-backup", members }, network: "data", ip: ADDRESSES.data, ip6: ADDRESSES.data6 }];
  writeFileSync(lab.config, stringify(doc, { lineWidth: 0 }));
}, 1_800_000);

afterAll(async () => {
  if (numbers.length) process.stdout.write(`\nnetworks e2e:\n${numbers.map((l) => `  ${l}`).join("\n")}\n`);
  await lab.down();
}, 120_000);

describe.sequential("a Debian node with a bond on a data network besides its provisioning network", () => {
  it("the plan shows the node's bond; install → UP; the head reaches it on both networks", async () => {
    const plan = await lab.mf(["plan", "-c", lab.config, "--json"]);
    expect(plan.code, detail(plan)).toBe(0);
    const doc = JSON.parse(plan.stdout) as { node_changes: Array<{ after: { network: { interfaces?: Array<Record<string, unknown>> } } }> };
    expect(doc.node_changes[0]!.after.network.interfaces).toEqual([
      expect.objectContaining({ name: "bond0", kind: "bond", ipv4: { address: "10.79.0.11", prefix: 24 }, ipv6: { address: "fd00:79::11", prefix: 64 }, mtu: 1400 }),
    ]);
    const t0 = Date.now();
    const { run, events, seconds } = await lab.apply(["--phase-timeout", "installer=600s"]);
    expect(run.code, `${detail(run)}\nconsole:\n${lab.console().slice(-4000)}`).toBe(0);
    expect(
      events.find((e) => e.type === "node_complete"),
      detail(run),
    ).toMatchObject({ node: lab.node.name });
    numbers.push(`install → UP: ${seconds.toFixed(0)} s`);
    // The installer found Debian's ifupdown and wrote its files.
    expect(lab.console()).toMatch(/configure finished: .*network ifupdown/);
    await reachedOnEveryNetwork("first boot", t0);
    await interfacesOnNode();
    installed = true;
  }, 1_800_000);

  it("rebooted from its own disk with metalform stopped, the node is reached on both networks again", async () => {
    expect(installed, "the node was not installed").toBe(true);
    const before = lab.console().length;
    const node = lab.node.name;
    expect((await labIpmitool(lab.lab, node, ["chassis", "bootdev", "disk"])).code).toBe(0);
    const t0 = Date.now();
    expect((await labIpmitool(lab.lab, node, ["chassis", "power", "cycle"])).code).toBe(0);
    const deadline = t0 + 600_000;
    while (Date.now() < deadline && !/login: *$/m.test(lab.console(before))) await sleep(2000);
    const text = lab.console(before);
    expect(text, text.slice(-4000)).toMatch(/GNU GRUB|Booting `/);
    expect(text, text.slice(-4000)).toMatch(/login: *$/m);
    expect(text).not.toMatch(/metalform: rsync started/);
    await reachedOnEveryNetwork("reboot from disk", t0);
    await interfacesOnNode();
  }, 900_000);
});
