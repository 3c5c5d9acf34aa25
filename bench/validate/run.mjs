#!/usr/bin/env node
// Benchmark of `metalform validate`'s core: generate clusters of N nodes (host
// ranges and single nodes split over several files), then load and validate each
// in a fresh child process (cold: module loading, schema compilation, YAML parse,
// merge, range expansion, semantic checks), 3 runs, and report the median wall
// time and the peak resident memory.
//
//   npm run build && node bench/validate/run.mjs [NODES...]     (default: 1000 10000)
//   BENCH_KEEP=1 keeps the generated directories (for profiling with node --cpu-prof).
//
// Target (issue 2): 10,000 nodes under 0.5 s and 150 MB.
import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync, existsSync } from "node:fs";
import os, { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const loader = join(here, "../../dist/config/load.js");
if (!existsSync(loader)) {
  console.error("bench/validate: dist/ is missing; run `npm run build` first");
  process.exit(1);
}
const RUNS = 3;
const RANGE = 128; // nodes per host range (a rack)
const counts = process.argv
  .slice(2)
  .map(Number)
  .filter((n) => n > 0);
if (!counts.length) counts.push(1000, 10_000);

const mac = (n) => "52:54:" + [24, 16, 8, 0].map((s) => ((n >>> s) & 255).toString(16).padStart(2, "0")).join(":");
const ip = (base, n) => {
  const v = (base + n) >>> 0;
  return [24, 16, 8, 0].map((s) => (v >>> s) & 255).join(".");
};
const NET = (10 << 24) | (100 << 16); // 10.100.0.0/14: room for 100k nodes
const BMC = (10 << 24) | (104 << 16); // 10.104.0.0/14: BMCs (not in the provisioning subnet)

/** Writes a cluster of `total` nodes into a new directory and returns its path and size. */
function generate(total) {
  const dir = mkdtempSync(join(tmpdir(), "mf-bench-validate-"));
  for (const p of ["images/compute/boot/vmlinuz", "images/compute/boot/initrd.img"]) {
    mkdirSync(dirname(join(dir, p)), { recursive: true });
    writeFileSync(join(dir, p), "");
  }
  writeFileSync(
    join(dir, "cluster.yaml"),
    `cluster: {name: bench}
network:
  interface: eth1
  address: 10.103.255.254/14
  gateway: 10.103.255.254
  dns: [10.103.255.254]
  domain: bench.cluster
  dhcp: {mode: authoritative, dynamicRange: {start: 10.103.250.1, end: 10.103.250.254}}
defaults:
  kernelArgs: [console=ttyS0,115200n8]
  bmc: {driver: ipmi, user: ADMIN, password: {env: BMC_PASSWORD}, netmask: 255.252.0.0}
images:
  compute:
    root: images/compute
    kernel: images/compute/boot/vmlinuz
    initrd: images/compute/boot/initrd.img
    exclude: {sync: [/var/log/*, /tmp/*], full: [/tmp/*]}
diskLayouts:
  single:
    disks:
      - name: sda
        match: {device: /dev/sda, minSize: 200GiB}
        partitions:
          - {size: 512MiB, type: esp, fs: vfat, mount: /boot/efi}
          - {size: 8GiB, fs: swap}
          - {size: 100GiB, fs: ext4, mount: /}
          - {size: rest, fs: xfs, mount: /scratch}
categories:
  compute: {image: compute, diskLayout: single}
  gpu: {image: compute, diskLayout: single, kernelArgs: [console=ttyS0, nvidia.modeset=1]}
`,
  );
  // 90% in racks of 128 (block lists of MACs), the rest single nodes; 10 files per ~1000 nodes.
  const singles = Math.round(total * 0.1);
  const ranged = total - singles;
  const files = Math.max(2, Math.ceil(total / 1000));
  const out = Array.from({ length: files }, () => ["nodes:"]);
  let n = 0;
  let rack = 0;
  while (n < ranged) {
    const size = Math.min(RANGE, ranged - n);
    const lines = out[rack % files];
    lines.push(`  - name: r${rack + 1}n[001-${String(size).padStart(3, "0")}]`);
    lines.push(`    category: ${rack % 5 === 4 ? "gpu" : "compute"}`);
    lines.push(`    ip: ${ip(NET, n + 1)}`);
    lines.push(`    bmc: {address: ${ip(BMC, n + 1)}}`);
    lines.push(`    macs:`);
    for (let i = 0; i < size; i++) lines.push(`      - "${mac(n + i + 1)}"`);
    n += size;
    rack++;
  }
  for (let s = 0; s < singles; s++, n++) {
    const lines = out[s % files];
    lines.push(`  - name: sn${String(s + 1).padStart(5, "0")}`);
    lines.push(`    category: compute`);
    lines.push(`    mac: "${mac(n + 1)}"`);
    lines.push(`    ip: ${ip(NET, n + 1)}`);
    lines.push(`    bmc: {address: ${ip(BMC, n + 1)}}`);
    if (s % 10 === 0) lines.push(`    installMode: full`);
  }
  mkdirSync(join(dir, "nodes"));
  out.forEach((lines, i) => writeFileSync(join(dir, "nodes", `part${String(i).padStart(3, "0")}.yaml`), lines.join("\n") + "\n"));
  let bytes = statSync(join(dir, "cluster.yaml")).size;
  for (let i = 0; i < files; i++) bytes += statSync(join(dir, "nodes", `part${String(i).padStart(3, "0")}.yaml`)).size;
  return { dir, files: files + 1, bytes };
}

// The child: time from before the loader is imported (cold) to a validated model.
const CHILD = `
const t0 = performance.now();
const c0 = process.cpuUsage();
const { loadClusterSync } = await import(${JSON.stringify(loader)});
const t1 = performance.now();
const r = loadClusterSync(process.argv[1]);
const t2 = performance.now();
const errors = r.diagnostics.filter((d) => d.severity === "error");
process.stdout.write(JSON.stringify({
  nodes: r.cluster ? r.cluster.nodes.length : 0,
  diagnostics: r.diagnostics.length,
  first: r.diagnostics[0],
  importMs: t1 - t0,
  loadMs: t2 - t1,
  totalMs: t2 - t0,
  cpuMs: (() => { const c = process.cpuUsage(c0); return (c.user + c.system) / 1000; })(),
  maxRssKiB: process.resourceUsage().maxRSS,
}));
`;

const median = (xs) => xs.slice().sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const rows = [];
for (const total of counts) {
  const g = generate(total);
  const runs = [];
  try {
    for (let i = 0; i < RUNS; i++) {
      const t = performance.now();
      const p = spawnSync(process.execPath, ["--input-type=module", "-e", CHILD, g.dir], { encoding: "utf8", env: { ...process.env, BMC_PASSWORD: "x" } });
      const wall = performance.now() - t;
      if (p.status !== 0) throw new Error(`child failed: ${p.stderr}`);
      const r = JSON.parse(p.stdout);
      if (r.nodes !== total || r.diagnostics !== 0) throw new Error(`expected ${total} nodes and no diagnostics, got ${r.nodes} and ${r.diagnostics}: ${JSON.stringify(r.first)}`);
      runs.push({ ...r, wall });
    }
  } finally {
    if (process.env.BENCH_KEEP) console.error(`kept ${g.dir}`);
    else rmSync(g.dir, { recursive: true, force: true });
  }
  rows.push({
    nodes: total,
    files: g.files,
    size: `${(g.bytes / 1024).toFixed(0)} KiB`,
    "import ms": median(runs.map((r) => r.importMs)).toFixed(0),
    "parse+validate ms": median(runs.map((r) => r.loadMs)).toFixed(0),
    "import+validate ms": median(runs.map((r) => r.totalMs)).toFixed(0),
    "(best)": Math.min(...runs.map((r) => r.totalMs)).toFixed(0),
    "cpu ms": median(runs.map((r) => r.cpuMs)).toFixed(0),
    "process wall ms": median(runs.map((r) => r.wall)).toFixed(0),
    "peak RSS MB": (median(runs.map((r) => r.maxRssKiB)) / 1024).toFixed(0),
  });
}
const cols = Object.keys(rows[0]);
const width = cols.map((c) => Math.max(c.length, ...rows.map((r) => String(r[c]).length)));
const line = (vals) => vals.map((v, i) => String(v).padStart(width[i])).join("  ");
console.log(`metalform validate benchmark (median of ${RUNS} cold runs, node ${process.version}, load average ${os.loadavg()[0].toFixed(1)} on ${os.cpus().length} CPUs)`);
console.log(line(cols));
for (const r of rows) console.log(line(cols.map((c) => r[c])));
const big = rows.find((r) => r.nodes === 10_000);
if (big) {
  const ok = Number(big["import+validate ms"]) < 500 && Number(big["peak RSS MB"]) < 150;
  console.log(`target for 10,000 nodes (< 500 ms, < 150 MB): ${ok ? "met" : "MISSED"}`);
}

// Start-up: `metalform --help` beside a bare `node -e ""` (the floor any Node CLI pays), median of 5.
const bin = join(here, "../../bin/metalform");
const spawnMs = (args) => {
  const t0 = performance.now();
  spawnSync(process.execPath, args, { encoding: "utf8" });
  return performance.now() - t0;
};
const startup = (args) => median(Array.from({ length: 5 }, () => spawnMs(args))).toFixed(0);
spawnMs([bin, "--help"]); // warm the file cache
console.log(`start-up (median of 5): metalform --help ${startup([bin, "--help"])} ms, node -e "" ${startup(["-e", ""])} ms`);
