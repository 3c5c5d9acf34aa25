#!/usr/bin/env node
// Benchmark: validate + plan a 10,000-node cluster with 10 % of its nodes changed,
// from a cold start (a fresh process: module loading, YAML, schema, semantics, image
// digests, state read, plan, render). Needs `npm run build` first.
//
//   node bench/plan/run.mjs [--nodes 10000] [--changed 0.1] [--keep]
//
// The setup (configuration, image, a state that matches 90 % of the nodes) runs in
// this process; the measured run is a child process started afresh, twice: once with
// an empty image-digest cache and once with the cache warm (the usual re-plan).
// Target: under 1 s and under 200 MB peak RSS.
import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

const dist = new URL("../../dist/", import.meta.url);
const arg = (name, dflt) => {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : dflt;
};

if (process.argv[2] === "--measure") {
  await measure(process.argv[3]);
} else {
  await main();
}

async function main() {
  const nodes = Number(arg("--nodes", "10000"));
  const changed = Number(arg("--changed", "0.1"));
  const dir = mkdtempSync(join(tmpdir(), "mf-bench-plan-"));
  try {
    await setup(dir, nodes, changed);
    for (const label of ["cold digest cache", "warm digest cache"]) {
      const r = spawnSync(process.execPath, [fileURLToPath(import.meta.url), "--measure", dir], { encoding: "utf8" });
      if (r.status !== 0) {
        process.stderr.write(r.stdout + r.stderr);
        process.exit(1);
      }
      process.stdout.write(`${label.padEnd(18)} ${r.stdout}`);
    }
  } finally {
    if (process.argv.includes("--keep")) console.log(`kept ${dir}`);
    else rmSync(dir, { recursive: true, force: true });
  }
}

function yamlConfig(n) {
  const macs = [];
  for (let i = 1; i <= n; i++) macs.push(`"52:54:${hex(i >> 24)}:${hex(i >> 16)}:${hex(i >> 8)}:${hex(i)}"`);
  const width = String(n).length;
  return `cluster:
  name: bench
network:
  interface: eth1
  address: 10.128.0.1/9
  dhcp: { mode: authoritative, leaseTime: 3600 }
images:
  compute:
    root: images/compute
    kernel: images/compute/boot/vmlinuz
    initrd: images/compute/boot/initrd.img
    kernelArgs: [console=ttyS0]
diskLayouts:
  std:
    disks:
      - name: sda
        match: { device: /dev/sda }
        table: gpt
        partitions:
          - { size: 512MiB, fs: vfat, mount: /boot/efi }
          - { size: 4GiB, fs: swap }
          - { size: rest, fs: ext4, mount: / }
categories:
  compute:
    image: compute
    diskLayout: std
    bmc: { driver: ipmi, user: admin, password: { env: BENCH_BMC_PASSWORD } }
nodes:
  - name: node[${"1".padStart(width, "0")}-${String(n).padStart(width, "0")}]
    category: compute
    ip: 10.128.0.10
    bmc: { address: 10.200.0.10 }
    macs: [${macs.join(", ")}]
`;
}

function hex(v) {
  return (v & 255).toString(16).padStart(2, "0");
}

async function setup(dir, n, changed) {
  const img = join(dir, "images", "compute");
  mkdirSync(join(img, "boot"), { recursive: true });
  writeFileSync(join(img, "boot", "vmlinuz"), Buffer.alloc(8 << 20, 1));
  writeFileSync(join(img, "boot", "initrd.img"), Buffer.alloc(32 << 20, 2));
  for (let d = 0; d < 20; d++) {
    mkdirSync(join(img, "usr", `d${d}`), { recursive: true });
    for (let f = 0; f < 50; f++) writeFileSync(join(img, "usr", `d${d}`, `f${f}`), `file ${d}/${f}\n`.repeat(100));
  }
  writeFileSync(join(dir, "cluster.yaml"), yamlConfig(n));

  const { loadCluster } = await import(new URL("config/load.js", dist));
  const { computeImageDigests } = await import(new URL("images/digest.js", dist));
  const { planChanges } = await import(new URL("plan/planner.js", dist));
  const { recordApplied } = await import(new URL("plan/record.js", dist));
  const { newState } = await import(new URL("state/codec.js", dist));
  const { LocalStateStore } = await import(new URL("state/local.js", dist));
  const cfg = join(dir, "cluster.yaml");
  const { cluster, diagnostics } = await loadCluster(cfg, { requirePaths: true });
  if (!cluster) throw new Error(`bench configuration invalid: ${JSON.stringify(diagnostics.slice(0, 3))}`);
  // A throwaway cache: the measured runs start with none.
  const digests = await computeImageDigests(cluster.images.values(), { cacheDir: join(dir, "setup-cache") });
  const state = newState(cluster.name);
  const plan = planChanges(cluster, state, { imageDigests: digests });
  for (const c of plan.imageChanges) recordApplied(state, c, cluster);
  for (const c of plan.nodeChanges) recordApplied(state, c, cluster);
  // Change every tenth node's record in one of four ways: image (sync), kernel args and
  // ip (update), disk layout (reimage), or replace it by a node gone from the config (remove).
  const names = Object.keys(state.nodes);
  const step = Math.round(1 / changed);
  let k = 0;
  for (let i = 0; i < names.length; i += step, k++) {
    const a = state.nodes[names[i]].applied;
    switch (k % 4) {
      case 0:
        a.image.digest = "sha256:" + "0".repeat(64);
        break;
      case 1:
        a.kernelArgs = ["console=tty0"];
        a.network.ip = "10.255.255.254";
        break;
      case 2:
        a.diskLayout.digest = "sha256:" + "1".repeat(64);
        break;
      case 3:
        // A node that left the configuration (its configured neighbour stays unchanged).
        state.nodes[`gone${String(i).padStart(5, "0")}`] = structuredClone(state.nodes[names[i]]);
        break;
    }
  }
  const store = new LocalStateStore(join(dir, ".metalform", "state.json"));
  const lock = await store.lock({ operation: "bench setup" }, 0);
  await store.write(state, 0);
  await lock.release();
}

async function measure(dir) {
  const t0 = performance.now();
  const { loadCluster } = await import(new URL("config/load.js", dist));
  const { computeImageDigests } = await import(new URL("images/digest.js", dist));
  const { LocalStateStore } = await import(new URL("state/local.js", dist));
  const { planChanges } = await import(new URL("plan/planner.js", dist));
  const { renderTerminal } = await import(new URL("plan/render/terminal.js", dist));
  const t1 = performance.now();
  // The same steps as `metalform plan` (src/plan/inputs.ts), timed one by one.
  const { cluster, diagnostics } = await loadCluster(join(dir, "cluster.yaml"), { requirePaths: true });
  if (!cluster) throw new Error(`invalid: ${JSON.stringify(diagnostics.slice(0, 3))}`);
  const t2 = performance.now();
  const digests = await computeImageDigests(cluster.images.values(), { cacheDir: join(dir, ".metalform", "cache") });
  const t3 = performance.now();
  const state = await new LocalStateStore(join(dir, ".metalform", "state.json")).read();
  const t4 = performance.now();
  const plan = planChanges(cluster, state, { imageDigests: digests });
  const t5 = performance.now();
  const text = renderTerminal(plan, { color: false });
  const t6 = performance.now();
  const s = plan.summary;
  const changedNodes = s.install + s.reimage + s.sync + s.update + s.remove;
  const rssMB = process.resourceUsage().maxRSS / 1024;
  // CPU time too: on a shared machine wall time includes waiting for a core.
  const cpu = process.cpuUsage();
  const cpuMs = (cpu.user + cpu.system) / 1000;
  const ms = (x) => `${x.toFixed(0)} ms`;
  process.stdout.write(
    `nodes ${cluster.nodes.length}, changed ${changedNodes} ` +
      `(${s.install} install, ${s.reimage} reimage, ${s.sync} sync, ${s.update} update, ${s.remove} remove) | ` +
      `total ${ms(t6 - t0)} [import ${ms(t1 - t0)}, load+validate ${ms(t2 - t1)}, image digest ${ms(t3 - t2)}, ` +
      `state read ${ms(t4 - t3)}, plan ${ms(t5 - t4)}, render ${ms(t6 - t5)} (${text.split("\n").length} lines)] | ` +
      `CPU ${ms(cpuMs)} | peak RSS ${rssMB.toFixed(0)} MB\n`,
  );
}
