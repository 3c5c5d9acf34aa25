// The server under fuzz, in its own process so a crash is an exit the runner sees:
//   node --expose-gc bench/fuzz/target.mjs dhcp|tftp PORT [CLIENT_PORT|TFTP_ROOT]
// Prints "ready"; answers IPC {cmd:"stats"} with its memory and counters (after a GC,
// so RSS compares like with like). Errors the server logs (a handler that threw and was
// caught) are counted: the fuzzer reports them as bugs even though nothing crashed.
const [proto, portArg, extra] = process.argv.slice(2);
const port = Number(portArg);
const counts = { errors: 0, lastError: "" };
const logger = {
  debug() {},
  info() {},
  warn() {},
  error(event, fields) {
    // Failed sends (to a broadcast or mutated address in a namespace with only lo) are expected.
    if (event === "socket-error" || event === "reply-failed" || event === "send-failed") return;
    counts.errors++;
    counts.lastError = `${event} ${JSON.stringify(fields ?? {})}`.slice(0, 300);
  },
  child() {
    return logger;
  },
};

let server;
let stats = () => ({});
if (proto === "dhcp") {
  const { DhcpServer } = await import("../../dist/services/dhcp/server.js");
  server = new DhcpServer({
    serverAddress: "127.0.0.1",
    listenAddress: "127.0.0.1",
    subnetMask: "255.0.0.0",
    ports: { server: port, client: Number(extra) },
    reservations: [{ mac: "52:54:00:12:34:56", ip: "127.0.0.2", hostname: "node001" }],
    dynamicRange: { start: "127.1.0.0", end: "127.1.255.255" },
    pxe: { tftpServer: "127.0.0.1", scriptUrl: "http://127.0.0.1:8080/boot/${mac}.ipxe" },
    socketBufferSize: 8 << 20,
    logger,
  });
  stats = () => ({ ...server.stats, leases: server.leases().length });
} else if (proto === "tftp") {
  const { TftpServer } = await import("../../dist/services/tftp/server.js");
  server = new TftpServer({
    address: "127.0.0.1",
    port,
    root: extra,
    provider: (path) => (path.startsWith("virtual/") ? `#!ipxe\necho ${path.length}\n` : undefined),
    timeoutMs: 200,
    maxTimeoutMs: 400,
    maxRetries: 2,
    logger,
  });
  stats = () => ({ activeTransfers: server.activeTransfers });
} else {
  console.error("usage: target.mjs dhcp|tftp PORT [CLIENT_PORT|ROOT]");
  process.exit(2);
}
process.on("uncaughtException", (e) => {
  console.error(`uncaught: ${e.stack}`);
  process.exit(70);
});
await server.start();
process.on("message", (m) => {
  if (m?.cmd === "stats") {
    globalThis.gc?.();
    const mem = process.memoryUsage();
    process.send({ rss: mem.rss, heapUsed: mem.heapUsed, external: mem.external, errors: counts.errors, lastError: counts.lastError, ...stats() });
  } else if (m?.cmd === "stop") {
    server.stop().then(() => process.exit(0));
  }
});
console.log("ready");
