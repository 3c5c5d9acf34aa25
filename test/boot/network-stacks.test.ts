// The node's address in each network stack's own language (golden per stack), which
// files the installer writes for which stack, and the node's identity in the plan:
// machine-id and SSH host keys kept out of every rsync, root's authorized keys written.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { renderInstallPlan } from "../../src/boot/install-plan.js";
import { networkStackFiles } from "../../src/boot/network-stacks.js";
import type { NetworkStack } from "../../src/boot/plan-types.js";
import { renderPlanShell } from "../../src/boot/plan-shell.js";
import { apiUrlFor, layouts, network, node, planInputBase } from "./fixtures.js";

const goldenDir = join(dirname(fileURLToPath(import.meta.url)), "golden");

function golden(name: string, actual: string): void {
  const file = join(goldenDir, name);
  if (process.env.UPDATE_GOLDEN === "1" || !existsSync(file)) {
    if (process.env.UPDATE_GOLDEN !== "1") throw new Error(`golden file ${name} missing: run with UPDATE_GOLDEN=1`);
    mkdirSync(goldenDir, { recursive: true });
    writeFileSync(file, actual);
  }
  expect(actual).toBe(readFileSync(file, "utf8"));
}

const STACKS: NetworkStack[] = ["ifupdown", "networkd", "networkmanager", "netplan", "unknown"];
const KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGQ3y0mWm0Jm3Y8x0d6oN0c8m1sS4cXoQ7bVn9rT2kLp ops@head";

/** What the installer writes for one stack: each file with its path and mode, then the links. */
function forStack(stack: NetworkStack): string {
  const { files, symlinks } = networkStackFiles(node(), network);
  const out = files.filter((f) => !f.stacks || f.stacks.includes(stack)).map((f) => `==> ${f.path} (${f.mode})\n${f.content}`);
  for (const l of symlinks.filter((x) => !x.stacks || x.stacks.includes(stack))) out.push(`==> ${l.path} -> ${l.target}\n`);
  return out.join("\n");
}

describe("network configuration per stack", () => {
  for (const stack of STACKS) {
    it(`${stack} (golden)`, () => golden(`network.${stack}.txt`, forStack(stack)));
  }

  it("every stack gets exactly one way to configure the address, matched by MAC or a MAC-derived name", () => {
    const { files } = networkStackFiles(node(), network);
    for (const stack of STACKS) {
      const mine = files.filter((f) => !f.stacks || f.stacks.includes(stack));
      expect(mine.length, stack).toBeGreaterThan(0);
      // The node's address and MAC appear in what this stack reads (a name alone could be the wrong NIC).
      const text = mine.map((f) => f.content).join("\n");
      expect(text, stack).toContain("10.141.0.11");
      if (stack !== "unknown") expect(text.toLowerCase(), stack).toContain("52:54:00:12:34:01");
    }
    // ifupdown's interfaces names the NIC the .link file names; no placeholder is left for it.
    const ifupdown = files.filter((f) => f.stacks?.includes("ifupdown"));
    expect(ifupdown.map((f) => f.path).sort()).toEqual(["/etc/network/interfaces", "/etc/systemd/network/10-metalform.link"]);
    expect(ifupdown.find((f) => f.path === "/etc/network/interfaces")!.content).toContain("iface prov0 inet static");
    expect(ifupdown.some((f) => f.placeholders)).toBe(false);
    // NetworkManager and netplan refuse (or warn about) world-readable connection files.
    for (const p of ["/etc/NetworkManager/system-connections/metalform.nmconnection", "/etc/netplan/90-metalform.yaml"]) expect(files.find((f) => f.path === p)!.mode).toBe("0600");
  });
});

describe("the node's identity in the install plan", () => {
  const plan = renderInstallPlan({
    ...planInputBase,
    node: node({ sshAuthorizedKeys: [KEY, 'from="10.141.0.0/16" ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQC7 backup'] }),
    layout: layouts.single!,
    apiUrl: apiUrlFor("node001"),
  });

  it("keeps machine-id and SSH host keys out of every rsync (never copied from the image, never deleted)", () => {
    for (const list of [plan.exclude.sync, plan.exclude.full]) {
      expect(list).toContain("/etc/machine-id");
      expect(list).toContain("/etc/ssh/ssh_host_*");
    }
    expect(plan.identity).toEqual({ machineId: "/etc/machine-id", sshHostKeys: "/etc/ssh/ssh_host_*" });
  });

  it("writes root's authorized keys from the configuration, 0600 in a 0700 ~/.ssh, excluded from rsync", () => {
    const f = plan.files.find((x) => x.path === "/root/.ssh/authorized_keys")!;
    expect(f).toMatchObject({ mode: "0600", dirMode: "0700" });
    expect(f.content.split("\n").filter((l) => l && !l.startsWith("#"))).toEqual([KEY, 'from="10.141.0.0/16" ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQC7 backup']);
    expect(plan.exclude.sync).toContain("/root/.ssh/authorized_keys");
    const sh = renderPlanShell(plan);
    expect(sh).toMatch(/MF_FILE_\d+_DIRMODE='0700'/);
    expect(sh).toContain("MF_MACHINE_ID_FILE='/etc/machine-id'");
    // No keys configured: no file (the image's own, if any, is left alone).
    const none = renderInstallPlan({ ...planInputBase, node: node(), layout: layouts.single!, apiUrl: apiUrlFor("node001") });
    expect(none.files.some((x) => x.path === "/root/.ssh/authorized_keys")).toBe(false);
  });
});
