// `metalform show FILE`: print a saved plan for people, pull requests or machines.
import type { ArgumentsCamelCase, Argv, CommandModule } from "yargs";
import { useColor, type GlobalArgs } from "../globals.js";
import { reportError } from "./plan.js";

interface ShowArgs extends GlobalArgs {
  file: string;
  format: "terminal" | "markdown" | "json";
}

export const showCommand: CommandModule<GlobalArgs, ShowArgs> = {
  command: "show <file>",
  describe: "Print a saved plan (terminal, Markdown for pull requests, or JSON)",
  builder: (y: Argv<GlobalArgs>) =>
    y
      .positional("file", { type: "string", demandOption: true, describe: "A plan saved with `metalform plan --out FILE`" })
      .option("format", { choices: ["terminal", "markdown", "json"] as const, default: "terminal" as const, describe: "Output format (--json is --format json)" })
      .example("$0 show tonight.plan", "Review a saved plan")
      .example("$0 show --format markdown tonight.plan > comment.md", "A pull-request comment with a collapsible detail per node")
      .example("$0 show --json tonight.plan | jq '.node_changes[] | select(.actions | index(\"delete\"))'", "Every change that deletes (reimage or remove)"),
  handler: async (argv: ArgumentsCamelCase<ShowArgs>) => {
    const { readPlanFile } = await import("../../plan/saved.js");
    const { renderTerminal } = await import("../../plan/render/terminal.js");
    const { renderMarkdown } = await import("../../plan/render/markdown.js");
    const { renderJson } = await import("../../plan/json.js");
    try {
      const plan = await readPlanFile(argv.file);
      const format = argv.json ? "json" : argv.format;
      if (format === "json") {
        process.stdout.write(renderJson(plan));
      } else if (format === "markdown") {
        process.stdout.write(renderMarkdown(plan));
      } else {
        const lineage = plan.state.lineage ? `state ${plan.state.lineage} serial ${plan.state.serial}` : "no state";
        process.stdout.write(`Saved plan ${argv.file} for cluster ${plan.cluster}, made ${plan.createdAt ?? "(unknown time)"} against ${lineage}.\n\n`);
        process.stdout.write(renderTerminal(plan, { color: useColor(argv) }));
      }
      process.exitCode = 0;
    } catch (err) {
      reportError(err);
    }
  },
};
