// A boot storm at the request port: COUNT clients send their RRQ at the same moment,
// each from its own socket, and each counts whether the server answered that first
// RRQ within WAIT_MS or the client had to send it again (a lost RRQ: the request
// socket's receive buffer overflowed).
//   node bench/tftp/storm.mjs HOST PORT FILE COUNT [WAIT_MS] [TRIES]
// FILE should be small (one DATA block): each client ACKs block 1 and is done.
// Prints one JSON line: {count, firstTry, retried, failed, seconds}. Exit 1 if any failed.
import dgram from "node:dgram";

const [host, portS, file, countS, waitS = "3000", triesS = "4"] = process.argv.slice(2);
if (!host || !portS || !file || !countS) {
  console.error("usage: storm.mjs HOST PORT FILE COUNT [WAIT_MS] [TRIES]");
  process.exit(2);
}
const port = Number(portS);
const count = Number(countS);
const waitMs = Number(waitS);
const tries = Number(triesS);
const rrq = Buffer.from(`\0\x01${file}\0octet\0`, "latin1");

async function openSocket() {
  const sock = dgram.createSocket("udp4");
  await new Promise((r) => sock.bind(0, r));
  return sock;
}

// All sockets first, so the RRQs leave back to back.
const sockets = await Promise.all(Array.from({ length: count }, openSocket));
const t0 = process.hrtime.bigint();
const results = await Promise.all(
  sockets.map(
    (sock) =>
      new Promise((resolve) => {
        let sent = 0;
        let timer;
        const end = (r) => {
          clearTimeout(timer);
          setTimeout(() => sock.close(), 50);
          resolve(r);
        };
        const send = () => {
          if (sent === tries) return end({ ok: false, sent });
          sent++;
          sock.send(rrq, port, host);
          timer = setTimeout(send, waitMs);
        };
        sock.on("message", (m, r) => {
          if (m.length < 4) return;
          const op = m.readUInt16BE(0);
          if (op === 5) return end({ ok: false, sent, error: m.subarray(4, m.length - 1).toString() });
          if (op !== 3 || m.readUInt16BE(2) !== 1) return;
          const ack = Buffer.from([0, 4, 0, 1]);
          sock.send(ack, r.port, host);
          end({ ok: true, sent });
        });
        send();
      }),
  ),
);
const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
const firstTry = results.filter((r) => r.ok && r.sent === 1).length;
const retried = results.filter((r) => r.ok && r.sent > 1).length;
const failed = results.filter((r) => !r.ok);
console.log(
  JSON.stringify({ count, firstTry, retried, failed: failed.length, errors: [...new Set(failed.map((r) => r.error).filter(Boolean))].slice(0, 3), seconds: +seconds.toFixed(2) }),
);
process.exit(failed.length === 0 ? 0 : 1);
