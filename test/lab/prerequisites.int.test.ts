// The prerequisite check asks dpkg for real: on this machine every lab package is
// installed (the CI installs them); a package that does not exist is reported missing
// with the exact apt-get line.
import { describe, expect, it } from "vitest";
import { aptInstallLine, checkPrerequisites, describePrerequisites, LAB_PACKAGES, resolveKernelPackage } from "../../src/lab/prerequisites.js";

describe("lab prerequisites", () => {
  it("finds every lab package installed and a kernel package apt can download", async () => {
    const r = await checkPrerequisites();
    expect(
      r.missing.map((m) => m.package),
      describePrerequisites(r),
    ).toEqual([]);
    expect(r.ok).toBe(true);
    expect(r.aptInstall).toBeUndefined();
    expect(r.kernelPackage).toMatch(/^linux-image-\d+\.\d+\.\d+-\d+-amd64$/);
  });

  it("lists the packages the issue names", () => {
    const names = LAB_PACKAGES.map((p) => p.package);
    for (const p of ["qemu-system-x86", "ipxe-qemu", "ipxe", "openipmi", "ipmitool", "rsync", "busybox-static", "e2fsprogs", "fdisk"]) expect(names).toContain(p);
  });

  it("reports exactly what is missing and the apt-get line that installs it", async () => {
    const r = await checkPrerequisites({
      kernelCached: true,
      packages: [
        { package: "rsync", why: "installed" },
        { package: "metalform-no-such-package-a", why: "a" },
        { package: "metalform-no-such-package-b", why: "b" },
      ],
    });
    expect(r.ok).toBe(false);
    expect(r.missing.map((m) => m.package)).toEqual(["metalform-no-such-package-a", "metalform-no-such-package-b"]);
    expect(r.aptInstall).toBe("apt-get install -y metalform-no-such-package-a metalform-no-such-package-b");
    expect(describePrerequisites(r)).toContain("Install them with: apt-get install -y metalform-no-such-package-a metalform-no-such-package-b");
  });

  it("resolves the kernel package from linux-image-amd64", async () => {
    expect(await resolveKernelPackage()).toMatch(/^linux-image-/);
    expect(aptInstallLine(["a", "b"])).toBe("apt-get install -y a b");
  });
});
