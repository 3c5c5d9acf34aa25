// The metalform command line. Commands live in ./commands, one file each; they
// parse flags, call the layers below and pick a renderer. Heavy modules are
// imported inside handlers so that `--help` stays fast.
import { readFileSync } from "node:fs";
import yargs from "yargs";
import { hideBin } from "yargs/helpers";
import { applyCommand } from "./commands/apply.js";
import { discoverCommand } from "./commands/discover.js";
import { imageCommand } from "./commands/image.js";
import { installerCommand } from "./commands/installer.js";
import { labCommand } from "./commands/lab.js";
import { planCommand } from "./commands/plan.js";
import { powerCommand } from "./commands/power.js";
import { provisionersCommand } from "./commands/provisioners.js";
import { renderCommand } from "./commands/render.js";
import { serveCommand } from "./commands/serve.js";
import { showCommand } from "./commands/show.js";
import { stateCommand } from "./commands/state.js";
import { statusCommand } from "./commands/status.js";
import { validateCommand } from "./commands/validate.js";

const pkg = JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8")) as { version: string };

export async function main(argv: string[]): Promise<void> {
  const cli = yargs(argv)
    .parserConfiguration({ "populate--": true })
    .scriptName("metalform")
    .usage("metalform — plan/apply for bare metal\n\nUsage: $0 <command> [options]")
    .option("config", {
      alias: "c",
      type: "string",
      describe: "Cluster configuration: a YAML file or a directory of YAML files (default: ./cluster.yaml or ./cluster/)",
      global: true,
    })
    .option("color", { type: "boolean", default: true, describe: "Colour output (--no-color or NO_COLOR turn it off)", global: true })
    .option("json", { type: "boolean", default: false, describe: "Machine-readable JSON output", global: true })
    .command(validateCommand)
    .command(planCommand)
    .command(applyCommand)
    .command(showCommand)
    .command(discoverCommand)
    .command(renderCommand)
    .command(stateCommand)
    .command(statusCommand)
    .command(serveCommand)
    .command(provisionersCommand)
    .command(powerCommand)
    .command(imageCommand)
    .command(installerCommand)
    .command(labCommand)
    .completion("completion", "Print a shell completion script (bash/zsh): metalform completion >> ~/.bashrc")
    .demandCommand(1, "Name a command; see metalform --help.")
    .recommendCommands()
    .strict()
    .version(pkg.version)
    .alias("h", "help")
    .alias("V", "version")
    .wrap(Math.min(110, process.stdout.columns || 100))
    .epilogue("Documentation: README.md and docs/ in the metalform repository.")
    .fail((msg, err) => {
      if (err) throw err;
      process.stderr.write(`metalform: ${msg}\nRun with --help for usage.\n`);
      process.exit(1);
    });
  await cli.parseAsync();
}

main(hideBin(process.argv)).catch((err: unknown) => {
  process.stderr.write(`metalform: ${err instanceof Error ? err.message : String(err)}\n`);
  if (process.env.METALFORM_DEBUG && err instanceof Error) process.stderr.write(`${err.stack}\n`);
  process.exitCode = 1;
});
