#!/usr/bin/env node
// Benchmark: rendering per-node files (LiquidJS) for a large cluster — what `plan` does
// for every node with a `files:` folder. One folder of three templates and two plain
// files shared by all nodes (parsed once), rendered per node. Needs `npm run build`.
//
//   node bench/node-files/run.mjs [--nodes 10000]
const { renderNodeFiles } = await import(new URL("../../dist/boot/node-files.js", import.meta.url).href);

const i = process.argv.indexOf("--nodes");
const count = i >= 0 ? Number(process.argv[i + 1]) : 10000;
const tpl = (name, content) => ({ name, path: "/" + name.replace(/\.liquid$/, ""), mode: "0644", content, template: name.endsWith(".liquid") });
const folder = {
  dir: "/bench/files",
  entries: [
    tpl("etc/motd.liquid", "Welcome to {{ node.hostname }} ({{ node.category }}, rack {{ vars.rack }})\n"),
    tpl("etc/slurm/node.conf.liquid", "NodeName={{ node.name }} NodeAddr={{ node.ip }}{% if vars.gpu %} Gres=gpu:{{ vars.gpu }}{% endif %}\n"),
    tpl("etc/hosts.d/head.liquid", "{{ head.address }} head\n{% for d in node.dns %}nameserver {{ d }}\n{% endfor %}"),
    tpl("etc/plain.conf", "x = 1\n".repeat(200)),
    tpl("etc/other.conf", "y = 2\n"),
  ],
};
const network = { address: "10.141.0.1", prefix: 16, netmask: "255.255.0.0", gateway: "10.141.0.1", dns: ["10.141.0.1"], domain: "cluster.local" };
const nodes = Array.from({ length: count }, (_, n) => ({
  name: `node${String(n).padStart(5, "0")}`,
  hostname: `node${n}.cluster.local`,
  ip: `10.141.${(n >> 8) & 255}.${n & 255}`,
  mac: "52:54:00:00:00:01",
  category: "compute",
  image: "compute",
  files: folder,
  vars: { rack: n % 40, gpu: n % 4 },
}));
const t0 = process.hrtime.bigint();
let bytes = 0;
for (const n of nodes) for (const f of renderNodeFiles(n, network)) bytes += f.content.length;
const ms = Number(process.hrtime.bigint() - t0) / 1e6;
const rss = process.memoryUsage().rss / 2 ** 20;
console.log(
  `${count} nodes × ${folder.entries.length} files: ${ms.toFixed(0)} ms (${((ms * 1000) / count).toFixed(1)} µs per node), ${bytes} bytes rendered, RSS ${rss.toFixed(0)} MiB`,
);
