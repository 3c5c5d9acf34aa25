// Runs metalform's DHCP server from dist/ for the benchmark (started by run.sh inside
// the server namespace). Config as JSON in argv[2]; prints "ready" once listening and
// its counters on SIGTERM.
import { DhcpServer } from "../../dist/services/dhcp/server.js";

const opts = JSON.parse(process.argv[2]);
const server = new DhcpServer(opts);
await server.start();
console.log("ready");
const stop = async () => {
  await server.stop();
  console.log(JSON.stringify({ stats: server.stats, leases: server.leases().length }));
  process.exit(0);
};
process.on("SIGTERM", stop);
process.on("SIGINT", stop);
