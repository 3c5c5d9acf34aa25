// `metalform power status|on|off|cycle NODE|RANGE…` through the nodes' BMCs.
import type { ArgumentsCamelCase, Argv, CommandModule } from "yargs";
import type { GlobalArgs } from "../globals.js";
import { useColor } from "../globals.js";

interface PowerArgs extends GlobalArgs {
  action: "status" | "on" | "off" | "cycle";
  nodes: string[];
  parallelism: number;
}

export const powerCommand: CommandModule<GlobalArgs, PowerArgs> = {
  command: "power <action> <nodes..>",
  describe: "Read or switch nodes' power through their BMCs (IPMI or Redfish); nodes without one are named for a person to handle",
  builder: (y: Argv<GlobalArgs>) =>
    y
      .positional("action", { choices: ["status", "on", "off", "cycle"] as const, describe: "What to do" })
      .positional("nodes", { type: "string", array: true, describe: "Node names or host ranges, e.g. node[001-032]" })
      .option("parallelism", { type: "number", default: 10, describe: "BMCs talked to at once" })
      .example("$0 power status node[001-004]", "Power state of four nodes")
      .example("$0 power cycle login01 --json", "Power-cycle one node, result as JSON") as unknown as Argv<PowerArgs>,
  handler: async (argv: ArgumentsCamelCase<PowerArgs>) => {
    const { loadCluster, defaultConfigPath } = await import("../../config/load.js");
    const { formatDiagnostics } = await import("../../config/diagnostics.js");
    const { selectNodes } = await import("../../config/select.js");
    const { resolveSecret } = await import("../../config/secrets.js");
    const { powerAction } = await import("../../power/index.js");
    const loaded = await loadCluster(defaultConfigPath(argv.config));
    if (!loaded.cluster) {
      process.stderr.write(formatDiagnostics(loaded.diagnostics, { color: useColor(argv, process.stderr) }) + "\n");
      process.exitCode = 1;
      return;
    }
    const nodes = selectNodes(loaded.cluster, argv.nodes);
    const results = await powerAction(
      nodes,
      argv.action,
      (n) => {
        const ref = nodes.find((x) => x.name === n.name)?.bmc?.password;
        return ref ? resolveSecret(ref, loaded.inlineSecrets) : undefined;
      },
      { parallelism: argv.parallelism },
    );
    if (argv.json) {
      process.stdout.write(JSON.stringify({ action: argv.action, results }, null, 2) + "\n");
    } else {
      const width = Math.max(4, ...results.map((r) => r.node.length));
      for (const r of results) {
        // What the BMC said, unless the message already quotes it.
        const said = r.said && !r.error?.includes(r.said) ? ` (the BMC said: ${r.said})` : "";
        const what = r.ok ? (r.state ?? "ok") : `FAILED: ${r.error}${said}`;
        process.stdout.write(`${r.node.padEnd(width)}  ${what}\n`);
      }
    }
    process.exitCode = results.every((r) => r.ok) ? 0 : 1;
  },
};
