// The lab's data network as options and QEMU arguments: defaults, per-node taps and
// MACs apart from the provisioning NIC's, data NICs without a boot ROM, and bad
// options refused with the reason.
import { describe, expect, it } from "vitest";
import { dataNicArgs, dataNics } from "../../src/lab/data-network.js";
import { nodeMac, resolveLabOptions } from "../../src/lab/options.js";

describe("the lab's data network", () => {
  it("is absent by default; given, it has a bridge and the head's addresses", () => {
    expect(resolveLabOptions({}).dataNetwork).toBeUndefined();
    expect(resolveLabOptions({ dataNetwork: {} }).dataNetwork).toEqual({ bridge: "mfdata0", headAddress: "10.79.0.1", prefixLength: 24, nics: 1 });
    expect(resolveLabOptions({ dataNetwork: { address: "10.90.0.1/16", address6: "fd00:90::1/64", nics: 2 } }).dataNetwork).toEqual({
      bridge: "mfdata0",
      headAddress: "10.90.0.1",
      prefixLength: 16,
      nics: 2,
      address6: "fd00:90::1/64",
    });
  });

  it("gives each node its own taps and MACs, none equal to a provisioning MAC, and NICs that do not network-boot", () => {
    const prefix = "52:54:00:4d:46";
    const nics = [1, 2].flatMap((n) => dataNics(prefix, n, 2));
    expect(nics).toEqual([
      { tap: "mfd1n0", mac: "52:54:00:4d:50:01" },
      { tap: "mfd1n1", mac: "52:54:00:4d:51:01" },
      { tap: "mfd2n0", mac: "52:54:00:4d:50:02" },
      { tap: "mfd2n1", mac: "52:54:00:4d:51:02" },
    ]);
    for (const n of [1, 2]) expect(nics.map((x) => x.mac)).not.toContain(nodeMac(prefix, n));
    expect(dataNicArgs(nics.slice(0, 1))).toEqual([
      "-netdev",
      "tap,id=d0,ifname=mfd1n0,script=no,downscript=no",
      "-device",
      "virtio-net-pci,netdev=d0,mac=52:54:00:4d:50:01,romfile=",
    ]);
  });

  it("refuses what it cannot build, saying why", () => {
    expect(() => resolveLabOptions({ dataNetwork: { nics: 5 } })).toThrow(/between 1 and 4/);
    expect(() => resolveLabOptions({ dataNetwork: { address6: "10.79.0.1/24" } })).toThrow(/IPv6 head address/);
    expect(() => resolveLabOptions({ dataNetwork: { address: "10.79.0.1" } })).toThrow(/prefix length/);
    expect(() => resolveLabOptions({ dataNetwork: { bridge: "a-very-long-bridge" } })).toThrow(/1-15 letters/);
  });
});
