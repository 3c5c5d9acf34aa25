// Discovery's access rules on the head's real services (issue 19, docs/security.md),
// on loopback: a host the configuration does not know fetches its inventory script
// from 127.0.0.5 and may then fetch the discovery kernel and installer — nothing else —
// and post one inventory from that address. Oversized, malformed and misplaced
// inventories, posts without a script fetch, and claims or plan fetches by unknown
// names are refused and change nothing; no secret is ever served.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { request } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { HeadServices } from "../../src/serve/head-services.js";
import type { InventoryRecord } from "../../src/state/inventory.js";
import { freePort } from "../helpers/ports.js";
import { cluster, image, node } from "../plan/fixtures.js";

const UNKNOWN = "52:54:00:99:00:01";
const HOST = "127.0.0.5";
const OTHER = "127.0.0.6";
const dir = mkdtempSync(join(tmpdir(), "mf-discovery-"));
let services: HeadServices;
const records: InventoryRecord[] = [];

const INVENTORY = {
  dmi: { vendor: "QEMU" },
  cpu: { logical: 1 },
  memoryBytes: 1 << 29,
  disks: [{ name: "vda", bytes: 2 ** 31 }],
  nics: [{ name: "eth0", mac: UNKNOWN, driver: "virtio_net", link: true }],
  bmc: null,
};

interface Answer {
  status: number;
  text: string;
}

function call(from: string, path: string, o: { method?: string; body?: string } = {}): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const url = new URL(path, services.httpBase);
    const req = request(
      {
        host: url.hostname,
        port: url.port,
        path: url.pathname,
        method: o.method ?? (o.body !== undefined ? "POST" : "GET"),
        localAddress: from,
        headers: { "content-type": "application/json" },
      },
      (res) => {
        let text = "";
        res.on("data", (d: Buffer) => (text += d.toString()));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, text }));
      },
    );
    req.on("error", reject);
    req.end(o.body);
  });
}

const inventoryPath = (mac: string) => `/api/v1/installer/discovery/${mac}/inventory`;

beforeAll(async () => {
  const root = join(dir, "image");
  mkdirSync(join(root, "boot"), { recursive: true });
  writeFileSync(join(root, "boot/vmlinuz"), "kernel");
  writeFileSync(join(root, "boot/initrd.img"), "initrd");
  writeFileSync(join(dir, "installer.img"), "installer");
  const c = cluster([node(1, { ip: "127.0.0.11", bmc: { driver: "ipmi", address: "10.1.0.1", user: "admin", password: { kind: "env", name: "MF_TEST_BMC_PW" }, port: 623 } })], {
    images: [image("compute", { root, kernel: join(root, "boot/vmlinuz"), initrd: join(root, "boot/initrd.img") })],
  });
  c.network = {
    ...c.network,
    address: "127.0.0.1",
    dhcp: { mode: "authoritative", leaseTime: 600, dynamicRange: { start: "127.0.0.100", end: "127.0.0.200" } },
    discovery: { image: "compute", then: "poweroff" },
    ports: { ...c.network.ports, http: 0, tftp: await freePort({ protocol: "udp" }), rsync: await freePort() },
  };
  services = new HeadServices({
    cluster: c,
    workDir: join(dir, "work"),
    imageDigests: new Map([["compute", { digest: "sha256:" + "a".repeat(64) }]]),
    installerFor: () => undefined,
    discoveryInstaller: join(dir, "installer.img"),
    dhcp: false,
  });
  services.on("inventory", (r) => records.push(r));
  await services.start();
}, 60_000);

afterAll(async () => {
  await services?.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe("discovery access on the head's services", () => {
  it("before its script fetch the host may post nothing and fetch no file", async () => {
    expect((await call(HOST, inventoryPath(UNKNOWN), { body: JSON.stringify(INVENTORY) })).status).toBe(403);
    expect((await call(HOST, "/files/kernel-compute/vmlinuz")).status).toBe(403);
    expect(records).toEqual([]);
  });

  it("its script is the inventory installer's, public and without a secret", async () => {
    const s = await call(HOST, `/boot/${UNKNOWN}.ipxe`);
    expect(s.status).toBe(200);
    expect(s.text).toContain(`mf.discovery=${services.httpBase}/api/v1/installer/discovery/${UNKNOWN}`);
    expect(s.text).toContain("mf.then=poweroff");
    expect(s.text).toContain("/files/installer-discovery/installer.img");
    expect(s.text).not.toMatch(/mf\.api=|token|password|secret/i);
  });

  it("after it: the discovery kernel and installer only, and only for the fetching address", async () => {
    expect((await call(HOST, "/files/kernel-compute/vmlinuz")).text).toBe("kernel");
    expect((await call(HOST, "/files/installer-discovery/installer.img")).text).toBe("installer");
    expect((await call(HOST, "/files/initrd-compute/initrd.img")).status).toBe(403);
    expect((await call(HOST, "/files/loaders/undionly.kpxe")).status).toBe(403);
    expect((await call(OTHER, "/files/kernel-compute/vmlinuz")).status).toBe(403);
  });

  it("claims, plans, BMC passwords and UP by unknown names or the MAC are refused", async () => {
    for (const n of ["node999", "52-54-00-99-00-01", "node001"]) {
      expect((await call(HOST, `/api/v1/installer/nodes/${n}/claim`, { body: "" })).status).toBe(403);
      expect((await call(HOST, `/api/v1/installer/nodes/${n}/plan`)).status).toBe(403);
      expect((await call(HOST, `/api/v1/installer/nodes/${n}/bmc-password`)).status).toBe(403);
      expect((await call(HOST, `/api/v1/installer/nodes/${n}/inventory`, { body: JSON.stringify(INVENTORY) })).status).toBe(403);
    }
    expect((await call(HOST, inventoryPath(UNKNOWN), { method: "GET" })).status).toBe(405);
  });

  it("a path under the installer API that names no endpoint is 404, not a server error", async () => {
    for (const p of ["/api/v1/installer/nodes/node001/bogus", "/api/v1/installer/nodes/a/b/c", "/api/v1/installer/other"]) {
      const a = await call(HOST, p);
      expect(a.status, p).toBe(404);
    }
  });

  it("oversized, malformed and wrongly placed inventories are refused and leave the session open; the good one is taken once", async () => {
    const big = { ...INVENTORY, dmi: { vendor: "x".repeat(70 * 1024) } };
    expect((await call(HOST, inventoryPath(UNKNOWN), { body: JSON.stringify(big) })).status).toBe(413);
    expect((await call(HOST, inventoryPath(UNKNOWN), { body: "{not json" })).status).toBe(400);
    const bad = await call(HOST, inventoryPath(UNKNOWN), { body: JSON.stringify({ ...INVENTORY, disks: [{ name: "vda", bytes: -1 }] }) });
    expect(bad).toEqual({ status: 400, text: expect.stringContaining("disks[0].bytes must be a non-negative integer") as string });
    expect((await call(OTHER, inventoryPath(UNKNOWN), { body: JSON.stringify(INVENTORY) })).status).toBe(403);
    expect((await call(HOST, inventoryPath("52:54:00:99:00:02"), { body: JSON.stringify(INVENTORY) })).status).toBe(403);
    expect((await call(HOST, "/api/v1/installer/discovery/not-a-mac/inventory", { body: "{}" })).status).toBe(404);
    expect(records).toEqual([]);
    expect((await call(HOST, inventoryPath(UNKNOWN), { body: JSON.stringify(INVENTORY) })).status).toBe(204);
    expect((await call(HOST, inventoryPath(UNKNOWN), { body: JSON.stringify(INVENTORY) })).status).toBe(403);
    expect(records).toEqual([expect.objectContaining({ mac: UNKNOWN, address: HOST, facts: expect.objectContaining({ memoryBytes: 1 << 29 }) as unknown })]);
    expect(records[0]!.node).toBeUndefined();
  });

  it("a second script fetch within the minute opens no new session (rate limit)", async () => {
    expect((await call(HOST, `/boot/${UNKNOWN}.ipxe`)).status).toBe(200);
    expect((await call(HOST, inventoryPath(UNKNOWN), { body: JSON.stringify(INVENTORY) })).status).toBe(403);
    expect(records).toHaveLength(1);
  });
});
