// The cluster configuration `lab up` writes for the lab it made: the real MACs, IPs
// and BMC addresses, the lab image and kernel, the bridge as the provisioning
// interface, and the BMC password as a file reference (never the value).
import { stringify } from "yaml";
import type { LabFirmware } from "./firmware.js";
import type { Recipe } from "../images/recipe.js";

function recipeYaml(r: Recipe): Record<string, unknown> {
  return { suite: r.suite, variant: r.variant, packages: r.packages, ...(r.customize.length ? { customize: r.customize } : {}), ...(r.mirror ? { mirror: r.mirror } : {}) };
}

export interface LabConfigInput {
  clusterName: string;
  bridge: string;
  headAddress: string;
  prefixLength: number;
  imageRoot: string;
  kernel: string;
  initrd: string;
  /** The image's name in the configuration (default "lab"). */
  imageName?: string;
  /** Declare the image as this mmdebstrap recipe (its kernel and initrd found inside it) instead of root/kernel/initrd. */
  recipe?: Recipe;
  bmcPasswordFile: string;
  bmcUser: string;
  bmcPort: number;
  bmcNetmask: string;
  /** "ipmi" (ipmi_sim, the default) or "redfish" (the lab's emulator). */
  bmcDriver?: "ipmi" | "redfish";
  /** Redfish: the certificate the BMCs present (self-signed: trusted as a CA). */
  bmcTlsCa?: string;
  ports: Partial<{ dhcp: number; proxyDhcp: number; tftp: number; http: number; rsync: number }>;
  nodes: { name: string; mac: string; ip: string; bmcAddress: string; firmware?: LabFirmware }[];
  /** Unlisted VMs (discovery): the dynamic range they lease from. */
  discovery?: { dynamicRange: { start: string; end: string } };
}

/** A node's `firmware:` setting for its lab firmware (none for BIOS, the default). */
function firmwareSetting(fw: LabFirmware | undefined): Record<string, unknown> {
  if (fw === "uefi") return { firmware: { mode: "uefi" } };
  if (fw === "secureboot") return { firmware: { mode: "uefi", secureBoot: true } };
  return {};
}

/**
 * What a recipe image (Debian, with GRUB) needs to boot from the node's disk: a BIOS boot
 * partition for GRUB's core image on GPT, and an ESP for UEFI nodes. After the swap
 * partition, so the layout's first partition stays where it was.
 */
const BOOT_LOADER_PARTITIONS = [
  { size: "1MiB", type: "bios", fs: "none" },
  { size: "32MiB", type: "esp", fs: "vfat", mount: "/boot/efi" },
];

export function prefixToNetmask(prefix: number): string {
  const bits = prefix === 0 ? 0 : (0xffffffff << (32 - prefix)) >>> 0;
  return [24, 16, 8, 0].map((s) => (bits >>> s) & 255).join(".");
}

/** The category's BMC settings: IPMI with the BMC network's netmask, or Redfish trusting the lab's certificate. */
function bmcSettings(c: LabConfigInput): Record<string, unknown> {
  const password = { file: c.bmcPasswordFile };
  if (c.bmcDriver === "redfish") {
    return { driver: "redfish", user: c.bmcUser, password, ...(c.bmcPort !== 443 ? { port: c.bmcPort } : {}), ...(c.bmcTlsCa ? { tls: { ca: c.bmcTlsCa } } : {}) };
  }
  return { driver: "ipmi", user: c.bmcUser, password, port: c.bmcPort, netmask: c.bmcNetmask };
}

export function renderLabConfig(c: LabConfigInput): string {
  const doc: Record<string, unknown> = {
    cluster: { name: c.clusterName },
    network: {
      interface: c.bridge,
      address: `${c.headAddress}/${c.prefixLength}`,
      domain: "lab.test",
      dhcp: { mode: "authoritative", leaseTime: 600, ...(c.discovery ? { dynamicRange: c.discovery.dynamicRange } : {}) },
      ...(c.discovery ? { discovery: { enabled: true } } : {}),
      ...(Object.keys(c.ports).length > 0 ? { ports: c.ports } : {}),
    },
    images: {
      [c.imageName ?? "lab"]: {
        ...(c.recipe ? { recipe: recipeYaml(c.recipe) } : { root: c.imageRoot, kernel: c.kernel, initrd: c.initrd }),
        // quiet: under TCG every console character is emulated; the boot is faster without them.
        kernelArgs: ["console=ttyS0", "quiet"],
        exclude: { sync: ["/var/log/*", "/tmp/*"] },
      },
    },
    diskLayouts: {
      single: {
        disks: [
          {
            name: "vda",
            match: { device: "/dev/vda", minSize: "1GiB" },
            table: "gpt",
            partitions: [{ size: "64MiB", fs: "swap" }, ...(c.recipe ? BOOT_LOADER_PARTITIONS : []), { size: "rest", fs: "ext4", mount: "/", label: "root" }],
          },
        ],
      },
    },
    categories: {
      default: {
        image: c.imageName ?? "lab",
        diskLayout: "single",
        installMode: "auto",
        bmc: bmcSettings(c),
      },
    },
    nodes: c.nodes.map((n) => ({ name: n.name, category: "default", mac: n.mac, ip: n.ip, ...firmwareSetting(n.firmware), bmc: { address: n.bmcAddress } })),
  };
  return (
    "# Written by `metalform lab up`: the virtual lab's cluster, with its VMs' real MACs and\n" +
    "# BMC addresses. `metalform lab down` removes it with the lab.\n" +
    stringify(doc, { lineWidth: 0 })
  );
}
