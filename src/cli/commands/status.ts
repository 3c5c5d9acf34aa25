// `metalform status`: each node's state as its agent last told the head (serve keeps
// the agents' reports), grouped by host range like the plan; --watch redraws it.
import type { ArgumentsCamelCase, Argv, CommandModule } from "yargs";
import { useColor, type GlobalArgs } from "../globals.js";
import { reportError } from "./plan.js";

interface StatusArgs extends GlobalArgs {
  state?: string;
  watch?: number;
  downAfter: string;
}

export const statusCommand: CommandModule<GlobalArgs, StatusArgs> = {
  command: "status",
  describe: "Show each node's state from its agent: up, down, installing; image, kernel, boot time, last seen",
  builder: (y: Argv<GlobalArgs>) =>
    y
      .option("state", { type: "string", describe: "State: a file, or a postgres:// URL (default: the configuration's backend, else .metalform/state.json beside it)" })
      .option("watch", { type: "number", describe: "Redraw every N seconds (default 5 when given without a number) until Ctrl-C" })
      .option("down-after", { type: "string", default: "2m", describe: "A node whose agent has been silent this long is down" })
      .coerce("watch", (v: unknown) => (v === undefined ? undefined : typeof v === "number" && v > 0 ? v : 5))
      .example("$0 status", "One line per group of alike nodes")
      .example("$0 status --json | jq '.nodes[] | select(.state == \"down\") | .node'", "The nodes that are down")
      .example("$0 status --watch 2", "Follow the cluster") as unknown as Argv<StatusArgs>,
  handler: async (argv: ArgumentsCamelCase<StatusArgs>) => {
    const { loadStatus } = await import("../../serve/status-load.js");
    const { renderStatus, renderStatusJson } = await import("../../serve/status-render.js");
    const { formatDiagnostics } = await import("../../config/diagnostics.js");
    const { parseDuration } = await import("../../state/duration.js");
    try {
      const downAfterMs = parseDuration(argv.downAfter);
      if (!downAfterMs) throw new Error(`--down-after ${argv.downAfter}: expected a duration such as 2m or 90s`);
      const once = async (): Promise<boolean> => {
        const r = await loadStatus({ ...(argv.config ? { config: argv.config } : {}), ...(argv.state ? { state: argv.state } : {}), downAfterMs });
        if (!r.status) {
          process.stderr.write(formatDiagnostics(r.diagnostics, { color: useColor(argv, process.stderr) }) + "\n");
          process.exitCode = 1;
          return false;
        }
        const s = r.status;
        const text = argv.json
          ? renderStatusJson(s.cluster, s.statuses, s.groups, s.now)
          : renderStatus(s.statuses, s.groups, { cluster: s.cluster, now: s.now, color: useColor(argv) });
        process.stdout.write((argv.watch && process.stdout.isTTY && !argv.json ? "\u001b[H\u001b[2J" : "") + text);
        return true;
      };
      if (!(await once()) || !argv.watch) return;
      for (;;) {
        await new Promise((r) => setTimeout(r, argv.watch! * 1000));
        if (!(await once())) return;
      }
    } catch (err) {
      reportError(err);
    }
  },
};
