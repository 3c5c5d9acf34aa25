// Shared by the robustness tests: a network namespace with a bridge at 10.77.0.1/24
// (apply's services bind there; nothing leaves the namespace), a tiny image and a
// cluster configuration with `count` nodes behind manual or IPMI BMCs, and a way to
// run the built CLI inside the namespace.
import { type ChildProcess } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { deleteNamespace, inNs, METALFORM_BIN, REPO_ROOT, removeStaleNamespaces as removeStale, requireBuilt, requireTool, sh, startMetalformInNs } from "../helpers/netns.js";

export { METALFORM_BIN as CLI, REPO_ROOT as ROOT, requireBuilt, requireTool };

/** Removes namespaces with our prefix whose creating process is gone (earlier runs that were killed). */
export function removeStaleNamespaces(prefix: string): void {
  removeStale(new RegExp(`^${prefix}.*-(\\d+)$`));
}

export interface Lab {
  ns: string;
  dir: string;
  cfg: string;
  statePath: string;
  cleanup(): void;
}

export interface LabOptions {
  prefix: string;
  nodes: number;
  /** Extra YAML for node i (1-based) appended inside its flow mapping, e.g. a BMC. */
  nodeExtra?: (i: number) => string;
  categoryBmc?: string;
  ports?: { http: number; rsync: number };
}

export function makeLab(o: LabOptions): Lab {
  requireBuilt();
  removeStaleNamespaces(o.prefix);
  const ns = `${o.prefix}-${process.pid}`;
  const dir = mkdtempSync(join(tmpdir(), `${o.prefix}-`));
  deleteNamespace(ns);
  sh("ip", ["netns", "add", ns]);
  const ipInNs = (...a: string[]) => inNs(ns, "ip", a);
  ipInNs("link", "set", "lo", "up");
  ipInNs("link", "add", "mfd0", "type", "bridge");
  ipInNs("addr", "add", "10.77.0.1/24", "dev", "mfd0");
  ipInNs("link", "set", "mfd0", "up");
  const img = join(dir, "image");
  mkdirSync(join(img, "boot"), { recursive: true });
  mkdirSync(join(img, "etc"), { recursive: true });
  writeFileSync(join(img, "boot/vmlinuz"), Buffer.alloc(4096, 1));
  writeFileSync(join(img, "boot/initrd.img"), Buffer.alloc(4096, 2));
  writeFileSync(join(img, "etc/os-release"), "NAME=robust\n");
  const cfg = join(dir, "cfg");
  mkdirSync(cfg);
  const ports = o.ports ?? { http: 18080, rsync: 18873 };
  const nodes = Array.from({ length: o.nodes }, (_, k) => {
    const i = k + 1;
    const extra = o.nodeExtra?.(i) ?? "";
    return `  - { name: n${String(i).padStart(2, "0")}, category: c, mac: "52:54:00:bb:00:${i.toString(16).padStart(2, "0")}", ip: 10.77.0.${10 + i}${extra ? ", " + extra : ""} }`;
  }).join("\n");
  writeFileSync(
    join(cfg, "cluster.yaml"),
    `cluster: { name: robust }
network:
  interface: mfd0
  address: 10.77.0.1/24
  dhcp: { mode: authoritative, leaseTime: 600 }
  ports: { http: ${ports.http}, rsync: ${ports.rsync} }
images:
  sim: { root: ../image, kernel: ../image/boot/vmlinuz, initrd: ../image/boot/initrd.img }
diskLayouts:
  one:
    disks: [ { name: vda, match: { device: /dev/vda }, partitions: [ { size: rest, fs: ext4, mount: / } ] } ]
categories:
  c: { image: sim, diskLayout: one, bmc: ${o.categoryBmc ?? "{ driver: manual }"} }
nodes:
${nodes}
`,
  );
  return {
    ns,
    dir,
    cfg,
    statePath: join(cfg, ".metalform/state.json"),
    cleanup() {
      deleteNamespace(ns);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export interface Run {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Starts the CLI inside the lab's namespace; `done` settles when it exits. */
export function startCli(lab: Lab, args: string[], env: Record<string, string> = {}): { child: ChildProcess; done: Promise<Run> } {
  const child = startMetalformInNs(lab.ns, args, env);
  let stdout = "";
  let stderr = "";
  child.stdout!.on("data", (d) => (stdout += d));
  child.stderr!.on("data", (d) => (stderr += d));
  const done = new Promise<Run>((resolve) => child.on("exit", (code, signal) => resolve({ code, signal, stdout, stderr })));
  return { child, done };
}

export function runCli(lab: Lab, args: string[], env: Record<string, string> = {}): Promise<Run> {
  return startCli(lab, args, env).done;
}

/** The arguments that make apply quick in the lab: nodes never boot, power times out after 1 s. */
export const QUICK_APPLY = ["--auto-approve", "--retries", "0", "--phase-timeout", "power=1s", "--tftp-root", "/usr/lib/ipxe", "--bind-interface", "none"];
