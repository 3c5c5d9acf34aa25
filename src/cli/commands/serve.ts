// `metalform serve`: the PXE services of a configuration in the foreground.
import type { ArgumentsCamelCase, Argv, CommandModule } from "yargs";
import { useColor, type GlobalArgs } from "../globals.js";
import { reportError } from "./plan.js";

interface ServeArgs extends GlobalArgs {
  state?: string;
  bindAddress?: string;
  bindInterface?: string;
  tftpRoot?: string;
  logLevel: "debug" | "info" | "warn" | "error";
}

export const serveCommand: CommandModule<GlobalArgs, ServeArgs> = {
  command: "serve",
  describe: "Run the DHCP, TFTP, HTTP and rsync services for the configuration until SIGTERM or Ctrl-C",
  builder: (y: Argv<GlobalArgs>) =>
    y
      .option("state", { type: "string", describe: "State file (default: .metalform/state.json beside the configuration)" })
      .option("bind-address", { type: "string", describe: "Address the services bind to (default: network.address)" })
      .option("bind-interface", { type: "string", describe: "Interface DHCP binds to (default: network.interface; 'none' for no binding)" })
      .option("tftp-root", { type: "string", describe: "Directory with the iPXE loaders (default: /usr/lib/ipxe)" })
      .option("log-level", { choices: ["debug", "info", "warn", "error"] as const, default: "info" as const, describe: "Log level" })
      .example("$0 serve", "Serve ./cluster.yaml's provisioning network; nodes boot their local disks")
      .example("$0 serve --json --log-level debug", "Structured logs, one JSON object a line") as unknown as Argv<ServeArgs>,
  handler: async (argv: ArgumentsCamelCase<ServeArgs>) => {
    const { loadPlanInputs } = await import("../../plan/inputs.js");
    const { Provisioner } = await import("../../serve/provisioner.js");
    const { formatDiagnostics, summarizeDiagnostics } = await import("../../config/diagnostics.js");
    const { createLogger, lineSink, jsonSink } = await import("../../util/log.js");
    const { dirname, join } = await import("node:path");
    try {
      const loaded = await loadPlanInputs({ config: argv.config, state: argv.state });
      if (loaded.diagnostics.length) process.stderr.write(formatDiagnostics(loaded.diagnostics, { color: useColor(argv, process.stderr) }) + "\n");
      if (!loaded.inputs) {
        process.stderr.write(`${loaded.configPath}: ${summarizeDiagnostics(loaded.diagnostics)}; not serving\n`);
        process.exitCode = 1;
        return;
      }
      const { cluster, store, imageDigests, inlineSecrets } = loaded.inputs;
      const logger = createLogger({ component: "serve", level: argv.logLevel, sink: argv.json ? jsonSink(process.stdout) : lineSink(process.stdout) });
      const p = new Provisioner({
        cluster,
        inlineSecrets,
        workDir: join(dirname(store.location), "serve"),
        imageDigests,
        // Serving alone never starts an installation: that is apply's job.
        installerFor: () => undefined,
        ...(argv.tftpRoot ? { tftpRoot: argv.tftpRoot } : {}),
        ...(argv.bindAddress ? { address: argv.bindAddress } : {}),
        ...(argv.bindInterface ? { bindInterface: argv.bindInterface === "none" ? null : argv.bindInterface } : {}),
        logger,
      });
      p.on("observation", (o) => logger.info("node", { ...o }));
      await p.start();
      await new Promise<void>((resolve) => {
        process.once("SIGINT", resolve);
        process.once("SIGTERM", resolve);
      });
      logger.info("stopping", {});
      await p.stop();
    } catch (err) {
      reportError(err);
    }
  },
};
