// Apply power-cycles a node into its network boot with the boot device its firmware
// needs: `chassis bootdev pxe options=efiboot` for UEFI nodes (a BMC told plain "pxe"
// may boot them in legacy mode), `persistent` where configured, plain "pxe" for BIOS.
// A stand-in ipmitool records the commands (ipmi_sim, the lab's BMC, drops the flags).
import { EventEmitter } from "node:events";
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { ProvisioningDriver } from "../../src/apply/driver.js";
import type { Firmware, Node } from "../../src/config/types.js";
import type { NodeChange } from "../../src/plan/types.js";
import { cluster, node } from "../plan/fixtures.js";

const dir = mkdtempSync(join(tmpdir(), "mf-power-fw-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const calls = join(dir, "calls");
const tool = join(dir, "ipmitool");
// Prints what ipmitool would: the chassis is off, so apply powers it on.
writeFileSync(tool, `#!/bin/sh\necho "$*" >> ${calls}\ncase "$*" in *"power status"*) echo "Chassis Power is off" ;; esac\nexit 0\n`);
chmodSync(tool, 0o755);

const fw = (over: Partial<Firmware>): Firmware => ({ mode: "bios", secureBoot: false, arch: "x86_64", persistentBootDevice: false, ...over });

async function bootdevFor(n: Node): Promise<string> {
  writeFileSync(calls, "");
  const control = Object.assign(new EventEmitter(), { setBootMode: () => undefined, removeNode: () => undefined });
  const driver = new ProvisioningDriver({ cluster: cluster([n]), control, password: () => "pw", power: { ipmi: { ipmitoolPath: tool, attempts: 1 } }, ask: () => undefined });
  try {
    await driver.trigger({ node: n.name } as NodeChange, 1, new AbortController().signal);
  } finally {
    driver.close();
  }
  const lines = readFileSync(calls, "utf8").split("\n");
  expect(lines.some((l) => l.endsWith("power on"))).toBe(true);
  return lines.find((l) => l.includes("chassis bootdev"))!.replace(/^.* chassis bootdev /, "");
}

describe("boot device by firmware", () => {
  it("BIOS nodes: pxe for the next boot only", async () => {
    expect(await bootdevFor(node(1))).toBe("pxe");
  });
  it("UEFI and Secure Boot nodes: pxe with options=efiboot", async () => {
    expect(await bootdevFor(node(1, { firmware: fw({ mode: "uefi" }) }))).toBe("pxe options=efiboot");
    expect(await bootdevFor(node(1, { firmware: fw({ mode: "uefi", secureBoot: true }) }))).toBe("pxe options=efiboot");
  });
  it("persistent where configured", async () => {
    expect(await bootdevFor(node(1, { firmware: fw({ mode: "uefi", persistentBootDevice: true }) }))).toBe("pxe options=persistent,efiboot");
    expect(await bootdevFor(node(1, { firmware: fw({ persistentBootDevice: true }) }))).toBe("pxe options=persistent");
  });
});
