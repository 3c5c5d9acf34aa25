// Many concurrent TFTP reads from one process, each hashed as it arrives:
//   node bench/tftp/concurrent.mjs HOST PORT FILE COUNT SHA256 [BLKSIZE] [WINDOWSIZE]
// Prints one JSON line: {count, intact, failed, seconds, mbps}. Exit 1 unless all are intact.
import dgram from "node:dgram";
import { createHash } from "node:crypto";

const [host, portS, file, countS, want, blkS = "1468", winS = "16"] = process.argv.slice(2);
const port = Number(portS);
const count = Number(countS);

function u16(op, n) {
  const b = Buffer.alloc(4);
  b.writeUInt16BE(op, 0);
  b.writeUInt16BE(n & 0xffff, 2);
  return b;
}

function get() {
  return new Promise((resolve) => {
    const sock = dgram.createSocket("udp4");
    const hash = createHash("sha256");
    const rrq = Buffer.from(`\0\x01${file}\0octet\0blksize\0${blkS}\0windowsize\0${winS}\0`, "latin1");
    let blksize = 512,
      windowsize = 1,
      expected = 1,
      inWindow = 0,
      bytes = 0,
      server,
      lastAck = 0,
      idle = 0,
      done = false;
    const end = (ok, why) => {
      if (done) return;
      done = true;
      clearInterval(timer);
      setTimeout(() => sock.close(), 50);
      resolve({ ok, bytes, sha256: hash.digest("hex"), why });
    };
    const ack = (n) => {
      lastAck = n;
      sock.send(u16(4, n), server, host);
    };
    let silent = 0;
    const timer = setInterval(() => {
      if (idle++ < 1) return;
      idle = 0;
      if (++silent > 30) return end(false, "timeout");
      if (server === undefined) sock.send(rrq, port, host);
      else ack(lastAck);
    }, 500);
    sock.on("message", (m, r) => {
      if (server === undefined) server = r.port;
      if (r.port !== server || m.length < 4) return;
      const op = m.readUInt16BE(0),
        blk = m.readUInt16BE(2);
      idle = 0;
      silent = 0;
      if (op === 5) return end(false, `error ${blk} ${m.subarray(4).toString()}`);
      if (op === 6) {
        const f = m.subarray(2).toString("latin1").split("\0");
        for (let i = 0; i + 1 < f.length; i += 2) {
          if (f[i] === "blksize") blksize = Number(f[i + 1]);
          if (f[i] === "windowsize") windowsize = Number(f[i + 1]);
        }
        return ack(0);
      }
      if (op !== 3) return;
      if (blk !== (expected & 0xffff)) return ack(expected - 1);
      const data = m.subarray(4);
      hash.update(data);
      bytes += data.length;
      expected++;
      const last = data.length < blksize;
      if (last || ++inWindow >= windowsize) {
        inWindow = 0;
        ack(expected - 1);
      }
      if (last) end(true);
    });
    sock.bind(0, () => sock.send(rrq, port, host));
  });
}

const t0 = process.hrtime.bigint();
const results = await Promise.all(Array.from({ length: count }, get));
const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
const intact = results.filter((r) => r.ok && r.sha256 === want).length;
const failed = results.filter((r) => !r.ok).map((r) => r.why);
const totalBytes = results.reduce((n, r) => n + r.bytes, 0);
console.log(
  JSON.stringify({ count, intact, failed: failed.length, reasons: [...new Set(failed)].slice(0, 5), seconds: +seconds.toFixed(2), mbps: +(totalBytes / seconds / 1e6).toFixed(1) }),
);
process.exit(intact === count ? 0 : 1);
