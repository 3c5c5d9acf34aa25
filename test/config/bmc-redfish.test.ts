// BMC settings for Redfish and IPMI: defaults by driver, the TLS check resolved
// (a CA relative to the file that names it, a fingerprint without colons),
// `insecure: true` loaded but warned about where it is written, and the errors a
// wrong `tls` gets (one of ca | fingerprint | insecure, a well-formed fingerprint).
import { join } from "node:path";
import { parse } from "yaml";
import { afterAll, describe, expect, it } from "vitest";
import { loadClusterSync } from "../../src/config/load.js";
import { prefixToNetmask, renderLabConfig } from "../../src/lab/cluster-config.js";
import { resolveLabOptions } from "../../src/lab/options.js";
import { removeConfigs, writeConfig } from "./helpers.js";

afterAll(removeConfigs);

const BASE = `
network: {interface: eth1, address: 10.0.255.254/16}
images: {a: {root: /, kernel: /}}
diskLayouts:
  one: {disks: [{name: sda, match: {device: /dev/sda}, partitions: [{size: rest, fs: ext4, mount: /}]}]}
`;

function load(yaml: string) {
  const dir = writeConfig({ "cluster.yaml": BASE + yaml });
  return { dir, ...loadClusterSync(join(dir, "cluster.yaml")) };
}

const FP = "5e:3b:0c:91:7d:22:a4:6f:10:88:e2:4b:c3:19:5a:07:6d:f1:2e:93:b8:44:70:0a:1c:d6:65:3f:29:8b:e0:9a";

describe("bmc settings by driver", () => {
  it("redfish: port 443, session auth unless told, the CA beside the file, the fingerprint normalized", () => {
    const r = load(`
categories:
  c: {image: a, diskLayout: one, bmc: {driver: redfish, user: root, password: {env: BMC_PW}, tls: {ca: certs/bmc-ca.pem}}}
nodes:
  - {name: n1, category: c, mac: "52:54:00:00:00:01", ip: 10.0.0.1, bmc: {address: 10.1.0.1}}
  - {name: n2, category: c, mac: "52:54:00:00:00:02", ip: 10.0.0.2, bmc: {address: 10.1.0.2, auth: basic, system: System.Embedded.1, port: 8443, tls: {fingerprint: "${FP}"}}}
`);
    expect(r.diagnostics).toEqual([]);
    const [n1, n2] = r.cluster!.nodes;
    expect(n1!.bmc).toEqual({
      driver: "redfish",
      address: "10.1.0.1",
      user: "root",
      password: { kind: "env", name: "BMC_PW" },
      port: 443,
      tls: { ca: join(r.dir, "certs/bmc-ca.pem") },
    });
    expect(n2!.bmc).toMatchObject({ port: 8443, auth: "basic", system: "System.Embedded.1", tls: { fingerprint: FP.replace(/:/g, "").toUpperCase() } });
  });

  it("ipmi: port 623, the interface and cipher suite when written", () => {
    const r = load(`
nodes:
  - {name: n1, image: a, diskLayout: one, mac: "52:54:00:00:00:01", ip: 10.0.0.1, bmc: {address: 10.1.0.1, user: ADMIN, password: {env: P}, interface: lan}}
  - {name: n2, image: a, diskLayout: one, mac: "52:54:00:00:00:02", ip: 10.0.0.2, bmc: {address: 10.1.0.2, user: ADMIN, password: {env: P}, cipherSuite: 17}}
  - {name: n3, image: a, diskLayout: one, mac: "52:54:00:00:00:03", ip: 10.0.0.3, bmc: {address: 10.1.0.3, user: ADMIN, password: {env: P}, cipherSuite: auto}}
`);
    expect(r.diagnostics).toEqual([]);
    expect(r.cluster!.nodes.map((n) => [n.bmc!.port, n.bmc!.interface, n.bmc!.cipherSuite])).toEqual([
      [623, "lan", undefined],
      [623, undefined, 17],
      [623, undefined, "auto"],
    ]);
  });

  it("insecure: loads, with one warning at the place it is written", () => {
    const r = load(`
categories:
  c: {image: a, diskLayout: one, bmc: {driver: redfish, user: root, password: {env: P}, tls: {insecure: true}}}
nodes:
  - {name: "n[1-3]", category: c, macs: ["52:54:00:00:00:01", "52:54:00:00:00:02", "52:54:00:00:00:03"], ip: 10.0.0.1, bmc: {address: 10.1.0.1}}
`);
    expect(r.cluster!.nodes.every((n) => n.bmc!.tls && "insecure" in n.bmc!.tls)).toBe(true);
    const warnings = r.diagnostics.filter((d) => d.code === "bmc-tls-insecure");
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatchObject({ severity: "warning", line: 8 });
    expect(warnings[0]!.message).toContain("give bmc.tls.ca or bmc.tls.fingerprint instead");
  });

  it("refuses two checks at once, insecure: false, and a malformed fingerprint, naming the line", () => {
    for (const [tls, line] of [
      [`{ca: a.pem, insecure: true}`, 7],
      [`{insecure: false}`, 7],
      [`{fingerprint: "AB:CD"}`, 7],
      [`{}`, 7],
    ] as const) {
      const r = load(`
nodes:
  - name: n1
    image: a
    diskLayout: one
    mac: "52:54:00:00:00:01"
    ip: 10.0.0.1
    bmc: {driver: redfish, address: 10.1.0.1, user: root, password: {env: P}, tls: ${tls}}
`);
      expect(r.cluster, tls).toBeUndefined();
      const err = r.diagnostics.find((d) => d.severity === "error")!;
      expect(err.message, tls).toMatch(/tls/);
      expect(err.line, tls).toBeGreaterThanOrEqual(line);
    }
  });
});

describe("the lab's configuration for Redfish BMCs", () => {
  it("says driver redfish with the lab's certificate as CA, and no IPMI-only settings", () => {
    const y = renderLabConfig({
      clusterName: "mflab",
      bridge: "mfbr0",
      headAddress: "10.77.0.1",
      prefixLength: 24,
      imageRoot: "/lab/image",
      kernel: "/lab/image/boot/vmlinuz",
      initrd: "/lab/image/boot/initrd.img",
      bmcPasswordFile: "/lab/bmc-password",
      bmcUser: "admin",
      bmcPort: 443,
      bmcNetmask: prefixToNetmask(24),
      bmcDriver: "redfish",
      bmcTlsCa: "/lab/redfish-cert.pem",
      ports: {},
      nodes: [{ name: "lab1", mac: "52:54:00:4d:46:01", ip: "10.77.0.11", bmcAddress: "10.78.0.11" }],
    });
    expect((parse(y) as { categories: { default: { bmc: unknown } } }).categories.default.bmc).toEqual({
      driver: "redfish",
      user: "admin",
      password: { file: "/lab/bmc-password" },
      tls: { ca: "/lab/redfish-cert.pem" },
    });
  });

  it("lab options: --bmc redfish listens on 443 unless told; anything else is refused", () => {
    expect(resolveLabOptions({ bmc: "redfish" })).toMatchObject({ bmc: "redfish", bmcPort: 443 });
    expect(resolveLabOptions({})).toMatchObject({ bmc: "ipmi", bmcPort: 623 });
    expect(() => resolveLabOptions({ bmc: "snmp" as never })).toThrow('the lab\'s BMCs are "ipmi" or "redfish" (got "snmp")');
  });
});
