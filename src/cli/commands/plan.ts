// `metalform plan`: what apply would change, node by node; optionally saved for apply.
import type { ArgumentsCamelCase, Argv, CommandModule } from "yargs";
import { useColor, type GlobalArgs } from "../globals.js";

interface PlanArgs extends GlobalArgs {
  out?: string;
  target: string[];
  allowWipe: string[];
  detailedExitcode: boolean;
  state?: string;
  format: "terminal" | "markdown" | "json";
  strict: boolean;
  refresh: boolean;
  downAfter: string;
}

/** Errors of the layers below that carry a message meant for the operator. */
const OPERATOR_ERRORS = new Set([
  "PlanError",
  "StateError",
  "ImageDigestError",
  "PlanFileError",
  "ImageSourceError",
  "SnapshotError",
  "RecipeBuildError",
  "ArchiveError",
  "AgentsFileError",
]);

export function reportError(err: unknown): void {
  if (err instanceof Error && OPERATOR_ERRORS.has(err.name)) {
    process.stderr.write(`metalform: ${err.message}\n`);
    process.exitCode = 1;
    return;
  }
  throw err;
}

export const planCommand: CommandModule<GlobalArgs, PlanArgs> = {
  command: "plan",
  describe: "Show what apply would change (wipes are named as such); optionally save the plan for apply",
  builder: (y: Argv<GlobalArgs>) =>
    y
      .option("out", { alias: "o", type: "string", describe: "Save the plan to FILE (mode 0600) for `metalform apply FILE`" })
      .option("target", { type: "string", array: true, default: [], describe: "Plan only these nodes (NODE or RANGE such as node[001-016]); repeatable" })
      .option("allow-wipe", { type: "string", array: true, default: [], describe: "Allow wiping the disks of this protected node (NODE or RANGE); repeatable" })
      .option("detailed-exitcode", { type: "boolean", default: false, describe: "Exit 0 when there are no changes, 1 on error, 2 when there are changes" })
      .option("state", { type: "string", describe: "State: a file, or a postgres:// URL (default: the configuration's backend, else .metalform/state.json beside it)" })
      .option("format", { choices: ["terminal", "markdown", "json"] as const, default: "terminal" as const, describe: "Output format (--json is --format json)" })
      .option("strict", { type: "boolean", default: false, describe: "Treat configuration warnings as errors" })
      .option("refresh", {
        type: "boolean",
        default: false,
        describe: "Also compare with what the nodes' agents report (serve keeps it): drift — a managed file changed, another image, a node down — becomes a sync",
      })
      .option("down-after", { type: "string", default: "2m", describe: "With --refresh: a node whose agent has been silent this long is down" })
      .example("$0 plan", "Compare ./cluster.yaml with the state and print the changes")
      .example("$0 plan --out tonight.plan", "Save the plan; `metalform apply tonight.plan` applies exactly it")
      .example("$0 plan --target 'node[001-016]'", "Plan only the first 16 compute nodes")
      .example("$0 plan --refresh", "Include drift the nodes' agents report (reasons `drift: …`)")
      .example("$0 plan --allow-wipe storage01", "Allow the protected node storage01 to be reimaged")
      .example("$0 plan --detailed-exitcode --json > plan.json", "In CI: exit 2 when there are changes") as unknown as Argv<PlanArgs>,
  handler: async (argv: ArgumentsCamelCase<PlanArgs>) => {
    const { loadPlanInputs } = await import("../../plan/inputs.js");
    const { planChanges } = await import("../../plan/planner.js");
    const { hasChanges } = await import("../../plan/types.js");
    const { writePlanFile } = await import("../../plan/saved.js");
    const { renderTerminal } = await import("../../plan/render/terminal.js");
    const { renderMarkdown } = await import("../../plan/render/markdown.js");
    const { renderJson } = await import("../../plan/json.js");
    const { formatDiagnostics, summarizeDiagnostics } = await import("../../config/diagnostics.js");
    try {
      const { createLogger } = await import("../../util/log.js");
      // A recipe build or an import takes minutes: say so on stderr (the plan stays on stdout).
      const logger = createLogger({ component: "images" });
      const loaded = await loadPlanInputs({ config: argv.config, state: argv.state, strict: argv.strict, logger });
      if (loaded.diagnostics.length) {
        process.stderr.write(formatDiagnostics(loaded.diagnostics, { color: useColor(argv, process.stderr) }) + "\n\n");
      }
      const inputs = loaded.inputs;
      if (!inputs) {
        process.stderr.write(`${loaded.configPath}: ${summarizeDiagnostics(loaded.diagnostics)}; no plan was made\n`);
        process.exitCode = 1;
        return;
      }
      const observed = argv.refresh ? await refreshed(inputs.localDir, argv.downAfter) : undefined;
      let plan = planChanges(inputs.cluster, inputs.state, {
        imageDigests: inputs.imageDigests,
        target: argv.target,
        allowWipe: argv.allowWipe,
        ...(observed ? { observed } : {}),
      });
      if (argv.out) plan = await writePlanFile(argv.out, plan);
      const format = argv.json ? "json" : argv.format;
      if (format === "json") process.stdout.write(renderJson(plan));
      else if (format === "markdown") process.stdout.write(renderMarkdown(plan));
      else process.stdout.write(renderTerminal(plan, { color: useColor(argv) }));
      if (argv.out && format === "terminal") {
        process.stdout.write(`\nSaved the plan to ${argv.out}. To apply exactly this plan: metalform apply ${argv.out}\n`);
      }
      process.exitCode = argv.detailedExitcode && hasChanges(plan) ? 2 : 0;
    } catch (err) {
      reportError(err);
    }
  },
};

/** What the nodes' agents reported, for `plan --refresh`. */
async function refreshed(localDir: string, downAfter: string) {
  const { parseDuration } = await import("../../state/duration.js");
  const { loadObserved } = await import("../../serve/status-load.js");
  const downAfterMs = parseDuration(downAfter);
  if (!downAfterMs) throw new PlanRefreshError(`--down-after ${downAfter}: expected a duration such as 2m or 90s`);
  return loadObserved(localDir, { downAfterMs });
}

class PlanRefreshError extends Error {
  override name = "PlanError";
}
