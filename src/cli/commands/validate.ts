// `metalform validate`: check a configuration and report every problem at once.
import type { ArgumentsCamelCase, Argv, CommandModule } from "yargs";
import { useColor, type GlobalArgs } from "../globals.js";

interface ValidateArgs extends GlobalArgs {
  strict: boolean;
}

export const validateCommand: CommandModule<GlobalArgs, ValidateArgs> = {
  command: "validate",
  describe: "Check the cluster configuration (schema and semantics) without touching anything",
  builder: (y: Argv<GlobalArgs>) =>
    y
      .option("strict", { type: "boolean", default: false, describe: "Treat warnings as errors" })
      .example("$0 validate", "Check ./cluster.yaml (or ./cluster/)")
      .example("$0 validate -c examples/hpc", "Check a directory of YAML files merged together")
      .example("$0 validate --json | jq '.diagnostics[]'", "Diagnostics as JSON"),
  handler: async (argv: ArgumentsCamelCase<ValidateArgs>) => {
    const { loadCluster, defaultConfigPath } = await import("../../config/load.js");
    const { formatDiagnostics, summarizeDiagnostics } = await import("../../config/diagnostics.js");
    const path = defaultConfigPath(argv.config);
    const result = await loadCluster(path, { strict: argv.strict });
    const errors = result.diagnostics.filter((d) => d.severity === "error").length;
    const warnings = result.diagnostics.length - errors;
    const failed = errors > 0 || (argv.strict && warnings > 0);
    const c = result.cluster;
    if (argv.json) {
      const out = {
        valid: !failed,
        config: path,
        errors,
        warnings,
        diagnostics: result.diagnostics,
        ...(c
          ? {
              summary: {
                cluster: c.name,
                nodes: c.nodes.length,
                images: c.images.size,
                diskLayouts: c.diskLayouts.size,
                categories: c.categories.size,
                digest: c.digest,
              },
            }
          : {}),
      };
      process.stdout.write(JSON.stringify(out, null, 2) + "\n");
    } else {
      const color = useColor(argv, process.stderr);
      if (result.diagnostics.length) {
        process.stderr.write(formatDiagnostics(result.diagnostics, { color, frames: color }) + "\n\n");
      }
      if (!failed && c) {
        const n = (count: number, one: string, many = one + "s") => `${count} ${count === 1 ? one : many}`;
        process.stdout.write(
          `${path}: valid — ${n(c.nodes.length, "node")}, ${n(c.images.size, "image")}, ${n(c.diskLayouts.size, "disk layout")}, ${n(c.categories.size, "category", "categories")} (${n(warnings, "warning")})\n`,
        );
      } else {
        process.stderr.write(`${path}: ${summarizeDiagnostics(result.diagnostics)}${argv.strict && !errors ? " (--strict: warnings are errors)" : ""}\n`);
      }
    }
    process.exitCode = failed ? 1 : 0;
  },
};
