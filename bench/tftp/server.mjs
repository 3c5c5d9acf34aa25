// Runs metalform's TFTP server from the build (dist/) for the benchmark:
//   node bench/tftp/server.mjs ROOT ADDRESS PORT
// Prints "ready" once listening; stops on SIGTERM/SIGINT. Environment (for comparing
// paths): TFTP_SEND_PATH=gso|sendmmsg|dgram, TFTP_REQUEST_BUFFER=bytes (0 = kernel default).
import { TftpServer } from "../../dist/services/tftp/server.js";

const [root, address, port] = process.argv.slice(2);
if (!root || !address || !port) {
  console.error("usage: server.mjs ROOT ADDRESS PORT");
  process.exit(2);
}
const env = process.env;
const server = new TftpServer({
  root,
  address,
  port: Number(port),
  maxTransfers: 1000,
  sendPath: env.TFTP_SEND_PATH || undefined,
  requestBufferBytes: env.TFTP_REQUEST_BUFFER ? Number(env.TFTP_REQUEST_BUFFER) : undefined,
});
let failures = 0;
server.on("transfer-error", (e) => {
  failures++;
  console.error(`transfer-error ${e.path} ${e.remote.address}:${e.remote.port} ${e.reason}`);
});
await server.start();
console.log("ready");
console.error(`send path: ${server.sendPath}, native request socket: ${server.nativeRequestSocket}`);
// Peak resident memory, to show that concurrent transfers hold chunks, not files.
let peakRss = 0;
let peakTransfers = 0;
setInterval(() => {
  peakRss = Math.max(peakRss, process.memoryUsage().rss);
  peakTransfers = Math.max(peakTransfers, server.activeTransfers);
}, 50).unref();
const stop = async () => {
  await server.stop();
  console.error(`metalform tftp stopped: ${failures} failed transfers, peak RSS ${(peakRss / 2 ** 20).toFixed(0)} MiB, peak concurrent transfers ${peakTransfers}`);
  process.exit(0);
};
process.on("SIGTERM", stop);
process.on("SIGINT", stop);
