// `metalform power` end to end: the built CLI, a configuration on disk, the real
// ipmitool against ipmi_sim on loopback, the password from the environment.
import { execFile } from "node:child_process";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { freePort } from "../helpers/ports.js";
import { startIpmiSim, type SimBmc } from "./ipmi-sim.js";

const ROOT = new URL("../../", import.meta.url).pathname;
const HOST = `127.0.0.${2 + ((process.pid + 101) % 200)}`;
const PASSWORD = "cli-Secret-42";
let sim: SimBmc;
let dir: string;

function run(args: string[], env: Record<string, string> = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [join(ROOT, "bin/metalform"), ...args], { env: { ...process.env, ...env, NO_COLOR: "1" }, timeout: 60_000 }, (err, stdout, stderr) =>
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    );
  });
}

beforeAll(async () => {
  if (!existsSync(join(ROOT, "dist/cli/main.js"))) throw new Error("dist/ is not built: run `npm run build` (scripts/test.sh does)");
  sim = await startIpmiSim({ host: HOST, port: await freePort({ protocol: "udp", host: HOST }), users: [{ name: "admin", password: PASSWORD }], power: "off" });
  dir = mkdtempSync(join(tmpdir(), "mf-power-cli-"));
  for (const f of ["vmlinuz"]) writeFileSync(join(dir, f), "k");
  writeFileSync(
    join(dir, "cluster.yaml"),
    `network: { interface: lo, address: 10.9.0.1/24 }
images: { img: { root: ".", kernel: vmlinuz } }
diskLayouts:
  l: { disks: [ { name: d, match: { device: /dev/vda }, partitions: [ { size: rest, fs: ext4, mount: / } ] } ] }
categories:
  c: { image: img, diskLayout: l }
nodes:
  - { name: n1, category: c, mac: "52:54:00:00:00:01", ip: 10.9.0.11, bmc: { address: ${HOST}, port: ${sim.port}, user: admin, password: { env: MF_TEST_BMC_PW } } }
  - { name: n2, category: c, mac: "52:54:00:00:00:02", ip: 10.9.0.12 }
`,
  );
});

afterAll(async () => {
  await sim?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe("metalform power", () => {
  it("reads status through the BMC and says which node has none", async () => {
    const r = await run(["power", "status", "n[1-2]", "-c", dir, "--json"], { MF_TEST_BMC_PW: PASSWORD });
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout) as { results: Array<{ node: string; ok: boolean; state?: string; manual?: boolean }> };
    expect(out.results.map((x) => [x.node, x.state])).toEqual([
      ["n1", "off"],
      ["n2", "unknown"],
    ]);
    expect(r.stdout + r.stderr).not.toContain(PASSWORD);
  });

  it("switches power on for real and fails (exit 1) for a node without a BMC", async () => {
    const r = await run(["power", "on", "n1", "n2", "-c", dir], { MF_TEST_BMC_PW: PASSWORD });
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/^n1\s+ok$/m);
    expect(r.stdout).toMatch(/^n2\s+FAILED: n2 has no BMC: power on n2 by hand$/m);
    expect(await sim.power()).toBe("1");
  });

  it("refuses a wrong password with a clear message and never prints it", async () => {
    const r = await run(["power", "status", "n1", "-c", dir], { MF_TEST_BMC_PW: "wrong-password-1" });
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/refused the credentials for user admin/);
    expect(r.stdout + r.stderr).not.toContain("wrong-password-1");
  });

  it("names an unknown node and a missing secret", async () => {
    const a = await run(["power", "status", "n9", "-c", dir], { MF_TEST_BMC_PW: PASSWORD });
    expect(a.code).toBe(1);
    expect(a.stderr).toContain("no such node in the configuration: n9");
    const b = await run(["power", "status", "n1", "-c", dir], {});
    expect(b.code).toBe(1);
    expect(b.stdout + b.stderr).toContain("MF_TEST_BMC_PW is not set");
  });
});
