#!/usr/bin/env node
// Mutation fuzzing of metalform's live DHCP and TFTP servers.
//
//   node bench/fuzz/run.mjs [--packets N] [--proto dhcp,tftp] [--seed S] [--json]
//
// Runs inside a fresh network namespace (mfrb-fz-PID) with only loopback up, so
// replies to whatever addresses the mutations invent (relay agents, broadcasts) never
// leave it. Each server runs in its own process (bench/fuzz/target.mjs); this process
// sends N mutated packets (default 1,000,000 per protocol) and then a valid request,
// and prints: packets sent, packets the kernel delivered to the server, crashes
// (the server process exiting: must be 0), errors the server caught in a handler,
// whether it still answers, and RSS after warm-up vs at the end (after a GC).
// Needs root (ip netns), iproute2 and `npm run build`. Exit 1 on any failure.
import { spawn, spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import dgram from "node:dgram";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { dhcpPacket, dhcpSeeds, mutate, rng, tftpRrq, tftpSeeds, tftpTransferSeeds } from "./corpus.mjs";

const here = fileURLToPath(new URL(".", import.meta.url));
const repo = join(here, "../..");
const args = process.argv.slice(2);
const opt = (name, def) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : def;
};
const PACKETS = Number(opt("packets", "1000000"));
const PROTOS = opt("proto", "dhcp,tftp").split(",");
const SEED = Number(opt("seed", String(Date.now() % 1e9)));
const JSON_OUT = args.includes("--json");
/** RSS may grow by this much over the second half of the run before it counts as a leak. */
const RSS_SLACK = 16 << 20;
/** The JS heap (after a GC) may grow by this much between warm-up and the end. */
const HEAP_SLACK = 8 << 20;

if (!existsSync(join(repo, "dist/services/dhcp/server.js"))) {
  console.error("dist/ is missing: run `npm run build`");
  process.exit(1);
}

// ---- namespace wrapper: re-run this script inside a fresh namespace ----
if (!process.env.MFRB_FUZZ_NS) {
  if (process.getuid?.() !== 0) {
    console.error("run as root (creates a network namespace)");
    process.exit(1);
  }
  const ns = `mfrb-fz-${process.pid}`;
  const ip = (...a) => spawnSync("ip", a, { stdio: "ignore" }).status;
  // Best-effort removal of namespaces left by runs that were killed.
  for (const line of spawnSync("ip", ["netns", "list"], { encoding: "utf8" }).stdout?.split("\n") ?? []) {
    const name = line.split(" ")[0];
    if (name?.startsWith("mfrb-fz-") && !existsSync(`/proc/${name.slice(8)}`)) ip("netns", "del", name);
  }
  if (ip("netns", "add", ns) !== 0) {
    console.error("ip netns add failed (needs root and iproute2)");
    process.exit(1);
  }
  const cleanup = () => ip("netns", "del", ns);
  process.on("SIGINT", () => (cleanup(), process.exit(130)));
  process.on("SIGTERM", () => (cleanup(), process.exit(143)));
  ip("netns", "exec", ns, "ip", "link", "set", "lo", "up");
  const child = spawn("ip", ["netns", "exec", ns, process.execPath, fileURLToPath(import.meta.url), ...args, "--seed", String(SEED)], {
    stdio: "inherit",
    env: { ...process.env, MFRB_FUZZ_NS: ns },
  });
  child.on("exit", (code) => {
    cleanup();
    process.exit(code ?? 1);
  });
} else {
  // After the whole module has run (main uses constants defined below).
  setImmediate(() =>
    main().catch((e) => {
      console.error(e);
      process.exit(1);
    }),
  );
}

function startTarget(proto, port, extra) {
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, ["--expose-gc", join(here, "target.mjs"), proto, String(port), String(extra)], {
      stdio: ["ignore", "pipe", "pipe", "ipc"],
    });
    let err = "";
    p.stderr.on("data", (d) => (err += d));
    p.stdout.on("data", (d) => String(d).includes("ready") && resolve({ proc: p, stderr: () => err }));
    p.on("exit", (code) => reject(new Error(`${proto} target exited ${code}: ${err}`)));
  });
}

function ask(t) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error("target did not answer IPC within 30 s")), 30_000);
    t.proc.once("message", (m) => {
      clearTimeout(timer);
      resolve(m);
    });
    t.proc.send({ cmd: "stats" });
  });
}

/** Bytes waiting in the receive queue of the socket bound to 127.0.0.1:port, and its drops. */
function socketQueue(port) {
  const local = `0100007F:${port.toString(16).toUpperCase().padStart(4, "0")}`;
  for (const line of readFileSync("/proc/net/udp", "utf8").split("\n")) {
    const f = line.trim().split(/\s+/);
    if (f[1] === local) return { queued: parseInt(f[4].split(":")[1], 16), drops: Number(f[12]) };
  }
  return { queued: 0, drops: 0 };
}

/** IP literals only: answer dgram's lookup synchronously so a send happens when it is called. */
const literal = (address, _o, cb) => cb(null, address, 4);

async function openSocket(address, port = 0) {
  const s = dgram.createSocket({ type: "udp4", lookup: literal });
  await new Promise((res, rej) => {
    s.once("error", rej);
    s.bind(port, address, res);
  });
  s.setRecvBufferSize(4 << 20);
  return s;
}

/**
 * Sends `count` packets from `next()`, never more than WINDOW_BYTES unread at the server:
 * the point is to make the server parse every packet, not to overflow its socket.
 */
const WINDOW_BYTES = 48 * 1024;
async function blast(t, port, count, next, label) {
  let sent = 0;
  let warm;
  let mid;
  const samples = [];
  let lastAsk = 0;
  const warmAt = Math.min(50_000, Math.floor(count / 10));
  const started = Date.now();
  while (sent < count) {
    if (socketQueue(port).queued > WINDOW_BYTES) {
      await new Promise((r) => setTimeout(r, 1));
      continue;
    }
    const batch = Math.min(50, count - sent);
    for (let i = 0; i < batch; i++) next();
    sent += batch;
    if (sent - lastAsk >= 50_000 || sent === count) {
      lastAsk = sent;
      const s = await ask(t);
      samples.push({ sent, rssMiB: +(s.rss / 2 ** 20).toFixed(1), heapMiB: +(s.heapUsed / 2 ** 20).toFixed(1), externalMiB: +(s.external / 2 ** 20).toFixed(1) });
      if (!warm && sent >= warmAt) warm = s;
      if (!mid && sent >= count / 2) mid = s;
      if (!JSON_OUT && sent % 100_000 === 0) process.stderr.write(`${label}: ${sent} sent, ${(sent / ((Date.now() - started) / 1000)).toFixed(0)}/s\n`);
    } else {
      await new Promise((r) => setImmediate(r));
    }
  }
  return { sent, warm, mid, samples, seconds: (Date.now() - started) / 1000 };
}

function exited(t) {
  return t.proc.exitCode !== null || t.proc.signalCode !== null;
}

async function fuzzDhcp(r) {
  const serverPort = 10067;
  const clientPort = 10068;
  const t = await startTarget("dhcp", serverPort, clientPort);
  const before = await ask(t);
  const sock = await openSocket("127.0.0.1");
  sock.on("error", () => {});
  const seeds = dhcpSeeds();
  const run = await blast(t, serverPort, PACKETS, () => sock.send(mutate(r, seeds, 1400), serverPort, "127.0.0.1"), "dhcp");
  const drops = socketQueue(serverPort).drops;
  let after;
  let answered = false;
  if (!exited(t)) {
    after = await ask(t);
    // A valid REQUEST from the reserved node, renewing 127.0.0.2: the ACK is unicast to it.
    const client = await openSocket("127.0.0.2", clientPort);
    const req = dhcpPacket({ mac: [0x52, 0x54, 0x00, 0x12, 0x34, 0x56], type: 3, ciaddr: [127, 0, 0, 2] });
    req.writeUInt32BE(0xfeedf00d, 4);
    answered = await new Promise((resolve) => {
      const timer = setTimeout(() => resolve(false), 3000);
      client.on("message", (m) => {
        if (m.length > 240 && m[0] === 2 && m.readUInt32BE(4) === 0xfeedf00d && m.subarray(16, 20).equals(Buffer.from([127, 0, 0, 2]))) {
          clearTimeout(timer);
          resolve(true);
        }
      });
      client.send(req, serverPort, "127.0.0.1");
    });
    client.close();
  }
  sock.close();
  return finish("dhcp", t, run, before, after, answered, drops);
}

async function fuzzTftp(r) {
  const root = mkdtempSync(join(tmpdir(), "mfrb-fuzz-tftp-"));
  const medium = Buffer.alloc(300_000);
  for (let i = 0; i < medium.length; i++) medium[i] = (i * 31 + (i >> 9)) & 0xff;
  writeFileSync(join(root, "small.bin"), "small file\n");
  writeFileSync(join(root, "medium.bin"), medium);
  mkdirSync(join(root, "sub"));
  writeFileSync(join(root, "sub/inner.bin"), Buffer.alloc(3000, 5));
  symlinkSync("/etc", join(root, "escape"));
  const port = 10069;
  const t = await startTarget("tftp", port, root);
  const before = await ask(t);
  // 32 client sockets (32 concurrent transfers at most from the fuzzer); TIDs learned
  // from replies get mutated ACK/ERROR/DATA packets from the socket that owns them.
  const socks = [];
  const tids = new Map();
  for (let i = 0; i < 32; i++) {
    const s = await openSocket("127.0.0.1");
    s.on("error", () => {});
    s.on("message", (_m, rinfo) => {
      if (rinfo.port !== port) tids.set(s, rinfo.port);
    });
    socks.push(s);
  }
  const seeds = tftpSeeds();
  const tseeds = tftpTransferSeeds();
  let k = 0;
  const run = await blast(
    t,
    port,
    PACKETS,
    () => {
      const s = socks[k++ % socks.length];
      const tid = tids.get(s);
      if (tid !== undefined && r.chance(0.3)) s.send(mutate(r, tseeds, 600), tid, "127.0.0.1");
      else s.send(mutate(r, seeds, 1400), port, "127.0.0.1");
    },
    "tftp",
  );
  const drops = socketQueue(port).drops;
  let after;
  let answered = false;
  if (!exited(t)) {
    after = await ask(t);
    const got = await tftpGet(port, "medium.bin").catch((e) => ({ error: e.message }));
    answered = Buffer.isBuffer(got) && sha256(got) === sha256(medium);
  }
  for (const s of socks) s.close();
  rmSync(root, { recursive: true, force: true });
  return finish("tftp", t, run, before, after, answered, drops);
}

const sha256 = (b) => createHash("sha256").update(b).digest("hex");

/** Minimal RFC 1350 + blksize client: lock-step, octet. */
async function tftpGet(port, file) {
  const s = await openSocket("127.0.0.1");
  const parts = [];
  try {
    return await new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error("TFTP download timed out")), 10_000);
      let expect = 1;
      s.on("message", (m, rinfo) => {
        const op = m.readUInt16BE(0);
        if (op === 6) return s.send(Buffer.from([0, 4, 0, 0]), rinfo.port, rinfo.address);
        if (op === 5) return reject(new Error(`TFTP error ${m.readUInt16BE(2)} ${m.subarray(4).toString()}`));
        if (op !== 3) return;
        const block = m.readUInt16BE(2);
        if (block === (expect & 0xffff)) {
          parts.push(Buffer.from(m.subarray(4)));
          expect++;
        }
        s.send(Buffer.from([0, 4, m[2], m[3]]), rinfo.port, rinfo.address);
        if (m.length - 4 < 1468 && block === ((expect - 1) & 0xffff)) {
          clearTimeout(timer);
          resolve(Buffer.concat(parts));
        }
      });
      s.send(tftpRrq(file, { blksize: 1468 }), port, "127.0.0.1");
    });
  } finally {
    s.close();
  }
}

async function finish(proto, t, run, before, after, answered, drops) {
  const crashed = exited(t);
  const warm = run.warm ?? before;
  const result = {
    proto,
    seed: SEED,
    sent: run.sent,
    // Of the packets sent to the request port, how many the kernel dropped (its queue was full).
    droppedAtServerSocket: drops,
    parsedByServer: after?.received ?? null,
    seconds: Number(run.seconds.toFixed(1)),
    crashes: crashed ? 1 : 0,
    crashOutput: crashed ? t.stderr().slice(-2000) : undefined,
    handlerErrors: after?.errors ?? null,
    lastHandlerError: after?.lastError || undefined,
    answersAfter: answered,
    rssStartMiB: +(before.rss / 2 ** 20).toFixed(1),
    rssWarmMiB: +(warm.rss / 2 ** 20).toFixed(1),
    rssEndMiB: after ? +(after.rss / 2 ** 20).toFixed(1) : null,
    heapWarmMiB: +(warm.heapUsed / 2 ** 20).toFixed(1),
    heapEndMiB: after ? +(after.heapUsed / 2 ** 20).toFixed(1) : null,
    serverStats: after,
  };
  // A leak grows with the packet count: compare the second half of the run (RSS after
  // the first half has settled allocator arenas and V8's heap reservations) and the JS heap.
  const mid = run.mid ?? warm;
  result.rssMidMiB = +(mid.rss / 2 ** 20).toFixed(1);
  result.samples = run.samples;
  result.rssGrowthOk = after ? after.rss - mid.rss < RSS_SLACK && after.heapUsed - warm.heapUsed < HEAP_SLACK : false;
  result.ok = result.crashes === 0 && result.handlerErrors === 0 && answered && result.rssGrowthOk && result.sent === PACKETS;
  if (!crashed) {
    t.proc.send({ cmd: "stop" });
    await new Promise((r) => t.proc.once("exit", r));
  }
  return result;
}

async function main() {
  const r = rng(SEED);
  const results = [];
  if (PROTOS.includes("dhcp")) results.push(await fuzzDhcp(r));
  if (PROTOS.includes("tftp")) results.push(await fuzzTftp(r));
  if (JSON_OUT) {
    console.log(JSON.stringify({ seed: SEED, results }));
  } else {
    console.log(`seed ${SEED} (replay with --seed ${SEED})`);
    console.log("proto  packets-sent  socket-drops  seconds  crashes  handler-errors  answers-after  RSS warm→mid→end MiB  heap warm→end MiB  result");
    for (const x of results) {
      console.log(
        [
          x.proto.padEnd(5),
          String(x.sent).padStart(13),
          String(x.droppedAtServerSocket).padStart(13),
          String(x.seconds).padStart(8),
          String(x.crashes).padStart(8),
          String(x.handlerErrors).padStart(15),
          String(x.answersAfter).padStart(14),
          `${x.rssWarmMiB}→${x.rssMidMiB}→${x.rssEndMiB}`.padStart(21),
          `${x.heapWarmMiB}→${x.heapEndMiB}`.padStart(18),
          x.ok ? "  ok" : "  FAIL",
        ].join(" "),
      );
      if (x.crashOutput) console.log(`  ${x.proto} crashed:\n${x.crashOutput}`);
      if (x.lastHandlerError) console.log(`  ${x.proto} last handler error: ${x.lastHandlerError}`);
    }
  }
  process.exit(results.every((x) => x.ok) ? 0 : 1);
}
