// bench/lab: wall time of a whole lab apply (PXE → installer → sync → switch root →
// UP) for 1 node and for 4 nodes, each on a fresh lab, and the per-phase times of
// every VM from apply's JSON events. Run as root after `npm run build`:
//   node bench/lab/run.mjs [N ...]        (default: 1 4)
import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { dirname, join } from "node:path";

const root = join(dirname(fileURLToPath(import.meta.url)), "../..");
const mf = (args, opts = {}) => spawnSync(process.execPath, [join(root, "bin/metalform"), ...args], { encoding: "utf8", maxBuffer: 64 << 20, ...opts });
const counts = process.argv
  .slice(2)
  .map(Number)
  .filter((n) => n > 0);
const sizes = counts.length ? counts : [1, 4];
const PHASES = ["power", "dhcp", "boot-files", "installer", "disks", "filesystems", "sync", "config", "bmc", "switch-root", "up"];
const rows = [];

for (const n of sizes) {
  const ns = `mfbench${n}`;
  mf(["lab", "down", "--namespace", ns]);
  const up = mf(["lab", "up", "--namespace", ns, "--nodes", String(n), "--json"]);
  if (up.status !== 0) throw new Error(`lab up failed: ${up.stderr}`);
  const info = JSON.parse(up.stdout);
  const t0 = Date.now();
  const r = mf(["lab", "exec", "--namespace", ns, "--", "metalform", "apply", "-c", info.configPath, "--auto-approve", "--json"]);
  const wall = (Date.now() - t0) / 1000;
  mf(["lab", "down", "--namespace", ns]);
  const evs = r.stdout
    .split("\n")
    .filter((l) => l.startsWith("{"))
    .map((l) => JSON.parse(l));
  const ok = evs.filter((e) => e.type === "node_complete").length;
  // Per node: seconds from power to each phase.
  const perNode = new Map();
  for (const e of evs.filter((x) => x.type === "node_phase")) {
    const m = perNode.get(e.node) ?? {};
    m[e.phase] ??= Date.parse(e.time);
    perNode.set(e.node, m);
  }
  for (const [node, m] of perNode) {
    const base = m.power;
    rows.push({ n, node, ...Object.fromEntries(PHASES.map((p) => [p, m[p] ? ((m[p] - base) / 1000).toFixed(1) : "-"])) });
  }
  rows.push({ n, node: `ALL (${ok}/${n} UP)`, up: wall.toFixed(1) });
  if (r.status !== 0) process.stderr.write(`apply with ${n} node(s) exited ${r.status}\n${r.stderr.slice(-2000)}\n`);
}

const header = ["nodes", "node", ...PHASES];
const table = [header, ...rows.map((r) => [String(r.n), r.node, ...PHASES.map((p) => r[p] ?? "")])];
const widths = header.map((_, i) => Math.max(...table.map((row) => row[i].length)));
console.log("Seconds from the power-on command to each phase (TCG, -cpu max), and apply wall time:");
for (const row of table) console.log(row.map((c, i) => c.padEnd(widths[i])).join("  "));
const wallOf = (n) => Number(rows.find((r) => r.n === n && r.node.startsWith("ALL"))?.up);
if (sizes.includes(1) && sizes.includes(4)) {
  console.log(`\n4 nodes / 1 node wall time: ${(wallOf(4) / wallOf(1)).toFixed(2)} (target <= 1.5); one node PXE -> UP: ${wallOf(1)} s (target <= 60 s)`);
}
