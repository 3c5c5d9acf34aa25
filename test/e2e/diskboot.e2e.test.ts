// Nodes that boot from their own disk (issue 15.4), end to end in one lab of three QEMU
// VMs (TCG) with the lab's Debian 12 recipe (GRUB for BIOS and UEFI and Debian's signed
// chain in the image, built once into the shared recipe cache): a BIOS node (SeaBIOS,
// GPT with a BIOS boot partition), a UEFI node (OVMF, an ESP) and a Secure Boot node
// (OVMF secboot with Microsoft's keys, the same ESP). One apply installs all three and
// they come UP; the installer reports GRUB on each disk — for Secure Boot shim and the
// signed GRUB on the ESP with the NVRAM entry on shim. Then nothing of metalform runs any
// more (apply has exited: no DHCP, TFTP, HTTP or rsync in the namespace) and each node is
// power-cycled through its BMC, network first as the BMC left it: the network boot
// finds nobody, the firmware goes on to the disk, GRUB boots the installed Debian (the
// Secure Boot node's kernel says Secure Boot is still enabled), and the node answers ping
// at its address from the head node's side of the bridge. The times of each install
// phase (power → DHCP → loader → installer → UP, from apply's events) and of each disk
// boot (power → GRUB → kernel → login prompt → address) are printed.
import { execFileSync } from "node:child_process";
import { readFileSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { labDown, labExec, labIpmitool, labUp, type LabInfo } from "../../src/lab/index.js";
import { applyEvents, eventMessage, formatPhaseTimes, phaseTimes } from "../helpers/apply-events.js";
import { removeStaleNamespaces } from "../helpers/netns.js";
import { LAB_TOOLS, requireTools, tempLabDir } from "../lab/helpers/lab-env.js";

const ROOT = new URL("../../", import.meta.url).pathname;
// mfBdb<pid>: this test's lab; namespaces of earlier, dead runs are removed first.
const NS = `mfBdb${process.pid}`;
const dir = tempLabDir("diskboot");
const METALFORM = [process.execPath, join(ROOT, "bin/metalform")];
let lab: LabInfo;
/** Set when the apply installed every node: the power cycles have nothing to boot otherwise (and would wait out their deadline). */
let installed = false;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Listening sockets in the lab's namespace (ss -H -l -n -t -u): what a metalform service would hold. */
function listening(): string {
  return execFileSync("ip", ["netns", "exec", NS, "ss", "-H", "-l", "-n", "-t", "-u"], { encoding: "utf8" });
}

/**
 * Seconds from `t0` until the serial log (from `offset` on) shows GRUB, then the kernel
 * being loaded after it, then a login prompt after that; polled until the prompt or the deadline.
 */
async function watchBoot(serialLog: string, offset: number, t0: number, deadlineMs: number): Promise<{ times: Record<string, number>; text: string }> {
  const markers: Array<[string, RegExp]> = [
    ["grub", /GNU GRUB|Booting `/],
    ["kernel", /Loading Linux|Loading initial ramdisk/],
    ["login", /login: *$/m],
  ];
  const times: Record<string, number> = {};
  let text = "";
  while (Date.now() < deadlineMs) {
    text = readFileSync(serialLog, "utf8").slice(offset);
    let from = 0;
    for (const [k, re] of markers) {
      const m = re.exec(text.slice(from));
      if (!m) break;
      from += m.index + m[0].length;
      times[k] ??= (Date.now() - t0) / 1000;
    }
    if (times.login !== undefined) break;
    await sleep(1000);
  }
  return { times, text };
}

async function pingable(ip: string, deadlineMs: number): Promise<boolean> {
  while (Date.now() < deadlineMs) {
    try {
      execFileSync("ip", ["netns", "exec", NS, "ping", "-c", "1", "-W", "2", ip], { stdio: "ignore" });
      return true;
    } catch {
      await sleep(1000);
    }
  }
  return false;
}

beforeAll(async () => {
  requireTools(LAB_TOOLS);
  removeStaleNamespaces(/^mfBdb(\d+)$/, { killProcesses: true });
  // The Debian recipe is built once per machine into the shared cache (minutes the first time).
  lab = await labUp({ namespace: NS, dir, nodes: 3, image: "debian", powerOn: false, bmcSerialPortBase: 9540, firmware: ["bios", "uefi", "secureboot"] });
  // The lab image's kernel runs `quiet`: the Secure Boot node's console shows info messages
  // (loglevel=7, GRUB's settings carry it to the disk boot), so "secureboot: Secure boot enabled" reaches its serial log.
  const yaml = readFileSync(lab.configPath, "utf8").replace(/(  - name: lab3\n)/, "$1    kernelArgs: [loglevel=7]\n");
  writeFileSync(lab.configPath, yaml);
}, 1_500_000);

afterAll(async () => {
  await labDown({ namespace: NS, dir }).catch(() => undefined);
  rmSync(dirname(dir), { recursive: true, force: true });
}, 120_000);

describe("BIOS, UEFI and Secure Boot nodes boot their installed Debian from their own disk", () => {
  it("one apply installs all three with GRUB (Secure Boot: shim and the signed GRUB) on their disks; each comes UP", async () => {
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
        "0",
        "--phase-timeout",
        "dhcp=180s",
        "--phase-timeout",
        "boot-files=300s",
        "--phase-timeout",
        "installer=600s",
        // Three VMs under TCG on a loaded 2-core machine: the image sync and the configuration with the boot loader may take minutes.
        "--phase-timeout",
        "sync=900s",
        "--phase-timeout",
        "config=900s",
        "--phase-timeout",
        "switch-root=600s",
      ],
      { capture: true, timeoutMs: 2_400_000 },
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
    const msgs = (node: string) => evs.filter((e) => e.node === node).map(eventMessage);
    expect(msgs("lab1"), detail).toContainEqual(expect.stringMatching(/^bootloader: GRUB i386-pc on \/dev\/vda$/));
    expect(msgs("lab2"), detail).toContainEqual(expect.stringMatching(/^bootloader: GRUB x86_64-efi on \/boot\/efi; EFI boot order [0-9A-F,]+ \(network-first\)$/));
    // Secure Boot: shim under the distribution's name (the NVRAM entry's file) and at the removable path, the entry on shim.
    expect(msgs("lab3"), detail).toContainEqual(
      expect.stringMatching(
        /^bootloader: shim and signed GRUB x86_64-efi on \/boot\/efi \(\\EFI\\debian\\shimx64\.efi, \\EFI\\BOOT\\BOOTX64\.EFI; NVRAM Boot[0-9A-F]{4}\); EFI boot order [0-9A-F,]+ \(network-first\)$/,
      ),
    );
    const state = JSON.parse(readFileSync(join(dir, ".metalform/state.json"), "utf8")) as {
      images: Record<string, { digest: string }>;
      nodes: Record<string, { reported?: { phase: string; imageDigest?: string } }>;
    };
    for (const n of ["lab1", "lab2", "lab3"]) expect(state.nodes[n]!.reported).toMatchObject({ phase: "up", imageDigest: state.images.debian!.digest });
    // The install ran under Secure Boot: the signed kernel said so on the first boot's console.
    expect(readFileSync(lab.nodes[2]!.serialLog, "utf8")).toMatch(/secureboot: Secure boot enabled/);
    const lines = lab.nodes.map((n) => {
      const total = Number(evs.find((e) => e.type === "node_complete" && e.node === n.name)?.elapsed_s);
      return `  ${(n.firmware ?? "bios").padEnd(10)} ${n.name}: ${formatPhaseTimes(phaseTimes(evs, n.name))} (node total ${total} s)`;
    });
    installed = true;
    process.stdout.write(`\ninstall of the Debian image (3 VMs in parallel, seconds from the power command):\n${lines.join("\n")}\n`);
  }, 2_500_000);

  it("with no metalform service running, a power cycle boots each node from its disk to its address", async () => {
    expect(installed, "the apply above did not install every node").toBe(true);
    // apply has exited: nothing listens for DHCP (67), TFTP (69), HTTP (80) or rsync (873) any more.
    const socks = listening();
    for (const port of [67, 69, 80, 873]) expect(socks, socks).not.toMatch(new RegExp(`:${port}\\s`));

    const results = await Promise.all(
      lab.nodes.map(async (n) => {
        // Power off and on through the BMC; its boot device is still "pxe" from the apply: network first.
        const off = await labIpmitool(lab, n.name, ["chassis", "power", "off"]);
        expect(off.code, off.stderr).toBe(0);
        await sleep(2000);
        // Read once the VM is gone: what the first boot's console still printed is not this boot's.
        const offset = readFileSync(n.serialLog, "utf8").length;
        const t0 = Date.now();
        const on = await labIpmitool(lab, n.name, ["chassis", "power", "on"]);
        expect(on.code, on.stderr).toBe(0);
        const deadline = t0 + 900_000;
        const { times, text } = await watchBoot(n.serialLog, offset, t0, deadline);
        const up = await pingable(n.ip, deadline);
        return { n, times, text, up, address: (Date.now() - t0) / 1000 };
      }),
    );
    const lines = results.map(({ n, times, up, address }) => {
      const fw = n.firmware ?? "bios";
      return `  ${fw.padEnd(10)} ${n.name}: power→GRUB ${times.grub ?? "—"} s, kernel ${times.kernel ?? "—"} s, login prompt ${times.login ?? "—"} s, ping ${up ? address.toFixed(1) : "—"} s`;
    });
    process.stdout.write(`\ndisk boot with metalform stopped (3 VMs in parallel, seconds from the power command):\n${lines.join("\n")}\n`);
    for (const { n, text, up } of results) {
      const tail = text.slice(-3000);
      // GRUB from the disk (no network loader answered), then the kernel, then Debian's own login prompt.
      expect(text, tail).toMatch(/GNU GRUB|Booting `/);
      expect(text, tail).toMatch(/Loading Linux \S+ \.\.\./);
      expect(text, tail).toMatch(new RegExp(`${n.name}(\\.lab\\.test)? login:`));
      expect(up, `${n.name} (${n.ip}) does not answer ping\n${tail}`).toBe(true);
    }
    // The UEFI nodes' firmware tried the network first and found nothing.
    expect(results[1]!.text).toMatch(/Start PXE over IPv4/);
    const secure = results[2]!.text;
    expect(secure).toMatch(/Start PXE over IPv4/);
    // Secure Boot stayed on: the firmware verified shim from the disk, shim GRUB, and the kernel says so and locks itself down.
    expect(secure, secure.slice(-3000)).toMatch(/secureboot: Secure boot enabled/);
    expect(secure).toMatch(/Kernel is locked down from EFI Secure Boot/);
    expect(results[1]!.text).not.toMatch(/Secure boot enabled/);
  }, 1_000_000);
});
