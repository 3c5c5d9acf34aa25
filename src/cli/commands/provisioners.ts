// `metalform provisioners list`: the provisioning servers registered in the PostgreSQL state.
import type { Argv, CommandModule } from "yargs";
import type { GlobalArgs } from "../globals.js";
import { reportError } from "./plan.js";

interface ListArgs extends GlobalArgs {
  state?: string;
  stateUrl?: string;
  failoverTimeout: string;
}

const listCommand: CommandModule<GlobalArgs, ListArgs> = {
  command: "list",
  describe: "List the registered provisioners: live or dead, installs per slots, DHCP authority, images held",
  builder: (y: Argv<GlobalArgs>) =>
    y
      .option("state", { type: "string", describe: "State: a postgres:// URL (default: METALFORM_STATE_URL or the configuration's backend)" })
      .option("state-url", { type: "string", describe: "The PostgreSQL state's URL" })
      .option("failover-timeout", { type: "string", default: "60s", describe: "A provisioner silent this long counts as dead" })
      .example("$0 provisioners list", "Who provisions, how busy, who answers DHCP")
      .example("$0 provisioners list --json", "The same as JSON") as unknown as Argv<ListArgs>,
  handler: async (argv) => {
    try {
      const { openStateStore } = await import("../../plan/inputs.js");
      const { PostgresStateStore } = await import("../../state/postgres.js");
      const { ProvisioningDb } = await import("../../provisioners/db.js");
      const { provisionerRows, renderProvisionerList } = await import("../../provisioners/describe.js");
      const { parseDuration } = await import("../../state/duration.js");
      const failoverMs = parseDuration(argv.failoverTimeout);
      if (!failoverMs) throw new Error(`--failover-timeout ${argv.failoverTimeout}: expected a duration such as 60s`);
      const store = await openStateStore({ config: argv.config, state: argv.state, stateUrl: argv.stateUrl });
      try {
        if (!(store instanceof PostgresStateStore)) {
          process.stderr.write(`metalform: provisioners register in a PostgreSQL state; ${store.location} is a local file\n`);
          process.exitCode = 1;
          return;
        }
        const db = new ProvisioningDb(store.database, "metalform-cli");
        try {
          const [list, assignments] = await Promise.all([db.provisioners(), db.assignments()]);
          const holders = await db.authorities();
          const rows = provisionerRows(list, assignments, holders, failoverMs);
          process.stdout.write((argv.json ? JSON.stringify({ provisioners: rows }, null, 2) : renderProvisionerList(rows)) + "\n");
        } finally {
          await db.close();
        }
      } finally {
        await store.close?.();
      }
    } catch (err) {
      reportError(err);
    }
  },
};

export const provisionersCommand: CommandModule<GlobalArgs, GlobalArgs> = {
  command: "provisioners",
  describe: "The provisioning servers sharing installs through the PostgreSQL state",
  builder: (y) => y.command(listCommand).demandCommand(1, "Name a subcommand: list"),
  handler: () => {},
};
