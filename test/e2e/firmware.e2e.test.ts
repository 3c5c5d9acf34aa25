// Firmware as servers have it, end to end in one lab of three QEMU VMs (TCG): a BIOS
// node (SeaBIOS, QEMU's iPXE ROM), a UEFI node (OVMF's own PXE, no ROM on the NIC →
// snponly.efi → the node's iPXE script) and a Secure Boot node (OVMF secboot with
// Microsoft's keys → Debian's shim → signed GRUB → the signed kernel over TFTP). One
// apply installs all three; each comes UP with the image's digest, and the Secure Boot
// node's kernel says on its serial console that Secure Boot is enabled. Per-phase
// times (power → DHCP → loader → installer → UP) are printed for each firmware.
import { readFileSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { labDown, labExec, labUp, type LabInfo } from "../../src/lab/index.js";
import { LAB_TOOLS, requireTools, tempLabDir } from "../lab/helpers/lab-env.js";
import { removeStaleNamespaces } from "../helpers/netns.js";
import { applyEvents, eventMessage, formatPhaseTimes, phaseTimes } from "../helpers/apply-events.js";

const ROOT = new URL("../../", import.meta.url).pathname;
// mfUfw<pid>: this test's lab; namespaces of earlier, dead runs are removed first.
const NS = `mfUfw${process.pid}`;
const dir = tempLabDir("fw");
const METALFORM = [process.execPath, join(ROOT, "bin/metalform")];
let lab: LabInfo;

beforeAll(async () => {
  requireTools(LAB_TOOLS);
  removeStaleNamespaces(/^mfUfw(\d+)$/, { killProcesses: true });
  lab = await labUp({ namespace: NS, dir, nodes: 3, memoryMiB: 384, powerOn: false, bmcSerialPortBase: 9300, firmware: ["bios", "uefi", "secureboot"] });
  // The lab image's kernel runs `quiet`: the Secure Boot node's console shows info
  // messages (loglevel=7: levels below 7), so "secureboot: Secure boot enabled" reaches its serial log.
  const yaml = readFileSync(lab.configPath, "utf8").replace(/(  - name: lab3\n)/, "$1    kernelArgs: [loglevel=7]\n");
  writeFileSync(lab.configPath, yaml);
}, 300_000);

afterAll(async () => {
  await labDown({ namespace: NS, dir }).catch(() => undefined);
  rmSync(dirname(dir), { recursive: true, force: true });
}, 120_000);

describe("BIOS, UEFI and Secure Boot nodes in one lab", () => {
  it("the lab configuration says which node has which firmware, and the plan shows it", async () => {
    const plan = await labExec({ namespace: NS, dir }, [...METALFORM, "plan", "-c", lab.configPath, "--json"], { capture: true, timeoutMs: 120_000 });
    expect(plan.code, plan.stderr).toBe(0);
    const doc = JSON.parse(plan.stdout) as { node_changes: Array<{ node: string; after: { firmware?: { mode: string; secure_boot: boolean } } }> };
    const fw = Object.fromEntries(doc.node_changes.map((c) => [c.node, c.after.firmware ?? null]));
    expect(fw).toEqual({ lab1: null, lab2: { mode: "uefi", secure_boot: false }, lab3: { mode: "uefi", secure_boot: true } });
  }, 120_000);

  it("one apply installs all three through their firmware's own boot path; each comes UP", async () => {
    const run = await labExec(
      { namespace: NS, dir },
      [
        ...METALFORM,
        "apply",
        "-c",
        lab.configPath,
        "--auto-approve",
        "--json",
        "--retries",
        "1",
        "--phase-timeout",
        "dhcp=120s",
        "--phase-timeout",
        "boot-files=300s",
        "--phase-timeout",
        "installer=300s",
      ],
      { capture: true, timeoutMs: 900_000 },
    );
    const evs = applyEvents(run.stdout);
    const detail = `exit ${run.code}\nstderr:\n${run.stderr.slice(-3000)}\nstdout:\n${run.stdout.slice(-6000)}`;
    expect(run.code, detail).toBe(0);
    expect(
      evs
        .filter((e) => e.type === "node_complete")
        .map((e) => e.node)
        .sort(),
    ).toEqual(["lab1", "lab2", "lab3"]);

    const msgs = (node: string) => evs.filter((e) => e.node === node).map((e) => eventMessage(e));
    // Each firmware fetched its own first loader: iPXE's for BIOS and UEFI, shim then signed GRUB for Secure Boot.
    expect(msgs("lab1")).toContain("iPXE script fetched");
    expect(msgs("lab1").some((m) => /fetched (snponly\.efi|shimx64\.efi)/.test(m))).toBe(false);
    expect(msgs("lab2")).toEqual(expect.arrayContaining([expect.stringMatching(/fetched snponly\.efi/), "iPXE script fetched"]));
    expect(msgs("lab3")).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/fetched shimx64\.efi/),
        expect.stringMatching(/fetched grubx64\.efi/),
        expect.stringMatching(/fetched grub\/grub\.cfg-01-52-54-00-4d-46-03/),
      ]),
    );
    expect(msgs("lab3")).not.toContain("iPXE script fetched");

    const state = JSON.parse(readFileSync(join(dir, ".metalform/state.json"), "utf8")) as {
      images: Record<string, { digest: string }>;
      nodes: Record<string, { reported?: { phase: string; imageDigest?: string } }>;
    };
    for (const n of ["lab1", "lab2", "lab3"]) {
      expect(state.nodes[n]!.reported).toMatchObject({ phase: "up", imageDigest: state.images.lab!.digest });
    }
    const consoles = lab.nodes.map((n) => readFileSync(n.serialLog, "utf8"));
    // UEFI: OVMF's own PXE ran (no iPXE ROM on the NIC), then the snponly.efi it loaded.
    expect(consoles[1]).toMatch(/Start PXE over IPv4/);
    expect(consoles[1]).toMatch(/lab2\.lab\.test up/);
    // Secure Boot: shim → GRUB → the Debian-signed kernel, which says so; then the installed system.
    expect(consoles[2]).toMatch(/NBP filename is shimx64\.efi/);
    // Debian's kernel says so, and locks itself down because of it.
    expect(consoles[2]).toMatch(/secureboot: Secure boot enabled/);
    expect(consoles[2]).toMatch(/Kernel is locked down from EFI Secure Boot/);
    expect(consoles[2]).toMatch(/integrity: Loaded X\.509 cert 'Microsoft Corporation UEFI CA 2011/);
    expect(consoles[1]).not.toMatch(/locked down from EFI Secure Boot/);
    expect(consoles[2]).toMatch(/lab3\.lab\.test up/);

    const lines = ["bios", "uefi", "secureboot"].map((fw, i) => {
      const node = `lab${i + 1}`;
      const t = phaseTimes(evs, node);
      const total = Number(evs.find((e) => e.type === "node_complete" && e.node === node)?.elapsed_s);
      return `  ${fw.padEnd(10)} ${node}: ${formatPhaseTimes(t)} (node total ${total} s)`;
    });
    process.stdout.write(`\nfirmware e2e (3 VMs in parallel, seconds from the power command):\n${lines.join("\n")}\n`);
  }, 960_000);
});
