// A real Debian 12 node in the virtual lab: its image is an mmdebstrap recipe (built
// once per machine and recipe into the shared recipe cache), it PXE-boots metalform's installer on its own distribution kernel,
// installs and comes UP; after a power cycle it boots the image's kernel and initrd from
// the head with its installed root and comes UP again with its network; root logs in
// over SSH with the configured key, systemd has no failed unit, and the node keeps its
// own machine-id and host keys. The node gets a file rendered from a template with its
// own values and a finalize script's effect, both still there after the power cycle; a
// changed var is planned as a sync boot and reaches the node. A package added to the
// recipe makes the plan show a sync that moves only the differences.
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DebianLab, detail } from "../helpers/debian-lab.js";
import { DEBIAN_NODE_RECIPE, debianRoot, treeBytes, withPackages, type DebianRoot } from "../helpers/debian-root.js";
import { requireBuilt } from "../helpers/netns.js";

const NS = `mfDe2e${process.pid % 10000}`;
const lab = new DebianLab(NS);
let base: DebianRoot;
let plusTree: DebianRoot;
const numbers: string[] = [];
/** What makes this node itself; must survive reboots and syncs. */
let identity = "";
const IDENTITY = "cat /etc/machine-id /etc/ssh/ssh_host_ed25519_key.pub";
/** The node's own file (a template) and what the finalize script leaves, as the node has them. */
const OWN_FILES = "cat /etc/metalform-node.conf /etc/metalform-finalized";

/** The category's files folder (one template), vars and scripts. */
function nodeFiles(rack: number): Record<string, unknown> {
  const dir = join(lab.lab.dir, "node-files");
  mkdirSync(join(dir, "etc"), { recursive: true });
  writeFileSync(join(dir, "etc/metalform-node.conf.liquid"), "name={{ node.name }}\nip={{ node.ip }}\nrack={{ vars.rack }}\nhead={{ head.address }}\n");
  return {
    files: dir,
    vars: { rack },
    initialize: 'echo "initialize on $MF_NODE"\n',
    finalize: 'echo "finalize on $MF_NODE rack $MF_VAR_rack" | tee /etc/metalform-finalized\n',
  };
}

function ownFilesText(rack: number): string {
  const n = lab.node;
  return `name=${n.name}\nip=${n.ip}\nrack=${rack}\nhead=${lab.lab.headAddress.split("/")[0]}\nfinalize on ${n.name} rack ${rack}\n`;
}

/** Boot finished, no failed unit, the node's own address on the NIC named prov0. */
async function healthy(): Promise<void> {
  const r = await lab.sshWhenUp("systemctl is-system-running --wait; systemctl --failed --no-legend --plain; echo ---; ip -4 -o addr show dev prov0");
  expect(r.code, detail(r)).not.toBe(255);
  const [state, rest] = r.stdout.split("\n---\n") as [string, string];
  expect(state.trim(), detail(r)).toBe("running"); // "degraded" would mean a failed unit
  expect(rest, detail(r)).toContain(`inet ${lab.node.ip}/24`);
}

beforeAll(async () => {
  requireBuilt();
  // Built once per machine and recipe (minutes), then taken from the cache.
  base = await debianRoot(DEBIAN_NODE_RECIPE);
  plusTree = await debianRoot(withPackages(DEBIAN_NODE_RECIPE, "tree"));
  await lab.up(base);
  lab.useCategoryExtras(nodeFiles(1));
}, 1_800_000);

afterAll(async () => {
  if (numbers.length) process.stdout.write(`\ndebian e2e:\n${numbers.join("\n")}\n`);
  await lab.down();
}, 120_000);

describe.sequential("a Debian 12 node in the lab", () => {
  it("installs with its own kernel, comes UP, and root logs in with the configured key; no failed unit", async () => {
    const { run, events, seconds } = await lab.apply();
    const consoleText = lab.console();
    expect(run.code, `${detail(run)}\nconsole:\n${consoleText.slice(-4000)}`).toBe(0);
    const done = events.find((e) => e.type === "node_complete");
    expect(done, detail(run)).toMatchObject({ node: lab.node.name, change: "install" });
    numbers.push(`install: ${seconds.toFixed(0)} s, ${Number(done!.bytes)} bytes received (image ${treeBytes(base.root)} bytes of files)`);
    expect(lab.state().nodes[lab.node.name]!.reported!.phase).toBe("up");
    // The installer found Debian's ifupdown and said so.
    expect(consoleText).toMatch(/configure finished: .*network ifupdown/);
    // The scripts ran, their output in the console and the progress.
    expect(consoleText).toContain(`metalform: initialize: initialize on ${lab.node.name}`);
    expect(consoleText).toContain(`metalform: finalize finished: finalize on ${lab.node.name} rack 1`);
    await healthy();
    const id = await lab.ssh(IDENTITY);
    identity = id.stdout;
    const [machineId, hostKey] = identity.trim().split("\n");
    expect(machineId).toMatch(/^[0-9a-f]{32}$/);
    // The node's host key is its own, not the image's.
    expect(hostKey).toMatch(/^ssh-ed25519 /);
    const imageKey = readFileSync(`${base.root}/etc/ssh/ssh_host_ed25519_key.pub`, "utf8");
    expect(hostKey!.split(" ")[1]).not.toBe(imageKey.split(" ")[1]);
  }, 1_800_000);

  it("after a power cycle it boots the image's kernel from `serve` with its disk as root, and is UP with its network", async () => {
    const serve = lab.serve();
    try {
      const before = lab.console().length;
      // Power-cycle only once serve answers: on a loaded machine its start (image digests) takes a while, and a node
      // whose PXE boot finds no DHCP falls through to its disk.
      const ready = Date.now() + 300_000;
      while (Date.now() < ready && !/"serving"/.test(serve.log())) await new Promise((r) => setTimeout(r, 1000));
      expect(serve.log()).toMatch(/"serving"/);
      await lab.powerCycle();
      const deadline = Date.now() + 600_000;
      while (Date.now() < deadline && !/"phase":"up"/.test(serve.log())) await new Promise((r) => setTimeout(r, 2000));
      const consoleText = lab.console(before);
      expect(serve.log(), `${serve.log().slice(-3000)}\nconsole:\n${consoleText.slice(-4000)}`).toMatch(new RegExp(`"node":"${lab.node.name}","phase":"up"`));
      expect(consoleText).not.toMatch(/metalform: rsync started/); // no installer this time
      expect(consoleText).not.toMatch(/\[FAILED\]/);
      await healthy();
      expect((await lab.ssh(IDENTITY)).stdout).toBe(identity);
      // The rendered file and the finalize script's effect are on the node's disk.
      const own = await lab.ssh(OWN_FILES);
      expect(own.stdout, detail(own)).toBe(ownFilesText(1));
    } finally {
      await serve.stop();
    }
  }, 900_000);

  it("a changed var is planned as a sync boot, reaches the node, and only then is recorded", async () => {
    lab.useCategoryExtras(nodeFiles(2));
    const plan = await lab.mf(["plan", "-c", lab.config, "--no-color"]);
    // The template's output and the finalize script's environment changed.
    expect(plan.stdout, detail(plan)).toContain("files: ~/etc/metalform-node.conf");
    expect(plan.stdout).toContain("sync boot: files, scripts changed");
    expect(plan.stdout).toContain("Plan: 0 to install, 0 to reimage (wipes disks), 1 to sync, 0 to update, 0 to remove.");
    const { run, events, seconds } = await lab.apply();
    expect(run.code, `${detail(run)}\nconsole:\n${lab.console().slice(-4000)}`).toBe(0);
    expect(events.find((e) => e.type === "node_complete")).toMatchObject({ change: "sync" });
    numbers.push(`sync boot for a changed var: ${seconds.toFixed(0)} s`);
    await healthy();
    const own = await lab.ssh(OWN_FILES + " && " + IDENTITY);
    expect(own.stdout, detail(own)).toBe(ownFilesText(2) + identity);
    const again = await lab.mf(["plan", "-c", lab.config, "--no-color", "--detailed-exitcode"]);
    expect(again.code, detail(again)).toBe(0);
  }, 1_800_000);

  it("a package added to the recipe: the plan shows a sync, only the differences move, the node comes UP with it", async () => {
    lab.useImage(plusTree);
    const plan = await lab.mf(["plan", "-c", lab.config, "--no-color"]);
    expect(plan.stdout, detail(plan)).toContain("Plan: 0 to install, 0 to reimage (wipes disks), 1 to sync, 0 to update, 0 to remove.");
    const { run, events, seconds } = await lab.apply();
    expect(run.code, `${detail(run)}\nconsole:\n${lab.console().slice(-4000)}`).toBe(0);
    const done = events.find((e) => e.type === "node_complete");
    expect(done).toMatchObject({ change: "sync" });
    const full = treeBytes(plusTree.root);
    numbers.push(`sync after adding a package: ${seconds.toFixed(0)} s, ${Number(done!.bytes)} bytes received of ${full} bytes of files`);
    expect(done!.bytes as number).toBeGreaterThan(0);
    // Two separate mmdebstrap runs differ in more than the package (logs, caches, the
    // rebuilt initrd), yet far less than the whole tree moves.
    expect(done!.bytes as number).toBeLessThan(full * 0.3);
    await healthy();
    const r = await lab.ssh("command -v tree && " + IDENTITY + " && " + OWN_FILES);
    // The sync's --delete kept the node's own file (and the finalize script wrote its file again).
    expect(r.stdout, detail(r)).toBe("/usr/bin/tree\n" + identity + ownFilesText(2));
  }, 1_800_000);
});
