import { describe, expect, it } from "vitest";
import { renderInstallPlan, type InstallPlanInput } from "../../src/boot/install-plan.js";
import { renderPlanShell } from "../../src/boot/plan-shell.js";
import { InstallPlanError } from "../../src/boot/errors.js";
import { renderIpxeInstaller, renderIpxeLocal } from "../../src/boot/ipxe.js";
import { renderSfdisk } from "../../src/boot/sfdisk.js";
import { goldenDir } from "../helpers/golden.js";
import { apiUrlFor, GiB, image, layouts, MiB, node, part, planInputBase } from "./fixtures.js";

/** Compares with test/boot/golden/NAME; UPDATE_GOLDEN=1 rewrites it. */
const golden = goldenDir(new URL("./golden/", import.meta.url));

function input(layout: string, over: Partial<InstallPlanInput> = {}, nodeOver: Parameters<typeof node>[0] = {}): InstallPlanInput {
  const n = node({ diskLayout: layout, ...nodeOver });
  return { ...planInputBase, node: n, layout: layouts[layout]!, apiUrl: apiUrlFor(n.name), ...over };
}

const cases: Array<[string, InstallPlanInput]> = [
  ["single-ext4", input("single")],
  ["uefi", input("uefi", {}, { firmware: { mode: "uefi", secureBoot: false, arch: "x86_64", persistentBootDevice: false } })],
  ["secureboot", input("uefi", {}, { firmware: { mode: "uefi", secureBoot: true, arch: "x86_64", persistentBootDevice: false }, boot: "local" })],
  ["raid1", input("raid1", {}, { name: "node002", hostname: "node002.cluster.local", ip: "10.141.0.12" })],
  [
    "protected",
    input(
      "protected",
      {},
      {
        name: "store01",
        hostname: "store01.cluster.local",
        protect: true,
        bmc: { driver: "ipmi", address: "10.148.0.21", netmask: "255.255.0.0", gateway: "10.148.0.1", user: "admin", password: { kind: "env", name: "BMC_PW" }, port: 623 },
      },
    ),
  ],
  ["msdos", input("msdos", {}, { installMode: "full", excludeSync: ["/home/*"] })],
];

describe("install plans (golden)", () => {
  for (const [name, inp] of cases) {
    it(`${name}: JSON and shell form`, () => {
      const plan = renderInstallPlan(inp);
      golden(`${name}.plan.json`, JSON.stringify(plan, null, 2) + "\n");
      golden(`${name}.plan.sh`, renderPlanShell(plan));
    });
  }

  it("is deterministic and the fingerprint ignores mounts but not sizes", () => {
    const a = renderInstallPlan(input("single"));
    expect(renderInstallPlan(input("single"))).toEqual(a);
    const l = structuredClone(layouts.single!);
    l.disks[0]!.partitions[0]!.mountOptions = ["noatime"];
    expect(renderInstallPlan({ ...input("single"), layout: l }).fingerprint).toBe(a.fingerprint);
    l.disks[0]!.partitions.unshift(part({ name: "swap", size: { kind: "bytes", bytes: 64 * MiB }, fs: "swap", type: "swap" }));
    expect(renderInstallPlan({ ...input("single"), layout: l }).fingerprint).not.toBe(a.fingerprint);
  });

  it("mounts parents first and puts swap last", () => {
    const plan = renderInstallPlan(input("uefi"));
    expect(plan.filesystems.map((f) => f.mount ?? f.fs)).toEqual(["/", "/var", "/boot/efi", "swap"]);
  });

  it("keeps the BMC password out of the plan and honours --allow-wipe", () => {
    const inp = cases.find(([n]) => n === "protected")![1];
    const plan = renderInstallPlan(inp);
    expect(plan.protect).toBe(true);
    expect(plan.bmc?.passwordUserId).toBe(2);
    expect(JSON.stringify(plan)).not.toMatch(/BMC_PW|"password"/);
    expect(renderInstallPlan({ ...inp, allowWipe: true }).protect).toBe(false);
  });

  it("excludes lost+found of every ext4 fs and the files the installer writes", () => {
    const plan = renderInstallPlan(input("protected"));
    expect(plan.exclude.full).toContain("/lost+found");
    expect(plan.exclude.full).toContain("/scratch/lost+found");
    expect(plan.exclude.sync).toContain("/etc/fstab");
    expect(plan.exclude.sync).toContain("/etc/metalform/layout");
  });

  it("refuses layouts it cannot render", () => {
    const bad = structuredClone(layouts.single!);
    bad.disks[0]!.partitions.push(part({ name: "late", size: { kind: "bytes", bytes: GiB }, mount: "/late" }));
    expect(() => renderInstallPlan({ ...input("single"), layout: bad })).toThrow(/rest of the disk/);
    const noRoot = structuredClone(layouts.single!);
    noRoot.disks[0]!.partitions[0]!.mount = "/srv";
    expect(() => renderInstallPlan({ ...input("single"), layout: noRoot })).toThrow(InstallPlanError);
    const five = { ...layouts.msdos!.disks[0]!, partitions: Array.from({ length: 5 }, (_, i) => part({ name: `p${i}`, size: { kind: "bytes", bytes: MiB } })) };
    expect(() => renderSfdisk(five)).toThrow(/at most 4/);
    expect(() => renderInstallPlan(input("single", {}, { hostname: "x" }))).not.toThrow();
    expect(() => renderInstallPlan(input("single", { rsyncUrl: "http://x/" }))).toThrow(/rsync URL/);
  });

  it("quotes hostile values in the shell form", () => {
    const plan = renderInstallPlan(input("single", {}, { hostname: "a'b;$(reboot)" }));
    expect(renderPlanShell(plan)).toContain(`MF_HOSTNAME='a'\\''b;$(reboot)'`);
  });
});

describe("iPXE scripts (golden)", () => {
  const n = node();
  it("runs the installer", () => {
    golden(
      "node001.installer.ipxe",
      renderIpxeInstaller({
        node: n,
        image,
        kernelUrl: "http://10.141.0.1:8080/boot/images/compute/vmlinuz",
        initrdUrl: "http://10.141.0.1:8080/boot/installer/installer-0123abcd.img",
        apiUrl: apiUrlFor(n.name),
      }),
    );
  });
  it("carries no credential: the script is public (fetched by MAC) and its command line stays in /proc/cmdline", () => {
    const s = renderIpxeInstaller({ node: n, image, kernelUrl: "http://x/k", initrdUrl: "http://x/i", apiUrl: apiUrlFor(n.name) });
    expect(s).not.toMatch(/token|password|secret|credential/i);
  });
  it("boots the local disk with exit or sanboot", () => {
    golden("node001.local.ipxe", renderIpxeLocal(n));
    expect(renderIpxeLocal(n, "sanboot")).toContain("sanboot --no-describe --drive 0x80");
  });
  it("refuses kernel arguments that are not plain words", () => {
    expect(() => renderIpxeInstaller({ node: node({ kernelArgs: ["a b"] }), image, kernelUrl: "http://x/k", initrdUrl: "http://x/i", apiUrl: "http://x" })).toThrow(/plain word/);
  });
});
