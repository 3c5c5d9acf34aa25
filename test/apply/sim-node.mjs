// A node simulated at the protocol level, run inside its own network namespace:
// it does what PXE firmware, iPXE and metalform's installer do on the wire, with
// real clients — udhcpc for DHCP (as PXE firmware, then as iPXE), curl for TFTP and
// HTTP, rsync from the daemon — and posts the installer's reports to the API.
//
//   node sim-node.mjs IFACE WORKDIR [behaviour]
// behaviour: "ok" (default), "fail-sync" (reports a failed rsync step),
// "slow-sync" (the sync takes about two seconds more), "hang-sync" (starts the
// sync, then never reports again), "hang-if=ADDR" (hangs like hang-sync when its
// image comes from the provisioner at ADDR, syncs like slow-sync otherwise).
// Prints one JSON line per step to stdout; exits 0 when it reported UP. Before it
// posts UP it prints "up-posting" with the digest it is about to report, so a test
// can tell what a node claimed even when the head node died before answering.
import { execFileSync, spawnSync } from "node:child_process";
import { mkdirSync, readFileSync, writeFileSync, chmodSync } from "node:fs";
import { join } from "node:path";

const [iface = "eth0", work = "/tmp/sim", behaviour = "ok"] = process.argv.slice(2);
mkdirSync(work, { recursive: true });
const log = (step, extra = {}) => process.stdout.write(JSON.stringify({ step, ...extra }) + "\n");

// udhcpc hands the lease to this script; it configures the interface and records the fields.
const hook = join(work, "udhcpc.sh");
writeFileSync(
  hook,
  `#!/bin/sh
case "$1" in
deconfig) ip addr flush dev "$interface"; ip link set "$interface" up ;;
bound|renew)
  ip addr flush dev "$interface"
  ip addr add "$ip/\${mask:-24}" dev "$interface"
  printf 'ip=%s\\nsiaddr=%s\\nboot_file=%s\\nrouter=%s\\nhostname=%s\\n' "$ip" "$siaddr" "$boot_file" "$router" "$hostname" > "${work}/lease-$UDHCPC_ROUND"
  ;;
esac
exit 0
`,
);
chmodSync(hook, 0o755);

function dhcp(round, extraArgs) {
  const r = spawnSync("udhcpc", ["-i", iface, "-f", "-q", "-n", "-t", "6", "-T", "1", "-A", "1", "-s", hook, ...extraArgs], {
    env: { ...process.env, UDHCPC_ROUND: String(round) },
    encoding: "utf8",
    timeout: 30_000,
  });
  if (r.status !== 0) throw new Error(`udhcpc (${round}) failed: ${r.stderr || r.stdout}`);
  const lease = Object.fromEntries(
    readFileSync(join(work, `lease-${round}`), "utf8")
      .trim()
      .split("\n")
      .map((l) => [l.slice(0, l.indexOf("=")), l.slice(l.indexOf("=") + 1)]),
  );
  log(`dhcp-${round}`, lease);
  return lease;
}

function curl(args) {
  return execFileSync("curl", ["-sS", "--fail", "--max-time", "30", ...args], { encoding: "buffer", maxBuffer: 256 << 20 });
}

async function main() {
  // 1. The firmware: PXEClient, BIOS architecture → the first loader over TFTP.
  const fw = dhcp(1, ["-V", "PXEClient:Arch:00000:UNDI:002001", "-x", "0x5d:0000"]);
  const loader = curl([`tftp://${fw.siaddr}/${fw.boot_file}`]);
  log("tftp", { file: fw.boot_file, bytes: loader.length });
  // 2. iPXE asks again (user class "iPXE") → the URL of this node's script.
  const ipxe = dhcp(2, ["-V", "PXEClient:Arch:00000:UNDI:002001", "-x", "0x5d:0000", "-x", "0x4d:69505845"]);
  const script = curl([ipxe.boot_file]).toString("utf8");
  log("script", { url: ipxe.boot_file, lines: script.split("\n").length });
  const kernelLine = script.split("\n").find((l) => l.startsWith("kernel "));
  if (!kernelLine) {
    log("local-boot", { script });
    return;
  }
  const [, kernelUrl, ...args] = kernelLine.replace(/ \|\| goto failed$/, "").split(" ");
  const arg = (k) => args.find((a) => a.startsWith(k + "="))?.slice(k.length + 1);
  const api = arg("mf.api");
  const initrdUrl = script
    .split("\n")
    .find((l) => l.startsWith("initrd "))
    ?.split(" ")[3];
  const kernel = curl([kernelUrl]);
  const initrd = curl([initrdUrl]);
  log("boot-files", { kernel: kernel.length, initrd: initrd.length });
  // 3. The installer claims this attempt's credentials once, from its leased address
  // (the script holds none).
  const claim = await fetch(`${api}/claim`, { method: "POST", signal: AbortSignal.timeout(30_000) });
  const claimed = await claim.text();
  if (!claim.ok) throw new Error(`claim: HTTP ${claim.status} ${claimed}`);
  // Kept in the scratch directory, owner-only, as the installer does (attack tests replay it).
  writeFileSync(join(work, "claim"), claimed, { mode: 0o600 });
  const cred = (k) => new RegExp(`^${k}='([^']*)'$`, "m").exec(claimed)?.[1];
  const token = cred("MF_TOKEN");
  log("claimed", { rsyncUser: cred("MF_RSYNC_USER") });
  // The installer's reports and its plan: plain HTTP from this namespace (one
  // process per node is lighter than a curl per report when twenty nodes run).
  let headers = { authorization: `Bearer ${token}` };
  // A keep-alive connection left idle through a long (synchronous) rsync may have been
  // closed by the server: a request that fails on the wire is sent again.
  const call = async (path, body, tries = 3) => {
    let res;
    try {
      res = await send(path, body);
    } catch (e) {
      if (tries <= 1) throw e;
      return call(path, body, tries - 1);
    }
    const text = await res.text();
    if (!res.ok) throw new Error(`${path}: HTTP ${res.status} ${text}`);
    return text;
  };
  const send = (path, body) =>
    fetch(`${api}/${path}`, {
      method: body === undefined ? "GET" : "POST",
      headers: body === undefined ? headers : { ...headers, "content-type": "application/json" },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      signal: AbortSignal.timeout(30_000),
    });
  const report = (step, status, extra = {}) => call("report", { step, status, ...extra });
  for (const s of ["modules", "network"]) {
    await report(s, "started");
    await report(s, "finished");
  }
  const plan = JSON.parse(await call("plan"));
  log("plan", { node: plan.node, mode: plan.mode, rsync: plan.image.rsync });
  // The installer's hardware inventory (post_inventory): this namespace's NIC and a made-up disk.
  const mac = readFileSync(`/sys/class/net/${iface}/address`, "utf8").trim();
  await call("inventory", { dmi: { vendor: "sim" }, cpu: { logical: 1 }, memoryBytes: 1 << 30, disks: [{ name: "vda", bytes: 2 ** 31 }], nics: [{ name: iface, mac }], bmc: null });
  for (const s of ["disks", "mode", "partition", "mkfs", "mount"]) {
    await report(s, "started");
    await report(s, "finished");
  }
  await report("rsync", "started");
  // "hang-if=ADDR": hang in the sync when the image comes from the provisioner at ADDR.
  const hangFrom = behaviour.startsWith("hang-if=") ? behaviour.slice("hang-if=".length) : undefined;
  if (behaviour === "hang-sync" || (hangFrom && plan.image.rsync.includes(`//${hangFrom}:`))) {
    log("hanging", { step: "rsync" });
    await new Promise((r) => setTimeout(r, 600_000));
  }
  if (behaviour === "fail-sync") {
    await report("rsync", "failed", {
      message: "rsync: connection unexpectedly closed (0 bytes received so far) [receiver]\nrsync error: error in rsync protocol data stream (code 12)",
    });
    log("failed", { step: "rsync" });
    return;
  }
  const target = join(work, "root");
  mkdirSync(target, { recursive: true });
  const source = plan.image.rsync.replace("rsync://", `rsync://${cred("MF_RSYNC_USER")}@`);
  const out = execFileSync("rsync", ["-a", "--delete", "--stats", "--numeric-ids", source, target + "/"], {
    encoding: "utf8",
    env: { ...process.env, RSYNC_PASSWORD: cred("MF_RSYNC_PASSWORD") },
  });
  const received = Number(/Total bytes received: ([\d,]+)/.exec(out)?.[1]?.replace(/,/g, "") ?? "0");
  const files = Number(/Number of regular files transferred: ([\d,]+)/.exec(out)?.[1]?.replace(/,/g, "") ?? "0");
  if (behaviour === "slow-sync" || hangFrom) await new Promise((r) => setTimeout(r, 2000));
  await report("rsync", "finished", { bytes: received, files });
  log("rsync", { bytes: received, files });
  for (const s of ["configure", "switch-root"]) {
    await report(s, "started");
    await report(s, "finished");
  }
  // 4. The installed system's reporter, with the node credential the plan gave it.
  const nodeCredential = plan.files.find((f) => f.path === "/etc/metalform/node-credential")?.content.trim();
  headers = { authorization: `Bearer ${nodeCredential}` };
  log("up-posting", { image: plan.image.digest });
  await call("up", { image: plan.image.digest });
  log("up", { image: plan.image.digest });
}

main().catch((e) => {
  log("error", { message: String(e?.message ?? e) });
  process.exit(1);
});
