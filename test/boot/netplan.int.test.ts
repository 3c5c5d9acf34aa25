// The netplan files metalform writes, read by netplan itself (Debian's netplan.io):
// `netplan generate --root-dir` accepts them and makes the networkd devices and
// addresses they describe — the bond with its members, the VLANs, the bridge, the NICs
// renamed by MAC — the same ones metalform's own networkd rendering has.
import { execFileSync, spawnSync } from "node:child_process";
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { networkStackFiles } from "../../src/boot/network-stacks.js";
import { requireCommands } from "../helpers/netns.js";
import { network, node } from "./fixtures.js";
import { IFACES } from "./interfaces-fixture.js";

const root = mkdtempSync(join(tmpdir(), "mf-netplan-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));

/** netplan's networkd output for what metalform writes for the netplan stack. */
function generate(): Map<string, string> {
  const { files } = networkStackFiles(node({ interfaces: IFACES }), network);
  for (const f of files.filter((x) => x.stacks?.includes("netplan"))) {
    mkdirSync(dirname(join(root, f.path)), { recursive: true });
    writeFileSync(join(root, f.path), f.content);
    chmodSync(join(root, f.path), Number.parseInt(f.mode, 8));
  }
  const r = spawnSync("netplan", ["generate", "--root-dir", root], { encoding: "utf8" });
  expect(r.status, r.stderr).toBe(0);
  const dir = join(root, "run/systemd/network");
  return new Map(readdirSync(dir).map((n) => [n, readFileSync(join(dir, n), "utf8")]));
}

describe("netplan reads metalform's netplan files", () => {
  it("netplan generate makes the bond, VLANs, bridge and renamed NICs with their addresses", () => {
    requireCommands({ netplan: "netplan.io" });
    execFileSync("netplan", ["--help"], { stdio: "ignore" });
    const out = generate();
    expect([...out.keys()].filter((n) => n.endsWith(".netdev")).sort()).toEqual([
      "10-netplan-bond0.netdev",
      "10-netplan-br0.netdev",
      "10-netplan-data0.20.netdev",
      "10-netplan-vl100.netdev",
    ]);
    expect(out.get("10-netplan-bond0.netdev")).toMatch(/Kind=bond[\s\S]*Mode=active-backup[\s\S]*MIIMonitorSec=100ms/);
    expect(out.get("10-netplan-vl100.netdev")).toMatch(/Kind=vlan[\s\S]*Id=100/);
    expect(out.get("10-netplan-br0.netdev")).toMatch(/Kind=bridge/);
    expect(out.get("10-netplan-data0.link")).toMatch(/MACAddress=52:54:00:12:35:01[\s\S]*Name=data0/);
    expect(out.get("10-netplan-bond0s0.link")).toMatch(/MACAddress=52:54:00:12:35:02[\s\S]*Name=bond0s0/);
    for (const m of ["bond0s0", "ens6"]) expect(out.get(`10-netplan-${m}.network`)).toContain("Bond=bond0");
    expect(out.get("10-netplan-eth2.network")).toContain("Bridge=br0");
    expect(out.get("10-netplan-data0.network")).toMatch(/Address=10\.79\.0\.11\/24[\s\S]*Address=fd00:79::11\/64/);
    expect(out.get("10-netplan-data0.network")).toContain("VLAN=data0.20");
    expect(out.get("10-netplan-data0.network")).toMatch(/Destination=10\.80\.0\.0\/16\nGateway=10\.79\.0\.254/);
    expect(out.get("10-netplan-bond0.network")).toContain("VLAN=vl100");
    // The same addresses metalform's own networkd rendering gives each device.
    const own = networkStackFiles(node({ interfaces: IFACES }), network).files.filter(
      (f) => f.path.startsWith("/etc/systemd/network/30-metalform-") && f.path.endsWith(".network"),
    );
    for (const f of own) {
      const name = /30-metalform-(.+)\.network$/.exec(f.path)![1]!;
      const addrs = (s: string) => [...s.matchAll(/^Address=(\S+)$/gm)].map((m) => m[1]).sort();
      expect(addrs(out.get(`10-netplan-${name}.network`) ?? ""), name).toEqual(addrs(f.content));
    }
  });
});
