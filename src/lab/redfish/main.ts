// The lab's Redfish BMC emulator as a process: `node dist/lab/redfish/main.js
// CONFIG.json`, started by `metalform lab up --bmc redfish` inside the lab's
// namespace (detached, its output appended to redfish.log), stopped by `lab down`.
import { readFileSync } from "node:fs";
import { startEmulator, type EmulatorConfig } from "./server.js";

async function main(): Promise<void> {
  const file = process.argv[2];
  if (!file) throw new Error("usage: main.js CONFIG.json");
  const config = JSON.parse(readFileSync(file, "utf8")) as EmulatorConfig;
  const running = await startEmulator(config);
  const stop = () => void running.close().then(() => process.exit(0));
  process.on("SIGTERM", stop);
  process.on("SIGINT", stop);
}

main().catch((e: Error) => {
  process.stderr.write(`redfish emulator: ${e.message}\n`);
  process.exit(1);
});
