// `metalform provisioners list | rm NAME...`: the provisioning servers registered in the PostgreSQL state.
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
      const { provisionerRows, renderProvisionerList } = await import("../../provisioners/describe.js");
      await withDb(argv, async (db, failoverMs) => {
        const [list, assignments, holders] = await Promise.all([db.provisioners(), db.assignments(), db.authorities()]);
        const rows = provisionerRows(list, assignments, holders, failoverMs);
        process.stdout.write((argv.json ? JSON.stringify({ provisioners: rows }, null, 2) : renderProvisionerList(rows)) + "\n");
      });
    } catch (err) {
      reportError(err);
    }
  },
};

interface RmArgs extends ListArgs {
  names: string[];
}

const rmCommand: CommandModule<GlobalArgs, RmArgs> = {
  command: "rm <names..>",
  describe: "Forget dead provisioners (a live one must be stopped first)",
  builder: (y: Argv<GlobalArgs>) =>
    y
      .positional("names", { type: "string", array: true, demandOption: true, describe: "Provisioner names" })
      .option("state", { type: "string", describe: "State: a postgres:// URL (default: METALFORM_STATE_URL or the configuration's backend)" })
      .option("state-url", { type: "string", describe: "The PostgreSQL state's URL" })
      .option("failover-timeout", { type: "string", default: "60s", describe: "A provisioner silent this long counts as dead" })
      .example("$0 provisioners rm prov3", "Forget a provisioning server that was retired") as unknown as Argv<RmArgs>,
  handler: async (argv) => {
    try {
      await withDb(argv, async (db, failoverMs) => {
        const known = new Map((await db.provisioners()).map((p) => [p.name, p]));
        const problems: string[] = [];
        for (const name of argv.names) {
          const p = known.get(name);
          if (!p) problems.push(`${name} is not registered`);
          else if (p.ageMs < failoverMs) problems.push(`${name} is alive (heartbeat ${(p.ageMs / 1000).toFixed(1)} s ago): stop it first`);
        }
        if (problems.length) {
          process.stderr.write(`metalform: nothing removed: ${problems.join("; ")}\n`);
          process.exitCode = 1;
          return;
        }
        for (const name of argv.names) await db.deregister(name);
        process.stdout.write(`Removed ${argv.names.join(", ")}.\n`);
      });
    } catch (err) {
      reportError(err);
    }
  },
};

/** Opens the provisioning tables of the selected PostgreSQL state; exit 1 for a local state. */
async function withDb(argv: ListArgs, fn: (db: import("../../provisioners/db.js").ProvisioningDb, failoverMs: number) => Promise<void>): Promise<void> {
  const { openStateStore } = await import("../../plan/inputs.js");
  const { PostgresStateStore } = await import("../../state/postgres.js");
  const { ProvisioningDb } = await import("../../provisioners/db.js");
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
      await fn(db, failoverMs);
    } finally {
      await db.close();
    }
  } finally {
    await store.close?.();
  }
}

export const provisionersCommand: CommandModule<GlobalArgs, GlobalArgs> = {
  command: "provisioners",
  describe: "The provisioning servers sharing installs through the PostgreSQL state",
  builder: (y) => y.command(listCommand).command(rmCommand).demandCommand(1, "Name a subcommand: list, rm"),
  handler: () => {},
};
