// Driver of bench/sync/run.sh (plain ESM against the compiled sources in $MF_DIST).
import { execFileSync, spawn, spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { closeSync, ftruncateSync, mkdirSync, mkdtempSync, openSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:http";
import { createServer as netServer } from "node:net";
import { join } from "node:path";

const dist = process.env.MF_DIST;
const src = process.env.MF_SRC;
const { renderInstallPlan } = await import(join(dist, "boot/install-plan.js"));
const { createInstallerApi, nodeApiUrl } = await import(join(dist, "services/installer-api/api.js"));
const { InstallSessions } = await import(join(dist, "services/installer-api/sessions.js"));
const { NodeCredentials } = await import(join(dist, "services/installer-api/node-credentials.js"));
const initScript = join(src, "boot/installer-init.sh");

const MB = Number(process.argv[2] ?? 200);
const MiB = 1024 * 1024;
const FILE = 100 * 1024; // 100 KiB files: ~2,000 for 200 MB
const count = Math.round((MB * 1e6) / FILE);
const dir = mkdtempSync("/tmp/mfin-bench-run-");
const pos = { file: "bench", line: 1, col: 1 };
const cleanup = [];

async function freePort() {
  const s = netServer();
  await new Promise((r) => s.listen(0, "127.0.0.1", r));
  const p = s.address().port;
  await new Promise((r) => s.close(r));
  return p;
}

try {
  // The image: incompressible files, so bytes on the wire are bytes changed.
  const img = join(dir, "image");
  for (const d of ["etc", "sbin", "usr/lib", "var/log"]) mkdirSync(join(img, d), { recursive: true });
  writeFileSync(join(img, "sbin/init"), "#!/bin/sh\n", { mode: 0o755 });
  for (let i = 0; i < count; i++) writeFileSync(join(img, "usr/lib", `f${i}.bin`), randomBytes(FILE));

  const file = join(dir, "disk.img");
  const fd = openSync(file, "w");
  ftruncateSync(fd, Math.max(1024, MB * 3) * MiB);
  closeSync(fd);
  const dev = execFileSync("losetup", ["-f", "--show", file], { encoding: "utf8" }).trim();
  cleanup.push(() => {
    spawnSync("partx", ["-d", dev]);
    spawnSync("losetup", ["-d", dev]);
  });

  const port = await freePort();
  writeFileSync(join(dir, "rsyncd.conf"), `uid = 0\ngid = 0\nuse chroot = no\nreverse lookup = no\n[img]\npath = ${img}\nread only = yes\n`);
  const rsyncd = spawn("rsync", ["--daemon", "--no-detach", `--config=${join(dir, "rsyncd.conf")}`, `--port=${port}`, "--address=127.0.0.1"], { stdio: "ignore" });
  cleanup.push(() => rsyncd.kill());
  for (let i = 0; i < 100 && spawnSync("rsync", [`rsync://127.0.0.1:${port}/`]).status !== 0; i++) await new Promise((r) => setTimeout(r, 50));

  // The installer calls from loopback; every run is its own install attempt (claimed below).
  const sessions = new InstallSessions({ windowMs: 3_600_000 });
  let plan;
  const api = createInstallerApi({ sessions, nodeCredentials: new NodeCredentials(), addressOf: () => "127.0.0.1", plan: () => plan });
  const credential = () => {
    sessions.open("bench01", "127.0.0.1");
    return sessions.claim("bench01", "127.0.0.1").value.token;
  };
  const reports = [];
  api.events.on("report", (r) => reports.push(r));
  const server = createServer((req, res) => void api.handle(req, res).then((h) => h || (res.writeHead(404), res.end())));
  await new Promise((r) => server.listen(0, "127.0.0.1", r));
  cleanup.push(() => server.close());
  const base = `http://127.0.0.1:${server.address().port}`;
  const layout = {
    name: "bench",
    pos,
    raid: [],
    disks: [{ name: "sda", match: { minSize: 1 }, table: "gpt", partitions: [{ name: "root", size: { kind: "rest" }, fs: "ext4", type: "linux", mount: "/", mountOptions: [] }] }],
  };
  const node = {
    name: "bench01",
    category: "c",
    mac: "52:54:00:00:00:01",
    ip: "10.0.0.2",
    hostname: "bench01",
    image: "img",
    diskLayout: "bench",
    installMode: "auto",
    boot: "pxe",
    kernelArgs: [],
    excludeSync: [],
    excludeFull: [],
    protect: false,
    firmware: { mode: "bios", secureBoot: false, arch: "x86_64", persistentBootDevice: false },
    pos,
  };
  const network = {
    interface: "x",
    address: "10.0.0.1",
    prefix: 24,
    networkAddress: "10.0.0.0",
    netmask: "255.255.255.0",
    broadcast: "10.0.0.255",
    dns: [],
    dhcp: { mode: "authoritative", leaseTime: 60 },
    ports: { dhcp: 67, proxyDhcp: 4011, tftp: 69, http: 80, rsync: 873 },
  };
  const image = { name: "img", root: img, rootType: "directory", kernel: "/k", kernelArgs: [], excludeSync: [], excludeFull: [], pos };
  plan = renderInstallPlan({
    node,
    layout,
    image,
    network,
    imageDigest: "sha256:bench",
    rsyncUrl: `rsync://127.0.0.1:${port}/img/`,
    apiUrl: nodeApiUrl(base, "bench01"),
    nodeCredential: "bench-node-credential",
  });

  async function install(tag) {
    const first = reports.length;
    const t0 = process.hrtime.bigint();
    const child = spawn("unshare", ["-m", "--propagation", "private", "sh", initScript], {
      stdio: ["ignore", "ignore", "pipe"],
      env: {
        PATH: "/usr/sbin:/usr/bin:/sbin:/bin",
        MF_API: nodeApiUrl(base, "bench01"),
        MF_TOKEN: credential(),
        MF_ROOT: join(dir, "root"),
        MF_WORK: join(dir, `work-${tag}`),
        MF_CANDIDATES: dev,
        MF_SKIP_BOOTSTRAP: "1",
        MF_NO_SWITCH_ROOT: "1",
      },
    });
    let err = "";
    child.stderr.on("data", (c) => (err += c));
    const code = await new Promise((r) => child.on("close", r));
    const ms = Number(process.hrtime.bigint() - t0) / 1e6;
    if (code !== 0) throw new Error(`installer (${tag}) exited ${code}:\n${err}`);
    const mine = reports.slice(first);
    const rs = mine.find((r) => r.step === "rsync" && r.status === "finished");
    const mode = mine.find((r) => r.step === "mode" && r.status === "finished")?.message.split(":")[0];
    const rsStart = mine.find((r) => r.step === "rsync" && r.status === "started");
    const rsyncMs = Date.parse(rs.time) - Date.parse(rsStart.time);
    return { tag, mode, bytes: rs.bytes, files: rs.files, ms: Math.round(ms), rsyncMs };
  }

  // Plain rsync by hand over the same trees: a copy of the image in a directory.
  const manual = join(dir, "manual");
  mkdirSync(manual);
  function byHand(tag) {
    const t0 = process.hrtime.bigint();
    const out = execFileSync("rsync", ["-aHAX", "--numeric-ids", "--delete", "--stats", `rsync://127.0.0.1:${port}/img/`, manual + "/"], { encoding: "utf8" });
    const ms = Number(process.hrtime.bigint() - t0) / 1e6;
    const bytes = Number(/Total bytes received: ([\d,]+)/.exec(out)[1].replace(/,/g, ""));
    const files = Number(/Number of regular files transferred: ([\d,]+)/.exec(out)[1].replace(/,/g, ""));
    return { tag, bytes, files, ms: Math.round(ms) };
  }

  const rows = [];
  rows.push(["full install", await install("full"), byHand("full")]);
  // 1 % change: replace 1 % of the files (incompressible) with new content.
  const changed = Math.max(1, Math.round(count / 100));
  for (let i = 0; i < changed; i++) writeFileSync(join(img, "usr/lib", `f${(i * 97) % count}.bin`), randomBytes(FILE));
  rows.push(["sync after 1 % change", await install("delta"), byHand("delta")]);
  rows.push(["sync, nothing changed", await install("same"), byHand("same")]);

  console.log(`image: ${count} files x ${FILE / 1024} KiB = ${((count * FILE) / 1e6).toFixed(1)} MB; change: ${changed} files = ${((changed * FILE) / 1e6).toFixed(2)} MB`);
  console.log("| case | mode | installer bytes | rsync by hand bytes | ratio | installer total s | installer rsync s | rsync by hand s |");
  console.log("|---|---|---:|---:|---:|---:|---:|---:|");
  for (const [name, a, b] of rows) {
    console.log(
      `| ${name} | ${a.mode} | ${a.bytes} | ${b.bytes} | ${(a.bytes / b.bytes).toFixed(3)} | ${(a.ms / 1000).toFixed(2)} | ${(a.rsyncMs / 1000).toFixed(2)} | ${(b.ms / 1000).toFixed(2)} |`,
    );
  }
} finally {
  for (const f of cleanup.reverse()) {
    try {
      f();
    } catch {
      /* best effort: the rest still gets cleaned */
    }
  }
  rmSync(dir, { recursive: true, force: true });
}
