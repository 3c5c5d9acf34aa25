// A node's interfaces beyond the provisioning NIC in each network stack's language
// (golden per stack: static IPv4+IPv6, DHCP, MTU, a bond of two, VLANs on a bond and
// on a NIC, a bridge, routes, DNS), which stack reads which file, and ifupdown's
// devices made with iproute2 so that no extra package is needed.
import { describe, expect, it } from "vitest";
import { renderInstallPlan } from "../../src/boot/install-plan.js";
import { networkStackFiles } from "../../src/boot/network-stacks.js";
import type { NetworkStack } from "../../src/boot/plan-types.js";
import { renderPlanShell } from "../../src/boot/plan-shell.js";
import { goldenDir } from "../helpers/golden.js";
import { apiUrlFor, layouts, network, node, planInputBase } from "./fixtures.js";
import { IFACES } from "./interfaces-fixture.js";

const golden = goldenDir(new URL("./golden/", import.meta.url));

const STACKS: NetworkStack[] = ["ifupdown", "networkd", "networkmanager", "netplan"];

/** What the installer writes for one stack: each file with its path and mode. */
function forStack(stack: NetworkStack): string {
  const { files } = networkStackFiles(node({ interfaces: IFACES }), network);
  return files
    .filter((f) => !f.stacks || f.stacks.includes(stack))
    .map((f) => `==> ${f.path} (${f.mode})\n${f.content}`)
    .join("\n");
}

describe("a node's interfaces per network stack", () => {
  for (const stack of STACKS) it(`${stack} (golden)`, () => golden(`interfaces.${stack}.txt`, forStack(stack)));

  it("every stack configures each interface's addresses; NICs given by MAC are named by .link files where udev names them", () => {
    const { files } = networkStackFiles(node({ interfaces: IFACES }), network);
    for (const stack of STACKS) {
      const text = files
        .filter((f) => !f.stacks || f.stacks.includes(stack))
        .map((f) => f.content)
        .join("\n");
      for (const a of ["10.79.0.11/24", "fd00:79::11/64", "10.81.0.11/16", "10.82.0.11/24", "10.83.0.11/24", "10.80.0.0/16"]) expect(text, `${stack} ${a}`).toContain(a);
      expect(text.toLowerCase(), stack).toContain("52:54:00:12:35:02");
      // The provisioning NIC is still there, unchanged.
      expect(text, stack).toContain("10.141.0.11");
    }
    const links = files.filter((f) => f.path.endsWith(".link") && f.path.includes("20-metalform-"));
    expect(links.map((f) => f.path)).toEqual(["/etc/systemd/network/20-metalform-data0.link", "/etc/systemd/network/20-metalform-bond0s0.link"]);
    expect(links[1]!.content).toContain("PermanentMACAddress=52:54:00:12:35:02");
    expect(links.every((f) => !f.stacks!.includes("netplan"))).toBe(true);
  });

  it("ifupdown brings lower devices up first and leaves bond members to ifenslave", () => {
    const text = forStack("ifupdown");
    const order = [...text.matchAll(/^auto (\S+)$/gm)].map((m) => m[1]);
    expect(order).toEqual(["lo", "prov0", "data0", "eth2", "bond0", "data0.20", "vl100", "br0"]);
    expect(text).not.toMatch(/^auto (ens6|bond0s0)$/m);
  });

  it("a node without interfaces gets exactly the files it had before", () => {
    const before = networkStackFiles(node(), network);
    const after = networkStackFiles(node({ interfaces: [] }), network);
    expect(after).toEqual(before);
  });
});

describe("ifupdown without extra packages", () => {
  it("makes bonds, bridges and VLANs not named LINK.ID with iproute2, idempotently; a LINK.ID VLAN is ifupdown's own", () => {
    const text = forStack("ifupdown");
    expect(text).toContain("pre-up ip link show bond0 >/dev/null 2>&1 || ip link add bond0 type bond mode active-backup miimon 100");
    expect(text).toContain("pre-up ip link set ens6 master bond0");
    expect(text).toContain("pre-up ip link show vl100 >/dev/null 2>&1 || ip link add link bond0 name vl100 type vlan id 100");
    expect(text).toContain("pre-up ip link set eth2 master br0");
    expect(text).not.toContain("ip link add link data0 name data0.20");
    // No option of ifenslave, bridge-utils or the vlan package.
    expect(text).not.toMatch(/bond-slaves|bridge_ports|vlan-raw-device/);
    const plan = renderInstallPlan({ ...planInputBase, node: node({ interfaces: IFACES }), layout: layouts.single!, apiUrl: apiUrlFor("node001") });
    // Every file the installer writes for the interfaces is kept out of rsync's way.
    for (const f of plan.files.filter((x) => x.path.includes("metalform-"))) expect(plan.exclude.sync).toContain(f.path);
    expect(renderPlanShell(plan)).toContain("MF_FILE_COUNT=");
  });
});
