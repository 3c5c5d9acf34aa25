// Invalid configurations: each case asserts every diagnostic it produces (code,
// severity, exact FILE:LINE:COL, a message substring and, for conflicts, the
// other place), that loading wrote nothing, and for hostile input that it was
// refused in bounded time.
import { afterAll, describe, expect, it } from "vitest";
import { join } from "node:path";
import { formatDiagnostics, type Diagnostic } from "../../src/config/diagnostics.js";
import { loadClusterSync, type LoadOptions } from "../../src/config/load.js";
import { HEAD, node, removeConfigs, snapshot, writeConfig, type Files } from "./helpers.js";

interface Expected {
  code: string;
  /** FILE:LINE:COL relative to the configuration directory. */
  at: string;
  msg: string;
  severity?: "error" | "warning";
  /** Substring of the formatted related place, e.g. `also used by node "n1" at c.yaml:12:11`. */
  related?: string;
}

interface Case {
  name: string;
  /** One file (c.yaml, loaded as a file) or several (loaded as a directory). */
  files: string | Files | (() => Files);
  opts?: LoadOptions;
  expect: Expected[];
  /** Hostile input: must be refused quickly. */
  hostile?: boolean;
}

const withNetwork = (line: string) => HEAD.replace(/^network:.*$/m, line);
const withCategories = (line: string) => HEAD.replace(/^categories:.*$/m, line);
const withImages = (line: string) => HEAD.replace(/^images:.*$/m, line);
/** HEAD with the layout (lines 3-9) replaced by `layout` (starting on line 3). */
const withLayout = (layout: string) => HEAD.replace(/^diskLayouts:\n(?: .*\n)+/m, layout);
const N1 = node("n1", "52:54:00:00:00:01", "10.0.0.10"); // lines 12-15

const cases: Case[] = [
  // --- schema ---------------------------------------------------------------------
  {
    name: "unknown node field, with a suggestion",
    files: HEAD + `  - name: n1\n    categroy: compute\n    mac: "52:54:00:00:00:01"\n    ip: 10.0.0.10\n`,
    expect: [{ code: "unknown-field", at: "c.yaml:13:5", msg: 'unknown field "nodes[0].categroy"; did you mean "category"?' }],
  },
  {
    name: "unknown top-level field (a misspelt section hides it, without a cascade)",
    files: HEAD.replace(/^network:/m, "netwrok:") + N1,
    expect: [{ code: "unknown-field", at: "c.yaml:1:1", msg: 'unknown field "netwrok"; did you mean "network"?' }],
  },
  {
    name: "unknown category field, with a suggestion",
    files: withCategories("categories: {compute: {image: img, diskLayout: one, instalMode: full}}") + N1,
    expect: [{ code: "unknown-field", at: "c.yaml:10:53", msg: 'unknown field "categories.compute.instalMode"; did you mean "installMode"?' }],
  },
  {
    name: "missing required field of an image",
    files: withImages("images: {img: {root: /}}") + N1,
    expect: [{ code: "missing-field", at: "c.yaml:2:10", msg: '"images.img" is missing required field "kernel"' }],
  },
  {
    name: "missing required field of the network",
    files: withNetwork("network: {address: 10.0.0.254/24}") + N1,
    expect: [{ code: "missing-field", at: "c.yaml:1:1", msg: '"network" is missing required field "interface"' }],
  },
  {
    name: "node without a name",
    files: HEAD + `  - {category: compute, mac: "52:54:00:00:00:01", ip: 10.0.0.10}\n`,
    expect: [{ code: "missing-field", at: "c.yaml:12:5", msg: '"nodes[0]" is missing required field "name"' }],
  },
  {
    name: "wrong type: string for an integer",
    files: withNetwork("network: {interface: eth1, address: 10.0.0.254/24, dhcp: {leaseTime: long}}") + N1,
    expect: [{ code: "wrong-type", at: "c.yaml:1:70", msg: '"network.dhcp.leaseTime" must be an integer' }],
  },
  {
    name: "wrong type: string for a list",
    files: HEAD + N1 + `    kernelArgs: console=ttyS0\n`,
    expect: [{ code: "wrong-type", at: "c.yaml:16:17", msg: '"kernelArgs" of node "n1" must be a list' }],
  },
  {
    name: "wrong type: YAML 1.2 has no yes/no booleans",
    files: HEAD + N1 + `    protect: yes\n`,
    expect: [{ code: "wrong-type", at: "c.yaml:16:14", msg: '"protect" of node "n1" must be a boolean' }],
  },
  {
    name: "bad enum value",
    files: HEAD + N1 + `    installMode: fast\n`,
    expect: [{ code: "invalid-value", at: "c.yaml:16:18", msg: '"installMode" of node "n1" must be one of "auto", "full", "nosync", "skip"' }],
  },
  {
    name: "bad enum value in a layout (RAID level)",
    files:
      withLayout(`diskLayouts:
  one:
    disks:
      - name: sda
        match: {device: /dev/sda}
        partitions:
          - {name: a, size: rest, type: raid}
    raid:
      - {name: md0, level: 3, members: [a], fs: ext4, mount: /}
`) + N1,
    expect: [{ code: "invalid-value", at: "c.yaml:11:28", msg: '"diskLayouts.one.raid[0].level" must be one of 0, 1, 5, 10' }],
  },
  {
    name: "bad pattern: malformed MAC",
    files: HEAD + node("n1", "52:54:00:zz:00:01", "10.0.0.10"),
    expect: [{ code: "invalid-value", at: "c.yaml:14:10", msg: '"mac" of node "n1" is not valid ("52:54:00:zz:00:01"): expected a MAC address' }],
  },
  {
    name: "bad pattern: malformed MAC in a range's list",
    files: HEAD + `  - name: n[1-2]\n    category: compute\n    ip: 10.0.0.10\n    macs: ["52:54:00:00:00:01", "52-54-00-00-00"]\n`,
    expect: [{ code: "invalid-value", at: "c.yaml:15:33", msg: '"macs[1]" of node "n[1-2]" is not valid ("52-54-00-00-00")' }],
  },
  {
    name: "bad format: IPv4 address out of range",
    files: HEAD + node("n1", "52:54:00:00:00:01", "10.0.0.300"),
    expect: [{ code: "invalid-value", at: "c.yaml:15:9", msg: '"ip" of node "n1" is not valid ("10.0.0.300"): expected an IPv4 address' }],
  },
  {
    name: "bad pattern: network address without a prefix length",
    files: withNetwork("network: {interface: eth1, address: 10.0.0.254}") + N1,
    expect: [{ code: "invalid-value", at: "c.yaml:1:37", msg: '"network.address" is not valid ("10.0.0.254")' }],
  },
  {
    name: "bad pattern: partition size",
    files:
      withLayout(`diskLayouts:
  one:
    disks:
      - name: sda
        match: {device: /dev/sda}
        partitions:
          - {size: 10 gigs, fs: ext4, mount: /}
`) + N1,
    expect: [{ code: "invalid-value", at: "c.yaml:9:20", msg: '"diskLayouts.one.disks[0].partitions[0].size" is not valid ("10 gigs")' }],
  },
  {
    name: "invalid name of an image",
    files: withImages("images: {img: {root: /, kernel: /}, -old: {root: /, kernel: /}}") + N1,
    expect: [{ code: "invalid-name", at: "c.yaml:2:37", msg: 'name "-old" in "images" is not valid' }],
  },
  {
    name: "secret that is neither env, file nor a string",
    files: HEAD + N1 + `    bmc: {address: 10.1.0.1, password: {vault: bmc}}\n`,
    expect: [{ code: "invalid-secret", at: "c.yaml:16:40", msg: '"bmc.password" of node "n1" must be {env: VARIABLE}, {file: PATH}' }],
  },
  {
    name: "port out of range",
    files: HEAD + N1 + `    bmc: {address: 10.1.0.1, port: 70000}\n`,
    expect: [{ code: "invalid-value", at: "c.yaml:16:36", msg: '"bmc.port" of node "n1" must be <= 65535' }],
  },
  {
    name: "YAML syntax error (bad indentation)",
    files: "network:\n  interface: eth1\n   address: 10.0.0.254/24\n",
    expect: [
      { code: "yaml-syntax", at: "c.yaml:2:14", msg: "Nested mappings are not allowed in compact mappings" },
      { code: "yaml-syntax", at: "c.yaml:2:14", msg: "Implicit keys need to be on a single line" },
    ],
  },
  {
    name: "YAML duplicate key",
    files: HEAD + N1 + `    ip: 10.0.0.11\n`,
    expect: [{ code: "yaml-syntax", at: "c.yaml:16:5", msg: "Map keys must be unique" }],
  },
  {
    name: "two YAML documents in one file",
    files: HEAD + N1 + "---\nnodes: []\n",
    expect: [{ code: "yaml-syntax", at: "c.yaml:16:1", msg: "a configuration file holds one YAML document" }],
  },

  // --- names, MACs and addresses after range expansion ---------------------------------
  {
    name: "duplicate node name",
    files: HEAD + N1 + node("n1", "52:54:00:00:00:02", "10.0.0.11"),
    expect: [{ code: "duplicate-node", at: "c.yaml:16:11", msg: 'node "n1" is defined twice', related: "first defined at c.yaml:12:11" }],
  },
  {
    name: "duplicate node name after range expansion",
    files:
      HEAD +
      `  - name: n[1-3]\n    category: compute\n    ip: 10.0.0.10\n    macs: ["52:54:00:00:00:01", "52:54:00:00:00:02", "52:54:00:00:00:03"]\n` +
      node("n2", "52:54:00:00:00:09", "10.0.0.50"),
    expect: [{ code: "duplicate-node", at: "c.yaml:16:11", msg: 'node "n2" is defined twice', related: "first defined at c.yaml:12:11" }],
  },
  {
    name: "duplicate MAC across files, naming the other node and place",
    files: {
      "cluster.yaml": HEAD.replace(/nodes:\n$/, ""),
      "nodes/r1.yaml": "nodes:\n" + node("login01", "52:54:00:00:00:01", "10.0.0.10"),
      "nodes/r2.yaml": "# rack 2\nnodes:\n" + node("n1", "52:54:00:00:00:01", "10.0.0.11"),
    },
    expect: [
      { code: "duplicate-mac", at: "nodes/r2.yaml:5:10", msg: 'MAC 52:54:00:00:00:01 of node "n1" is already used', related: 'also used by node "login01" at nodes/r1.yaml:4:10' },
    ],
  },
  {
    name: "duplicate MAC inside a range's list (case and separator normalized)",
    files: HEAD + `  - name: n[1-2]\n    category: compute\n    ip: 10.0.0.10\n    macs: ["52:54:00:00:00:0A", "52-54-00-00-00-0a"]\n`,
    expect: [{ code: "duplicate-mac", at: "c.yaml:15:33", msg: 'MAC 52:54:00:00:00:0a of node "n2" is already used', related: 'also used by node "n1" at c.yaml:15:12' }],
  },
  {
    name: "duplicate IP after range expansion",
    files:
      HEAD +
      `  - name: n[1-3]\n    category: compute\n    ip: 10.0.0.10\n    macs: ["52:54:00:00:00:01", "52:54:00:00:00:02", "52:54:00:00:00:03"]\n` +
      node("login01", "52:54:00:00:00:09", "10.0.0.12"),
    expect: [{ code: "duplicate-ip", at: "c.yaml:19:9", msg: 'address 10.0.0.12 of node "login01" is already used', related: 'also used by node "n3" at c.yaml:14:9' }],
  },
  {
    name: "duplicate BMC address after range expansion",
    files:
      HEAD +
      `  - name: n[1-2]\n    category: compute\n    ip: 10.0.0.10\n    macs: ["52:54:00:00:00:01", "52:54:00:00:00:02"]\n    bmc: {address: 10.1.0.1}\n` +
      node("login01", "52:54:00:00:00:09", "10.0.0.50") +
      `    bmc: {address: 10.1.0.2}\n`,
    expect: [
      {
        code: "duplicate-bmc-address",
        at: "c.yaml:21:20",
        msg: 'BMC address 10.1.0.2 of node "login01" is already used',
        related: 'also used by the BMC of node "n2" at c.yaml:16:20',
      },
    ],
  },
  {
    name: "node address outside the provisioning subnet",
    files: HEAD + node("n1", "52:54:00:00:00:01", "10.0.1.10"),
    expect: [{ code: "ip-outside-subnet", at: "c.yaml:15:9", msg: 'address 10.0.1.10 of node "n1" is outside the provisioning network 10.0.0.0/24' }],
  },
  {
    name: "node address equal to the network address",
    files: HEAD + node("n1", "52:54:00:00:00:01", "10.0.0.0"),
    expect: [{ code: "ip-reserved", at: "c.yaml:15:9", msg: 'address 10.0.0.0 of node "n1" is the network address' }],
  },
  {
    name: "node address equal to the broadcast address",
    files: HEAD + node("n1", "52:54:00:00:00:01", "10.0.0.255"),
    expect: [{ code: "ip-reserved", at: "c.yaml:15:9", msg: 'address 10.0.0.255 of node "n1" is the broadcast address' }],
  },
  {
    name: "node address equal to the gateway",
    files: HEAD + node("n1", "52:54:00:00:00:01", "10.0.0.1"),
    expect: [{ code: "ip-reserved", at: "c.yaml:15:9", msg: 'address 10.0.0.1 of node "n1" is the gateway' }],
  },
  {
    name: "node address equal to the head node's",
    files: HEAD + node("n1", "52:54:00:00:00:01", "10.0.0.254"),
    expect: [{ code: "ip-reserved", at: "c.yaml:15:9", msg: 'address 10.0.0.254 of node "n1" is the head node\'s address' }],
  },
  {
    name: "range whose addresses run into the head node and the broadcast address",
    files: HEAD + `  - name: n[1-3]\n    category: compute\n    ip: 10.0.0.253\n    macs: ["52:54:00:00:00:01", "52:54:00:00:00:02", "52:54:00:00:00:03"]\n`,
    expect: [
      { code: "ip-reserved", at: "c.yaml:14:9", msg: 'address 10.0.0.254 of node "n2" is the head node\'s address' },
      { code: "ip-reserved", at: "c.yaml:14:9", msg: 'address 10.0.0.255 of node "n3" is the broadcast address' },
    ],
  },
  {
    name: "BMC address equal to the head node's",
    files: HEAD + N1 + `    bmc: {address: 10.0.0.254}\n`,
    expect: [{ code: "ip-reserved", at: "c.yaml:16:20", msg: 'BMC address 10.0.0.254 of node "n1" is the head node\'s address' }],
  },
  {
    name: "dynamic range overlapping a node's static address",
    files: HEAD + `  - name: n[1-2]\n    category: compute\n    ip: 10.0.0.199\n    macs: ["52:54:00:00:00:01", "52:54:00:00:00:02"]\n`,
    expect: [{ code: "dynamic-range-overlap", at: "c.yaml:14:9", msg: 'address 10.0.0.200 of node "n2" lies inside the dynamic range 10.0.0.200-10.0.0.220' }],
  },
  {
    name: "dynamic range containing the gateway",
    files: withNetwork("network: {interface: eth1, address: 10.0.0.254/24, gateway: 10.0.0.1, dhcp: {dynamicRange: {start: 10.0.0.1, end: 10.0.0.9}}}") + N1,
    expect: [{ code: "dynamic-range-overlap", at: "c.yaml:1:78", msg: "dynamic range 10.0.0.1-10.0.0.9 contains the gateway (10.0.0.1)" }],
  },
  {
    name: "dynamic range outside the subnet",
    files: withNetwork("network: {interface: eth1, address: 10.0.0.254/24, dhcp: {dynamicRange: {start: 10.0.5.1, end: 10.0.5.9}}}") + N1,
    expect: [
      { code: "ip-outside-subnet", at: "c.yaml:1:81", msg: "dynamic range start 10.0.5.1 is outside 10.0.0.0/24" },
      { code: "ip-outside-subnet", at: "c.yaml:1:96", msg: "dynamic range end 10.0.5.9 is outside 10.0.0.0/24" },
    ],
  },
  {
    name: "gateway outside the subnet",
    files: withNetwork("network: {interface: eth1, address: 10.0.0.254/24, gateway: 10.9.0.1}") + N1,
    expect: [{ code: "gateway-outside-subnet", at: "c.yaml:1:61", msg: "network.gateway 10.9.0.1 is outside 10.0.0.0/24" }],
  },

  // --- references ------------------------------------------------------------------------
  {
    name: "unknown image named by the node",
    files: HEAD + N1 + `    image: imgx\n`,
    expect: [{ code: "unknown-image", at: "c.yaml:16:12", msg: 'node "n1" uses unknown image "imgx"' }],
  },
  {
    name: "unknown image inherited from a category (reported once, at the category)",
    files: withCategories("categories: {compute: {image: other, diskLayout: one}}") + N1 + node("n2", "52:54:00:00:00:02", "10.0.0.11"),
    expect: [{ code: "unknown-image", at: "c.yaml:10:31", msg: 'node "n1" uses unknown image "other" (inherited from category "compute")' }],
  },
  {
    name: "unknown disk layout inherited from defaults",
    files: withCategories("categories: {compute: {image: img}}\ndefaults: {diskLayout: two}").replace("nodes:\n", "") + "nodes:\n" + N1.replace(/^/gm, "").replace(/(\n)$/, "$1"),
    expect: [{ code: "unknown-disk-layout", at: "c.yaml:11:24", msg: 'node "n1" uses unknown disk layout "two" (inherited from defaults)' }],
  },
  {
    name: "unknown category",
    files: HEAD + `  - name: n1\n    category: compte\n    mac: "52:54:00:00:00:01"\n    ip: 10.0.0.10\n`,
    expect: [{ code: "unknown-category", at: "c.yaml:13:15", msg: 'node "n1" refers to unknown category "compte"' }],
  },
  {
    name: "node without an image anywhere",
    files: HEAD + `  - name: n1\n    diskLayout: one\n    mac: "52:54:00:00:00:01"\n    ip: 10.0.0.10\n`,
    expect: [{ code: "missing-image", at: "c.yaml:12:11", msg: 'node "n1" has no image: set "image" on the node, its category, or in defaults' }],
  },

  // --- host ranges and MAC lists ------------------------------------------------------------
  {
    name: "malformed host range",
    files: HEAD + `  - name: n[1-]\n    category: compute\n    ip: 10.0.0.10\n    macs: ["52:54:00:00:00:01"]\n`,
    expect: [{ code: "invalid-host-range", at: "c.yaml:12:11", msg: 'malformed range "[1-]" in "n[1-]"' }],
  },
  {
    name: "host range running backwards",
    files: HEAD + `  - name: n[5-1]\n    category: compute\n    ip: 10.0.0.10\n    macs: ["52:54:00:00:00:01"]\n`,
    expect: [{ code: "invalid-host-range", at: "c.yaml:12:11", msg: 'range "[5-1]" in "n[5-1]" runs backwards' }],
  },
  {
    name: "unclosed host range",
    files: HEAD + `  - name: n[1-3\n    category: compute\n    ip: 10.0.0.10\n    macs: ["52:54:00:00:00:01"]\n`,
    expect: [{ code: "invalid-host-range", at: "c.yaml:12:11", msg: 'unclosed "[" in host range "n[1-3"' }],
  },
  {
    name: "invalid character in a node name",
    files: HEAD + node("node@1", "52:54:00:00:00:01", "10.0.0.10"),
    expect: [{ code: "invalid-host-range", at: "c.yaml:12:11", msg: 'invalid character in host name "node@1"' }],
  },
  {
    name: "range whose MAC list has the wrong length",
    files: HEAD + `  - name: n[1-3]\n    category: compute\n    ip: 10.0.0.10\n    macs: ["52:54:00:00:00:01", "52:54:00:00:00:02"]\n`,
    expect: [{ code: "mac-count-mismatch", at: "c.yaml:15:5", msg: 'host range "n[1-3]" has 3 nodes but 2 MACs in "macs"' }],
  },
  {
    name: "range with a single mac",
    files: HEAD + `  - name: n[1-3]\n    category: compute\n    ip: 10.0.0.10\n    mac: "52:54:00:00:00:01"\n`,
    expect: [{ code: "mac-on-range", at: "c.yaml:15:5", msg: '"n[1-3]" is a host range: give its MACs as a "macs:" list' }],
  },
  {
    name: "node without a MAC",
    files: HEAD + `  - name: n1\n    category: compute\n    ip: 10.0.0.10\n`,
    expect: [{ code: "missing-mac", at: "c.yaml:12:11", msg: 'node "n1" has no "mac"' }],
  },
  {
    name: "node without an address",
    files: HEAD + `  - name: n1\n    category: compute\n    mac: "52:54:00:00:00:01"\n`,
    expect: [{ code: "missing-ip", at: "c.yaml:12:11", msg: 'node "n1" has no "ip"' }],
  },

  // --- disk layouts ----------------------------------------------------------------------------
  {
    name: "layout with two rest partitions",
    files:
      withLayout(`diskLayouts:
  one:
    disks:
      - name: sda
        match: {device: /dev/sda}
        partitions:
          - {size: rest, fs: ext4, mount: /}
          - {size: rest, fs: xfs, mount: /scratch}
`) + N1,
    expect: [{ code: "layout-two-rest", at: "c.yaml:10:20", msg: 'disk layout "one": disk "sda" has more than one partition of size "rest"' }],
  },
  {
    name: "layout with a duplicate mount point",
    files:
      withLayout(`diskLayouts:
  one:
    disks:
      - name: sda
        match: {device: /dev/sda}
        partitions:
          - {size: 10GiB, fs: ext4, mount: /}
          - {size: rest, fs: xfs, mount: /}
`) + N1,
    expect: [{ code: "duplicate-mount", at: "c.yaml:10:42", msg: 'disk layout "one": mount point / is used twice (also by partition 1 of disk "sda")' }],
  },
  {
    name: "layout without /",
    files:
      withLayout(`diskLayouts:
  one:
    disks:
      - name: sda
        match: {device: /dev/sda}
        partitions:
          - {size: rest, fs: ext4, mount: /data}
`) + N1,
    expect: [{ code: "layout-no-root", at: "c.yaml:4:3", msg: 'disk layout "one": nothing is mounted at /' }],
  },
  {
    name: "swap with a mount point",
    files:
      withLayout(`diskLayouts:
  one:
    disks:
      - name: sda
        match: {device: /dev/sda}
        partitions:
          - {size: 1GiB, fs: swap, mount: /swap}
          - {size: rest, fs: ext4, mount: /}
`) + N1,
    expect: [{ code: "swap-mount", at: "c.yaml:9:43", msg: 'disk layout "one": swap cannot be mounted at /swap' }],
  },
  {
    name: "RAID array naming a partition that does not exist",
    files:
      withLayout(`diskLayouts:
  one:
    disks:
      - name: sda
        match: {device: /dev/sda}
        partitions:
          - {name: a1, size: rest, type: raid}
      - name: sdb
        match: {device: /dev/sdb}
        partitions:
          - {name: b1, size: rest, type: raid}
    raid:
      - {name: md0, level: 1, members: [a1, b2], fs: ext4, mount: /}
`) + N1,
    expect: [{ code: "raid-unknown-member", at: "c.yaml:15:45", msg: 'disk layout "one": RAID array "md0" names member "b2", which is no partition of this layout' }],
  },
  {
    name: "RAID array with too few members for its level",
    files:
      withLayout(`diskLayouts:
  one:
    disks:
      - name: sda
        match: {device: /dev/sda}
        partitions:
          - {name: a1, size: rest, type: raid}
      - name: sdb
        match: {device: /dev/sdb}
        partitions:
          - {name: b1, size: rest, type: raid}
    raid:
      - {name: md0, level: 5, members: [a1, b1], fs: ext4, mount: /}
`) + N1,
    expect: [{ code: "raid-too-few-members", at: "c.yaml:15:40", msg: 'disk layout "one": RAID5 array "md0" needs at least 3 members, has 2' }],
  },
  {
    name: "fixed sizes larger than the disk's minimum size",
    files:
      withLayout(`diskLayouts:
  one:
    disks:
      - name: sda
        match: {device: /dev/sda, minSize: 100GiB}
        partitions:
          - {size: 512MiB, type: esp, fs: vfat, mount: /boot/efi}
          - {size: 100GiB, fs: ext4, mount: /}
          - {size: rest, fs: xfs, mount: /scratch}
`) + N1,
    expect: [{ code: "size-exceeds-disk", at: "c.yaml:7:44", msg: 'disk "sda": fixed partition sizes add up to 102912MiB, more than its minimum size 100GiB' }],
  },
  {
    name: "percentages adding up to more than 100%",
    files:
      withLayout(`diskLayouts:
  one:
    disks:
      - name: sda
        match: {device: /dev/sda}
        partitions:
          - {size: 60%, fs: ext4, mount: /}
          - {size: 50%, fs: xfs, mount: /scratch}
`) + N1,
    expect: [{ code: "size-exceeds-disk", at: "c.yaml:9:11", msg: 'disk "sda": percentages add up to 110%' }],
  },
  {
    name: "mount point on a partition without a file system",
    files:
      withLayout(`diskLayouts:
  one:
    disks:
      - name: sda
        match: {device: /dev/sda}
        partitions:
          - {size: rest, mount: /}
`) + N1,
    expect: [
      { code: "mount-without-fs", at: "c.yaml:9:33", msg: 'disk layout "one": mount point / has no file system (fs: none)' },
      { code: "layout-no-root", at: "c.yaml:4:3", msg: "nothing is mounted at /" },
    ],
  },

  {
    name: "sizes the pattern admits but that mean nothing (zero, 0%, beyond 8 PiB)",
    files:
      withLayout(`diskLayouts:
  one:
    disks:
      - name: sda
        match: {device: /dev/sda, minSize: 99999TiB}
        partitions:
          - {size: 0MiB, fs: swap}
          - {size: 0%, fs: xfs, mount: /scratch}
          - {size: 9999TB, fs: ext4, mount: /}
`) + N1,
    expect: [
      { code: "invalid-size", at: "c.yaml:7:44", msg: 'disk layout "one": minimum size "99999TiB" of disk "sda" must be more than zero and at most 8 PiB' },
      { code: "invalid-size", at: "c.yaml:9:20", msg: 'size of partition 1 "0MiB"' },
      { code: "invalid-size", at: "c.yaml:10:20", msg: 'size of partition 2 "0%"' },
      { code: "invalid-size", at: "c.yaml:11:20", msg: 'size of partition 3 "9999TB"' },
    ],
  },

  // --- image paths and secrets --------------------------------------------------------------------
  {
    name: "image path that does not exist: a warning in validate",
    files: withImages("images: {img: {root: /nonexistent/metalform-root, kernel: /}}") + N1,
    expect: [{ code: "path-not-found", severity: "warning", at: "c.yaml:2:22", msg: 'image "img": root /nonexistent/metalform-root does not exist' }],
  },
  {
    name: "image path that does not exist: an error with requirePaths (apply)",
    files: withImages("images: {img: {root: /, kernel: vmlinuz-missing}}") + N1,
    opts: { requirePaths: true },
    expect: [{ code: "path-not-found", at: "c.yaml:2:33", msg: "kernel " }],
  },
  {
    name: "inline BMC password: a warning",
    files: withCategories("categories: {compute: {image: img, diskLayout: one, bmc: {user: admin, password: hunter2}}}") + N1 + node("n2", "52:54:00:00:00:02", "10.0.0.11"),
    expect: [
      { code: "inline-secret", severity: "warning", at: "c.yaml:10:82", msg: "BMC password written inline: use {env: NAME} or {file: PATH}" },
      // Once for the category, not once per node.
      { code: "bmc-without-address", severity: "warning", at: "c.yaml:12:11", msg: 'node "n1" has BMC settings but no bmc.address' },
    ],
  },

  // --- directories ------------------------------------------------------------------------------------
  {
    name: "image defined in two files: both places named",
    files: {
      "a.yaml": HEAD + N1,
      "b.yaml": "# more images\nimages:\n  other: {root: /, kernel: /}\n  img: {root: /, kernel: /}\n",
    },
    expect: [{ code: "duplicate-definition", at: "b.yaml:4:3", msg: 'image "img" is defined twice', related: "first defined at a.yaml:2:10" }],
  },
  {
    name: "network defined in two files",
    files: {
      "a.yaml": HEAD + N1,
      "z/b.yaml": "\nnetwork: {interface: eth2, address: 10.0.0.254/24}\n",
    },
    expect: [{ code: "duplicate-definition", at: "z/b.yaml:2:1", msg: '"network" is defined in more than one file', related: "first defined at a.yaml:1:1" }],
  },
  {
    name: "no network section",
    files: {
      "base.yaml": HEAD.replace(/^network:.*\n/m, "").replace(/nodes:\n$/, ""),
      "nodes.yaml": "nodes:\n" + N1,
    },
    expect: [{ code: "missing-network", at: "nodes.yaml:1:1", msg: 'the configuration has no "network" section' }],
  },

  // --- schema and semantic errors together ---------------------------------------------------------------
  {
    name: "a schema error and a semantic error in the same run",
    files: HEAD + N1 + `    protect: maybe\n` + node("n2", "52:54:00:00:00:02", "10.0.0.11") + node("n3", "52:54:00:00:00:03", "10.0.0.11"),
    expect: [
      { code: "wrong-type", at: "c.yaml:16:14", msg: '"protect" of node "n1" must be a boolean' },
      { code: "duplicate-ip", at: "c.yaml:24:9", msg: 'address 10.0.0.11 of node "n3" is already used', related: 'also used by node "n2" at c.yaml:20:9' },
    ],
  },
  {
    name: "errors in several files are all reported",
    files: {
      "a.yaml": HEAD + N1,
      "b.yaml": "nodes:\n  - name: n2\n    category: compute\n    mac: 52:54:00:00:00:01\n    ip: 10.0.0.10\n    bmc: {adress: 10.1.0.1}\n",
    },
    expect: [
      { code: "unknown-field", at: "b.yaml:6:11", msg: 'unknown field "nodes[0].bmc.adress"; did you mean "address"?' },
      { code: "duplicate-mac", at: "b.yaml:4:10", msg: "MAC 52:54:00:00:00:01", related: 'also used by node "n1" at a.yaml:14:10' },
      { code: "duplicate-ip", at: "b.yaml:5:9", msg: "address 10.0.0.10", related: 'also used by node "n1" at a.yaml:15:9' },
    ],
  },

  {
    name: "a quote inside a plain scalar is not taken for the start of a long string",
    files: HEAD + N1.replace("category: compute", "category: the 'compute") + "# " + "padding ".repeat(10_000) + "\n",
    expect: [{ code: "invalid-value", at: "c.yaml:13:15", msg: `"category" of node "n1" is not valid ("the 'compute"): expected a name` }],
  },
  {
    name: "text of a block scalar is not taken for nesting",
    files:
      "notes: |\n" +
      Array.from({ length: 100 }, (_, i) => " ".repeat(i + 2) + "x").join("\n") +
      "\n" +
      HEAD.slice(HEAD.indexOf("\n") + 1).replace(/^/, HEAD.split("\n")[0] + "\n") +
      N1,
    expect: [{ code: "unknown-field", at: "c.yaml:1:1", msg: 'unknown field "notes"' }],
  },
  {
    name: "pattern messages keep the description's capitals",
    files: withNetwork("network: {interface: eth1, address: 10.0.0.254/24, domain: -bad-}") + N1,
    expect: [{ code: "invalid-value", at: "c.yaml:1:60", msg: '"network.domain" is not valid ("-bad-"): expected DNS domain of the nodes' }],
  },

  // --- hostile input --------------------------------------------------------------------------------------
  {
    name: "alias bomb (billion laughs)",
    hostile: true,
    files:
      'a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]\n' +
      "bcdefghi"
        .split("")
        .map(
          (c, i) =>
            `${c}: &${c} [${Array(9)
              .fill("*" + "abcdefghi"[i])
              .join(",")}]\n`,
        )
        .join(""),
    expect: [{ code: "yaml-alias-bomb", at: "c.yaml", msg: 'too many alias expansions (limit 1000): refusing a possible "billion laughs" document' }],
  },
  {
    name: "absurd host range",
    hostile: true,
    files: HEAD + `  - name: node[1-100000000]\n    category: compute\n    ip: 10.0.0.10\n    macs: []\n`,
    expect: [{ code: "range-too-large", at: "c.yaml:12:11", msg: 'host range "node[1-100000000]" expands to 100,000,000 names; a cluster may have at most 100,000 nodes' }],
  },
  {
    name: "absurd product of host ranges",
    hostile: true,
    files: HEAD + `  - name: r[1-999999999]-n[1-999999999]-c[1-999999999]\n    category: compute\n    ip: 10.0.0.10\n    macs: []\n`,
    expect: [{ code: "range-too-large", at: "c.yaml:12:11", msg: "expands to more than" }],
  },
  {
    name: "deep flow nesting",
    hostile: true,
    files: "nodes: " + "[".repeat(100_000) + "]".repeat(100_000) + "\n",
    expect: [{ code: "yaml-too-deep", at: "c.yaml:1:71", msg: "collections nested deeper than 64 levels" }],
  },
  {
    name: "deep block nesting",
    hostile: true,
    files: Array.from({ length: 3000 }, (_, i) => " ".repeat(i) + "a:").join("\n") + " 1\n",
    expect: [{ code: "yaml-too-deep", at: "c.yaml:65:65", msg: "collections nested deeper than 64 levels" }],
  },
  {
    name: "deep nesting of sequences on one line",
    hostile: true,
    files: "nodes:\n  " + "- ".repeat(500_000) + "x\n",
    expect: [{ code: "yaml-too-deep", at: "c.yaml:2:129", msg: "collections nested deeper than 64 levels" }],
  },
  {
    name: "huge file",
    hostile: true,
    files: () => ({ "c.yaml": Buffer.alloc(17 * 1024 * 1024, "# padding padding padding padding\n") }),
    expect: [{ code: "file-too-large", at: "c.yaml", msg: "file is 17.0 MiB; the limit is 16 MiB per file" }],
  },
  {
    name: "huge quoted string",
    hostile: true,
    files: () => ({ "c.yaml": withImages(`images: {img: {root: "${"x".repeat(12_000_000)}", kernel: /}}`) + N1 }),
    expect: [{ code: "string-too-long", at: "c.yaml:2:22", msg: "quoted string longer than 65,536 characters" }],
  },
  {
    name: "non-UTF-8 bytes",
    hostile: true,
    files: { "c.yaml": Buffer.concat([Buffer.from(HEAD + N1 + "    kernelArgs: [caf"), Buffer.from([0xe9]), Buffer.from("]\n")]) },
    expect: [{ code: "not-utf8", at: "c.yaml:16:21", msg: "file is not valid UTF-8 (first bad byte at offset" }],
  },
];

afterAll(removeConfigs);

function materialize(c: Case): { dir: string; path: string } {
  const files = typeof c.files === "string" ? { "c.yaml": c.files } : typeof c.files === "function" ? c.files() : c.files;
  const dir = writeConfig(files);
  return { dir, path: typeof c.files === "string" || Object.keys(files).length === 1 ? join(dir, Object.keys(files)[0]!) : dir };
}

/** The diagnostic as the CLI prints it, paths relative to the configuration directory. */
const show = (d: Diagnostic, dir: string) => formatDiagnostics([d], { cwd: dir });

describe("invalid configurations", () => {
  it("has at least 45 cases", () => {
    expect(cases.length).toBeGreaterThanOrEqual(45);
  });

  it.each(cases.map((c) => [c.name, c] as const))("%s", (_name, c) => {
    const { dir, path } = materialize(c);
    const before = snapshot(dir);
    const t0 = performance.now();
    const r = loadClusterSync(path, c.opts);
    const elapsed = performance.now() - t0;
    if (c.hostile) {
      console.log(`refused "${c.name}" in ${elapsed.toFixed(0)} ms`);
      expect(elapsed).toBeLessThan(15_000); // bounded, not fast: an expanded bomb or range would not finish
    }
    // Loading reads only.
    expect(snapshot(dir)).toEqual(before);

    const shown = r.diagnostics.map((d) => show(d, dir));
    const unmatched = [...r.diagnostics];
    for (const e of c.expect) {
      const i = unmatched.findIndex((d) => d.code === e.code && d.severity === (e.severity ?? "error") && show(d, dir).startsWith(`${e.at}: `) && d.message.includes(e.msg));
      expect(i, `expected ${e.severity ?? "error"}[${e.code}] at ${e.at} containing ${JSON.stringify(e.msg)}; got:\n${shown.join("\n")}`).toBeGreaterThanOrEqual(0);
      const d = unmatched.splice(i, 1)[0]!;
      if (e.related) expect(show(d, dir)).toContain(`(${e.related})`);
      else expect(d.related).toBeUndefined();
    }
    // Nothing else: no cascade of follow-on errors, no stray warnings.
    expect(unmatched.map((d) => show(d, dir))).toEqual([]);
    // No model when there are errors; a model with warnings only.
    const errors = r.diagnostics.filter((d) => d.severity === "error").length;
    expect(r.cluster === undefined).toBe(errors > 0);
  });
});
