// COUNT concurrent downloads of one boot file, each hashed, as PXE firmware and iPXE do:
//   node fetch.mjs tftp HOST PORT PATH COUNT SHA256
//   node fetch.mjs http HOST PORT PATH COUNT SHA256
// TFTP is lock-step with blksize 1432 (windowsize 1, like most PXE ROMs); a client
// retransmits after 1 s of silence, 1 s, 2 s, 4 s, 8 s (PXE's schedule), then gives up.
// Prints one JSON line: count, intact, failed (with reasons), first-reply and total
// time percentiles. Exit 1 unless every download is intact.
import dgram from "node:dgram";
import http from "node:http";
import { createHash } from "node:crypto";

const [proto, host, portS, path, countS, want] = process.argv.slice(2);
const port = Number(portS);
const count = Number(countS);
const RETRY_MS = [1000, 1000, 2000, 4000, 8000];
const BLKSIZE = 1432;

function tftpGet() {
  return new Promise((resolve) => {
    const t0 = performance.now();
    const sock = dgram.createSocket({ type: "udp4", lookup: (a, _o, cb) => cb(null, a, 4) });
    const hash = createHash("sha256");
    const rrq = Buffer.from(`\0\x01${path}\0octet\0blksize\0${BLKSIZE}\0`, "latin1");
    let blksize = 512;
    let expected = 1;
    let bytes = 0;
    let firstReply;
    let last = rrq;
    let lastTo = port;
    let tries = 0;
    let timer;
    let done = false;
    const end = (ok, why) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      // Let the final ACK leave before the socket goes (the server completes on it).
      setTimeout(() => sock.close(), 200);
      resolve({ ok, why, bytes, sha256: hash.digest("hex"), firstReplyMs: firstReply, ms: performance.now() - t0 });
    };
    const send = (b, to) => {
      last = b;
      lastTo = to;
      sock.send(b, to, host);
      clearTimeout(timer);
      timer = setTimeout(retry, RETRY_MS[Math.min(tries, RETRY_MS.length - 1)]);
    };
    const retry = () => {
      if (++tries > RETRY_MS.length) return end(false, firstReply === undefined ? "no answer" : "stalled");
      send(last, lastTo);
    };
    const ack = (n, to) => send(Buffer.from([0, 4, (n >> 8) & 0xff, n & 0xff]), to);
    sock.on("message", (m, r) => {
      firstReply ??= performance.now() - t0;
      tries = 0;
      const op = m.readUInt16BE(0);
      if (op === 5) return end(false, `error ${m.readUInt16BE(2)} ${m.subarray(4).toString("latin1").replace(/\0.*/, "")}`);
      if (op === 6) {
        const parts = m.subarray(2).toString("latin1").split("\0");
        const i = parts.indexOf("blksize");
        if (i >= 0) blksize = Number(parts[i + 1]);
        return ack(0, r.port);
      }
      if (op !== 3) return;
      const blk = m.readUInt16BE(2);
      if (blk !== (expected & 0xffff)) return ack((expected - 1) & 0xffff, r.port);
      const data = m.subarray(4);
      hash.update(data);
      bytes += data.length;
      expected++;
      ack(blk, r.port);
      if (data.length < blksize) end(true);
    });
    sock.bind(0, () => send(rrq, port));
  });
}

const agent = new http.Agent({ keepAlive: false, maxSockets: Infinity });
function httpGet() {
  return new Promise((resolve) => {
    const t0 = performance.now();
    const hash = createHash("sha256");
    let bytes = 0;
    let firstReply;
    const req = http.get({ host, port, path, agent, timeout: 30_000 }, (res) => {
      firstReply = performance.now() - t0;
      res.on("data", (d) => {
        hash.update(d);
        bytes += d.length;
      });
      res.on("end", () =>
        resolve({ ok: res.statusCode === 200, why: `status ${res.statusCode}`, bytes, sha256: hash.digest("hex"), firstReplyMs: firstReply, ms: performance.now() - t0 }),
      );
      res.on("error", (e) => resolve({ ok: false, why: e.message, bytes, firstReplyMs: firstReply, ms: performance.now() - t0 }));
    });
    req.on("timeout", () => req.destroy(new Error("timeout")));
    req.on("error", (e) => resolve({ ok: false, why: e.message, bytes, firstReplyMs: firstReply, ms: performance.now() - t0 }));
  });
}

const pct = (xs, p) => (xs.length ? Math.round(xs.sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((p / 100) * xs.length))]) : null);
const t0 = performance.now();
const results = await Promise.all(Array.from({ length: count }, proto === "tftp" ? tftpGet : httpGet));
const seconds = (performance.now() - t0) / 1000;
const intact = results.filter((r) => r.ok && r.sha256 === want).length;
const reasons = {};
for (const r of results) if (!(r.ok && r.sha256 === want)) reasons[r.ok ? "corrupt" : r.why] = (reasons[r.ok ? "corrupt" : r.why] ?? 0) + 1;
const first = results.filter((r) => r.firstReplyMs !== undefined).map((r) => r.firstReplyMs);
const total = results.filter((r) => r.ok).map((r) => r.ms);
console.log(
  JSON.stringify({
    proto,
    count,
    intact,
    failed: count - intact,
    reasons,
    unanswered: results.filter((r) => r.firstReplyMs === undefined).length,
    firstReplyMs: { p50: pct(first, 50), p99: pct(first, 99), max: pct(first, 100) },
    totalMs: { p50: pct(total, 50), p99: pct(total, 99), max: pct(total, 100) },
    seconds: +seconds.toFixed(2),
    mbytes: +(results.reduce((n, r) => n + r.bytes, 0) / 1e6).toFixed(1),
  }),
);
process.exit(intact === count ? 0 : 1);
