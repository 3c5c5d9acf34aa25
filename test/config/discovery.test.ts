// network.discovery in the configuration (issue 19): resolved with its image (the
// first by default), refused with file:line when authoritative mode has no dynamic
// range or the image is unknown; the lab's configuration turns it on for unlisted VMs;
// the state keeps inventories and reads states written before them; the inventory
// iPXE script carries no secret and no install API URL.
import { afterAll, describe, expect, it } from "vitest";
import { parse } from "yaml";
import { renderIpxeInventory } from "../../src/boot/ipxe.js";
import { loadCluster } from "../../src/config/load.js";
import { renderLabConfig } from "../../src/lab/cluster-config.js";
import { resolveLabOptions } from "../../src/lab/options.js";
import { newState, parseState, serializeState } from "../../src/state/codec.js";
import { image } from "../plan/fixtures.js";
import { removeConfigs, writeConfig } from "./helpers.js";

afterAll(removeConfigs);

const BASE = `network:
  interface: eth1
  address: 10.141.255.254/16
  dhcp:
    mode: authoritative
DHCP_EXTRA
  discovery:
    enabled: true
IMAGE_LINE
images:
  compute: { root: /srv/compute, kernel: /srv/compute/boot/vmlinuz }
  gpu: { root: /srv/gpu, kernel: /srv/gpu/boot/vmlinuz }
`;

function config(o: { range?: boolean; image?: string }): string {
  const text = BASE.replace("DHCP_EXTRA", o.range ? "    dynamicRange: { start: 10.141.200.1, end: 10.141.200.254 }" : "")
    .replace("IMAGE_LINE", o.image ? `    image: ${o.image}` : "")
    .replace(/\n\n/g, "\n");
  return writeConfig({ "cluster.yaml": text });
}

describe("network.discovery", () => {
  it("resolves with the first image when none is named, poweroff by default", async () => {
    const r = await loadCluster(config({ range: true }));
    expect(r.diagnostics.filter((d) => d.severity === "error")).toEqual([]);
    expect(r.cluster!.network.discovery).toEqual({ image: "compute", then: "poweroff" });
  });

  it("keeps a named image", async () => {
    expect((await loadCluster(config({ range: true, image: "gpu" }))).cluster!.network.discovery?.image).toBe("gpu");
  });

  it("refuses authoritative discovery without a dynamic range, and an unknown image, at their lines", async () => {
    const r = await loadCluster(config({ image: "nope" }));
    expect(r.cluster).toBeUndefined();
    const errs = r.diagnostics.filter((d) => d.severity === "error").map((d) => `${d.code} ${d.line}`);
    expect(errs).toEqual(expect.arrayContaining(["discovery-needs-dynamic-range 7", "unknown-image 8"]));
  });
});

describe("the lab with unlisted VMs", () => {
  it("leaves them out and turns discovery on with a range above the nodes", () => {
    expect(() => resolveLabOptions({ nodes: 2, unlisted: 2 })).toThrow(/unlisted VMs must be from 0 to 1/);
    expect(resolveLabOptions({ nodes: 3, unlisted: 1 }).unlisted).toBe(1);
    const yaml = renderLabConfig({
      clusterName: "lab",
      bridge: "mfbr0",
      headAddress: "10.77.0.1",
      prefixLength: 24,
      imageRoot: "/i",
      kernel: "/i/vmlinuz",
      initrd: "/i/initrd",
      bmcPasswordFile: "/p",
      bmcUser: "admin",
      bmcPort: 623,
      bmcNetmask: "255.255.255.0",
      ports: {},
      nodes: [{ name: "lab1", mac: "52:54:00:4d:46:01", ip: "10.77.0.11", bmcAddress: "10.78.0.11" }],
      discovery: { dynamicRange: { start: "10.77.0.200", end: "10.77.0.250" } },
    });
    const doc = parse(yaml) as { network: { dhcp: { dynamicRange: unknown }; discovery: unknown } };
    expect(doc.network.dhcp.dynamicRange).toEqual({ start: "10.77.0.200", end: "10.77.0.250" });
    expect(doc.network.discovery).toEqual({ enabled: true });
  });
});

describe("inventories in the state", () => {
  it("are kept; a state without them still reads; a malformed one is refused", () => {
    const s = newState("lab");
    expect(parseState(serializeState(s), "s.json").inventory).toBeUndefined();
    s.inventory = { "52:54:00:00:00:01": { mac: "52:54:00:00:00:01", time: "t", facts: { dmi: {}, cpu: { logical: 1 }, memoryBytes: 1, disks: [], nics: [], bmc: null } } };
    expect(parseState(serializeState(s), "s.json").inventory).toEqual(s.inventory);
    const bad = JSON.parse(serializeState(s)) as { inventory: Record<string, { facts: { disks: unknown } }> };
    bad.inventory["52:54:00:00:00:01"]!.facts.disks = "vda";
    expect(() => parseState(JSON.stringify(bad), "s.json")).toThrow(/inventory of "52:54:00:00:00:01" malformed/);
  });
});

describe("the inventory iPXE script", () => {
  it("boots the discovery kernel and installer with the discovery URL, and no secret", () => {
    const s = renderIpxeInventory({
      mac: "52:54:00:99:00:01",
      image: image("compute"),
      kernelUrl: "http://10.0.0.1/files/kernel-compute/vmlinuz",
      initrdUrl: "http://10.0.0.1/files/installer-discovery/installer.img",
      discoveryUrl: "http://10.0.0.1/api/v1/installer/discovery/52:54:00:99:00:01",
      then: "wait",
    });
    expect(s).toMatch(/^#!ipxe\n/);
    expect(s).toContain("mf.discovery=http://10.0.0.1/api/v1/installer/discovery/52:54:00:99:00:01 mf.mac=52:54:00:99:00:01 mf.then=wait");
    expect(s).not.toMatch(/mf\.api=|token|password/);
    expect(() =>
      renderIpxeInventory({ mac: "52:54:00:99:00:01", image: image("compute", { kernelArgs: ["a b"] }), kernelUrl: "k", initrdUrl: "i", discoveryUrl: "d", then: "poweroff" }),
    ).toThrow(/not a single plain word/);
  });
});
