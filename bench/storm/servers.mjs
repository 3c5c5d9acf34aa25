// metalform's DHCP, TFTP and HTTP servers for the boot storm (started by run.sh in the
// server namespace):  node servers.mjs CONFIG.json
// CONFIG: {interface, address, mask, reservations:[{mac,ip}], tftpRoot, httpRoot, httpPort}
// Prints "ready" once all listen; on SIGTERM prints one JSON line with the DHCP
// counters, the distinct MACs acknowledged, TFTP/HTTP transfer counts and peak RSS.
import { readFileSync } from "node:fs";
import { DhcpServer } from "../../dist/services/dhcp/server.js";
import { HttpBootServer } from "../../dist/services/http/server.js";
import { TftpServer } from "../../dist/services/tftp/server.js";

const cfg = JSON.parse(readFileSync(process.argv[2], "utf8"));
const dhcp = new DhcpServer({
  serverAddress: cfg.address,
  interface: cfg.interface,
  subnetMask: cfg.mask,
  reservations: cfg.reservations,
  pxe: { tftpServer: cfg.address, scriptUrl: `http://${cfg.address}:${cfg.httpPort}/boot/\${mac}.ipxe` },
});
const tftp = new TftpServer({ root: cfg.tftpRoot, address: cfg.address, port: 69, maxTransfers: 2000 });
const http = new HttpBootServer({ address: cfg.address, port: cfg.httpPort, scripts: () => undefined, roots: { boot: cfg.httpRoot } });
const acked = new Set();
dhcp.on("ack", (i) => acked.add(i.mac));
const counts = { tftpComplete: 0, tftpErrors: 0, httpComplete: 0, httpIncomplete: 0 };
tftp.on("transfer-complete", () => counts.tftpComplete++);
tftp.on("transfer-error", () => counts.tftpErrors++);
http.on("file-served", (e) => (e.complete ? counts.httpComplete++ : counts.httpIncomplete++));
await dhcp.start();
await tftp.start();
await http.start();
let peakRss = 0;
let peakAll = 0;
setInterval(() => {
  peakRss = Math.max(peakRss, process.memoryUsage().rss);
  peakAll = Math.max(peakAll, peakRss);
}, 100).unref();
// SIGUSR2: print the peak RSS since the last SIGUSR2 (one line per storm phase), then reset it.
process.on("SIGUSR2", () => {
  console.log(`phase-peak-rss ${Math.round(Math.max(peakRss, process.memoryUsage().rss) / 2 ** 20)}`);
  peakRss = 0;
});
console.log("ready");
const stop = async () => {
  await Promise.all([dhcp.stop(), tftp.stop(), http.stop()]);
  console.log(JSON.stringify({ dhcp: dhcp.stats, distinctAcked: acked.size, ...counts, peakRssMiB: Math.round(peakAll / 2 ** 20) }));
  process.exit(0);
};
process.on("SIGTERM", stop);
process.on("SIGINT", stop);
