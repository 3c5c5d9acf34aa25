// `metalform serve`: the PXE services of a configuration in the foreground.
import type { ArgumentsCamelCase, Argv, CommandModule } from "yargs";
import { useColor, type GlobalArgs } from "../globals.js";
import { reportError } from "./plan.js";

interface ServeArgs extends GlobalArgs {
  state?: string;
  bindAddress?: string;
  bindInterface?: string;
  tftpRoot?: string;
  installWindow: string;
  logLevel: "debug" | "info" | "warn" | "error";
  role: "head" | "provisioner";
  name?: string;
  address?: string;
  slots: number;
  affinityCategory: string[];
  affinityNodes: string[];
  dhcp: boolean;
  heartbeat: string;
  applyTimeout: string;
  workDir?: string;
}

export const serveCommand: CommandModule<GlobalArgs, ServeArgs> = {
  command: "serve",
  describe: "Run the DHCP, TFTP, HTTP and rsync services for the configuration until SIGTERM or Ctrl-C (SIGHUP reloads it)",
  builder: (y: Argv<GlobalArgs>) =>
    y
      .option("state", { type: "string", describe: "State: a file, or a postgres:// URL (default: the configuration's backend, else .metalform/state.json beside it)" })
      .option("bind-address", { type: "string", describe: "Address the services bind to (default: network.address)" })
      .option("bind-interface", { type: "string", describe: "Interface DHCP binds to (default: network.interface; 'none' for no binding)" })
      .option("tftp-root", { type: "string", describe: "Directory with the iPXE loaders (default: /usr/lib/ipxe)" })
      .option("install-window", { type: "string", default: "2h", describe: "Upper bound of one install attempt: its credentials end then at the latest (e.g. 90m)" })
      .option("log-level", { choices: ["debug", "info", "warn", "error"] as const, default: "info" as const, describe: "Log level" })
      .option("role", {
        choices: ["head", "provisioner"] as const,
        default: "head" as const,
        describe: "head: all services for this configuration; provisioner: one of several provisioning servers sharing installs through the PostgreSQL state",
      })
      .option("name", { type: "string", describe: "Provisioner: its name (default: the host name)" })
      .option("address", { type: "string", describe: "Provisioner: its address on the provisioning network (nodes fetch from it)" })
      .option("slots", { type: "number", default: 10, describe: "Provisioner: installs it runs at once" })
      .option("affinity-category", { type: "string", array: true, default: [], describe: "Provisioner: prefer nodes of this category; repeatable" })
      .option("affinity-nodes", { type: "string", array: true, default: [], describe: "Provisioner: prefer these nodes (NODE or RANGE, e.g. rack1-n[01-32]); repeatable" })
      .option("dhcp", { type: "boolean", default: true, describe: "Provisioner: may become the network's DHCP authority (--no-dhcp: never)" })
      .option("heartbeat", { type: "string", default: "5s", describe: "Provisioner: heartbeat interval (the DHCP authority's lease is three)" })
      .option("apply-timeout", { type: "string", default: "30s", describe: "Provisioner: an apply silent this long died; its nodes go back to local boot" })
      .option("work-dir", { type: "string", describe: "Provisioner: image copies and service files (default .metalform/provisioner-NAME)" })
      .example("$0 serve --role provisioner --state postgres://mf@db/metalform --name prov2 --address 10.141.0.2 --bind-interface eth1", "A second provisioning server")
      .example("$0 serve", "Serve ./cluster.yaml's provisioning network; nodes boot their local disks")
      .example("$0 serve --json --log-level debug", "Structured logs, one JSON object a line") as unknown as Argv<ServeArgs>,
  handler: async (argv: ArgumentsCamelCase<ServeArgs>) => {
    if (argv.role === "provisioner") return serveProvisioner(argv);
    const { runServe, ServeWillNotRun } = await import("../../serve/run.js");
    const { liveProvisionersOf } = await import("../../provisioners/registered.js");
    const { formatDiagnostics } = await import("../../config/diagnostics.js");
    const { createLogger, lineSink, jsonSink } = await import("../../util/log.js");
    const { parseDuration } = await import("../../state/duration.js");
    try {
      const installWindowMs = parseDuration(argv.installWindow);
      if (!installWindowMs) throw new ServeWillNotRun(`--install-window ${argv.installWindow}: expected a duration such as 2h or 90m`);
      await runServe({
        installWindowMs,
        ...(argv.config ? { config: argv.config } : {}),
        ...(argv.state ? { state: argv.state } : {}),
        ...(argv.bindAddress ? { bindAddress: argv.bindAddress } : {}),
        ...(argv.bindInterface ? { bindInterface: argv.bindInterface === "none" ? null : argv.bindInterface } : {}),
        ...(argv.tftpRoot ? { tftpRoot: argv.tftpRoot } : {}),
        logger: createLogger({ component: "serve", level: argv.logLevel, sink: argv.json ? jsonSink(process.stdout) : lineSink(process.stdout) }),
        liveProvisioners: (store) => liveProvisionersOf(store),
        onDiagnostics: (d) => process.stderr.write(formatDiagnostics(d, { color: useColor(argv, process.stderr) }) + "\n"),
        until: stopSignal(),
        // systemctl reload (ExecReload=kill -HUP): take up the configuration anew, keep serving.
        onReload: (reload) => process.on("SIGHUP", () => void reload()),
      });
    } catch (err) {
      if (err instanceof ServeWillNotRun) {
        process.stderr.write(`metalform: ${err.message}\n`);
        process.exitCode = 1;
        return;
      }
      reportError(err);
    }
  },
};

/** Resolves on the first SIGINT or SIGTERM. */
function stopSignal(): Promise<void> {
  return new Promise<void>((resolve) => {
    process.once("SIGINT", resolve);
    process.once("SIGTERM", resolve);
  });
}

async function serveProvisioner(argv: ArgumentsCamelCase<ServeArgs>): Promise<void> {
  const { runProvisioner, ProvisionerRefused } = await import("../../provisioners/run.js");
  const { parseDuration } = await import("../../state/duration.js");
  const { formatDiagnostics } = await import("../../config/diagnostics.js");
  const { createLogger, lineSink, jsonSink } = await import("../../util/log.js");
  const { hostname } = await import("node:os");
  try {
    const address = argv.address ?? argv.bindAddress;
    if (!address) throw new ProvisionerRefused("--address: the provisioner's address on the provisioning network is needed");
    const heartbeatMs = parseDuration(argv.heartbeat);
    if (!heartbeatMs) throw new ProvisionerRefused(`--heartbeat ${argv.heartbeat}: expected a duration such as 5s`);
    const installWindowMs = parseDuration(argv.installWindow);
    if (!installWindowMs) throw new ProvisionerRefused(`--install-window ${argv.installWindow}: expected a duration such as 2h or 90m`);
    const applyTimeoutMs = parseDuration(argv.applyTimeout);
    if (!applyTimeoutMs) throw new ProvisionerRefused(`--apply-timeout ${argv.applyTimeout}: expected a duration such as 30s`);
    const logger = createLogger({ component: "provisioner", level: argv.logLevel, sink: argv.json ? jsonSink(process.stdout) : lineSink(process.stdout) });
    await runProvisioner({
      ...(argv.config ? { config: argv.config } : {}),
      ...(argv.state ? { state: argv.state } : {}),
      name: argv.name ?? hostname().split(".")[0]!,
      address,
      ...(argv.bindInterface ? { bindInterface: argv.bindInterface === "none" ? null : argv.bindInterface } : {}),
      slots: argv.slots,
      categories: argv.affinityCategory,
      nodePatterns: argv.affinityNodes,
      dhcpCandidate: argv.dhcp,
      heartbeatMs,
      applyTimeoutMs,
      installWindowMs,
      ...(argv.workDir ? { workDir: argv.workDir } : {}),
      ...(argv.tftpRoot ? { tftpRoot: argv.tftpRoot } : {}),
      logger,
      onDiagnostics: (d) => process.stderr.write(formatDiagnostics(d, { color: useColor(argv, process.stderr) }) + "\n"),
      until: stopSignal(),
    });
  } catch (err) {
    if (err instanceof ProvisionerRefused) {
      process.stderr.write(`metalform: ${err.message}\n`);
      process.exitCode = 1;
      return;
    }
    reportError(err);
  }
}
