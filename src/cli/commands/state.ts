// `metalform state list | show NODE | rm NODE... | unlock LOCK_ID | migrate --to TARGET | history`.
import type { ArgumentsCamelCase, Argv, CommandModule } from "yargs";
import type { GlobalArgs } from "../globals.js";
import { reportError } from "./plan.js";

interface StateArgs extends GlobalArgs {
  state?: string;
  stateUrl?: string;
}
interface NodeArgs extends StateArgs {
  node: string;
}
interface RmArgs extends StateArgs {
  nodes: string[];
  lockTimeout: string;
}
interface UnlockArgs extends StateArgs {
  lockId: string;
}
interface MigrateArgs extends StateArgs {
  to?: string;
  toEnv?: string;
  lockTimeout: string;
}
interface HistoryArgs extends StateArgs {
  limit: number;
}

async function store(argv: StateArgs) {
  const { openStateStore } = await import("../../plan/inputs.js");
  return openStateStore({ config: argv.config, state: argv.state, stateUrl: argv.stateUrl });
}

/** Runs `fn` on the selected store and closes it (database connections) afterwards. */
async function withStore(argv: StateArgs, fn: (s: Awaited<ReturnType<typeof store>>) => Promise<void>): Promise<void> {
  const s = await store(argv);
  try {
    await fn(s);
  } finally {
    await s.close?.();
  }
}

type Store = Awaited<ReturnType<typeof store>>;

/** A handler that runs `fn` on the selected store; any error is reported the usual way. */
function onStore<A extends StateArgs>(fn: (argv: ArgumentsCamelCase<A>, s: Store) => Promise<void>): (argv: ArgumentsCamelCase<A>) => Promise<void> {
  return async (argv) => {
    try {
      await withStore(argv, (s) => fn(argv, s));
    } catch (err) {
      reportError(err);
    }
  };
}

function noState(location: string): void {
  process.stderr.write(`metalform: no state at ${location} (nothing was applied yet)\n`);
  process.exitCode = 1;
}

const listCommand: CommandModule<StateArgs, StateArgs> = {
  command: "list",
  describe: "List the nodes and images the state records",
  builder: (y) => y.example("$0 state list", "Nodes with their image, disk layout and last report").example("$0 state list --json", "The same as JSON"),
  handler: onStore<StateArgs>(async (argv, s) => {
    const state = await s.read();
    if (!state) return noState(s.location);
    const { nodeRows, renderStateList } = await import("../../state/describe.js");
    if (argv.json) {
      const images = Object.entries(state.images).map(([image, v]) => ({ image, ...v }));
      process.stdout.write(JSON.stringify({ lineage: state.lineage, serial: state.serial, nodes: nodeRows(state), images }, null, 2) + "\n");
    } else {
      process.stdout.write(renderStateList(state, s.location));
    }
    process.exitCode = 0;
  }),
};

const showNodeCommand: CommandModule<StateArgs, NodeArgs> = {
  command: "show <node>",
  describe: "Show what the state records for one node (applied attributes and last report)",
  builder: (y) =>
    y
      .positional("node", { type: "string", demandOption: true, describe: "Node name" })
      .example("$0 state show node001", "Applied image, disk layout, network, BMC (no secrets) and last report"),
  handler: onStore<NodeArgs>(async (argv, s) => {
    const state = await s.read();
    if (!state) return noState(s.location);
    const n = Object.hasOwn(state.nodes, argv.node) ? state.nodes[argv.node] : undefined;
    if (!n) {
      process.stderr.write(`metalform: the state has no node ${argv.node}\n`);
      process.exitCode = 1;
      return;
    }
    const { renderNodeState } = await import("../../state/describe.js");
    process.stdout.write(argv.json ? JSON.stringify({ node: argv.node, ...n }, null, 2) + "\n" : renderNodeState(argv.node, n));
    process.exitCode = 0;
  }),
};

const rmCommand: CommandModule<StateArgs, RmArgs> = {
  command: "rm <nodes..>",
  describe: "Forget nodes (names or ranges): the machines and their disks are not touched",
  builder: (y) =>
    y
      .positional("nodes", { type: "string", array: true, demandOption: true, describe: "Node names or host ranges" })
      .option("lock-timeout", { type: "string", default: "0s", describe: "How long to wait for the state lock (e.g. 30s, 2m)" })
      .example("$0 state rm node017", "Forget node017; the next plan installs it if it is still configured")
      .example("$0 state rm 'node[100-128]' --lock-timeout 30s", "Forget a range, waiting up to 30 s for the lock") as unknown as Argv<RmArgs>,
  handler: async (argv: ArgumentsCamelCase<RmArgs>) => {
    const { parseDuration } = await import("../../state/duration.js");
    const { expandHostRange } = await import("../../config/hostrange.js");
    const timeout = parseDuration(argv.lockTimeout);
    if (timeout === undefined) {
      process.stderr.write(`metalform: --lock-timeout ${argv.lockTimeout}: expected a duration such as 0, 500ms, 30s or 2m\n`);
      process.exitCode = 1;
      return;
    }
    const names: string[] = [];
    for (const p of argv.nodes) {
      const e = expandHostRange(p);
      if (!Array.isArray(e)) {
        process.stderr.write(`metalform: ${e.message}\n`);
        process.exitCode = 1;
        return;
      }
      names.push(...e);
    }
    try {
      await withStore(argv, async (s) => {
        const lock = await s.lock({ operation: "state rm" }, timeout);
        try {
          const state = await s.read();
          if (!state) return noState(s.location);
          const found = names.filter((n) => Object.hasOwn(state.nodes, n));
          const missing = names.filter((n) => !Object.hasOwn(state.nodes, n));
          if (!found.length) {
            process.stderr.write(`metalform: the state has none of ${argv.nodes.join(" ")}; nothing changed\n`);
            process.exitCode = 1;
            return;
          }
          const serial = state.serial;
          for (const n of found) delete state.nodes[n];
          const written = await s.write(state, serial);
          const { compressHostnames } = await import("../../config/hostrange.js");
          process.stdout.write(
            `Removed ${compressHostnames(found).join(", ")} from the state (serial ${written.serial}). The machines and their disks were not touched; ` +
              `a node still in the configuration shows as "+ install" in the next plan.\n`,
          );
          if (missing.length) process.stderr.write(`Not in the state, skipped: ${compressHostnames(missing).join(", ")}\n`);
          process.exitCode = 0;
        } finally {
          await lock.release();
        }
      });
    } catch (err) {
      reportError(err);
    }
  },
};

const unlockCommand: CommandModule<StateArgs, UnlockArgs> = {
  command: "unlock <lock-id>",
  describe: "Remove a stale state lock left by a process that died (give its lock ID)",
  builder: (y) =>
    y
      .positional("lock-id", { type: "string", demandOption: true, describe: "The lock ID printed by the command that was refused" })
      .example("$0 state unlock 3f0c...", "Release the lock with this ID") as unknown as Argv<UnlockArgs>,
  handler: onStore<UnlockArgs>(async (argv, s) => {
    const holder = await s.lockHolder();
    await s.unlock(argv.lockId);
    process.stdout.write(
      `Unlocked ${s.location} (lock ${argv.lockId} held by ${holder?.owner ?? "?"}, pid ${holder?.pid ?? "?"}${holder?.stale ? ", stale: its session was gone" : ""}).\n`,
    );
    process.exitCode = 0;
  }),
};

const migrateCommand: CommandModule<StateArgs, MigrateArgs> = {
  command: "migrate",
  describe: "Copy the state (lineage and serial kept) to another backend: a postgres:// URL or a file",
  builder: (y) =>
    y
      .option("to", {
        type: "string",
        describe: 'Target: postgres://USER:PASSWORD@HOST:PORT/DB[#NAME] (NAME defaults to the configuration\'s backend.name, else "default") or a state file path',
      })
      .option("to-env", { type: "string", describe: "Read the target URL from this environment variable (keeps the password off the command line)" })
      .option("lock-timeout", { type: "string", default: "0s", describe: "How long to wait for each state lock (e.g. 30s, 2m)" })
      .example("METALFORM_PG_URL=postgres://... $0 state migrate --to-env METALFORM_PG_URL", "Move the local state into PostgreSQL")
      .example("$0 state migrate --state-url postgres://... --to ./state.json", "Copy the PostgreSQL state back into a file") as unknown as Argv<MigrateArgs>,
  handler: async (argv: ArgumentsCamelCase<MigrateArgs>) => {
    const fail = (msg: string) => {
      process.stderr.write(`metalform: ${msg}\n`);
      process.exitCode = 1;
    };
    const { parseDuration } = await import("../../state/duration.js");
    const timeout = parseDuration(argv.lockTimeout);
    if (timeout === undefined) return fail(`--lock-timeout ${argv.lockTimeout}: expected a duration such as 0, 500ms, 30s or 2m`);
    if ((argv.to === undefined) === (argv.toEnv === undefined)) return fail("name the target with --to TARGET or --to-env VARIABLE (one of them)");
    let target = argv.to;
    if (argv.toEnv !== undefined) {
      target = process.env[argv.toEnv];
      if (!target) return fail(`environment variable ${argv.toEnv} is not set`);
    }
    try {
      const { openMigrationTarget } = await import("../../plan/inputs.js");
      const { migrateState } = await import("../../state/migrate.js");
      const dest = await openMigrationTarget(target!, { config: argv.config });
      try {
        await withStore(argv, async (src) => {
          const r = await migrateState(src, dest, timeout);
          if (argv.json) {
            process.stdout.write(JSON.stringify({ from: src.location, to: dest.location, lineage: r.lineage, serial: r.serial, copied: r.copied }, null, 2) + "\n");
          } else if (!r.copied) {
            process.stdout.write(`${dest.location} already holds this state (lineage ${r.lineage}, serial ${r.serial}); nothing copied.\n`);
          } else {
            process.stdout.write(
              `Copied the state (lineage ${r.lineage}, serial ${r.serial}, ${r.nodes} node${r.nodes === 1 ? "" : "s"}) from ${src.location} to ${dest.location}.\n` +
                `${src.location} was left as it is. Point the configuration at the new backend (backend: in the configuration, ` +
                `--state or METALFORM_STATE_URL) before the next apply.\n`,
            );
          }
          process.exitCode = 0;
        });
      } finally {
        await dest.close?.();
      }
    } catch (err) {
      reportError(err);
    }
  },
};

const historyCommand: CommandModule<StateArgs, HistoryArgs> = {
  command: "history",
  describe: "List the stored versions of the state (PostgreSQL backend)",
  builder: (y) =>
    y
      .option("limit", { type: "number", default: 20, describe: "How many versions, newest first" })
      .example("$0 state history --limit 5", "The last five writes: serial, time, writer, operation"),
  handler: onStore<HistoryArgs>(async (argv, s) => {
    const { PostgresStateStore } = await import("../../state/postgres.js");
    if (!(s instanceof PostgresStateStore)) {
      process.stderr.write(`metalform: ${s.location} is a local file: it keeps only the previous version, in ${s.location}.backup\n`);
      process.exitCode = 1;
      return;
    }
    const versions = await s.history(Math.max(1, Math.floor(argv.limit)));
    if (argv.json) process.stdout.write(JSON.stringify(versions, null, 2) + "\n");
    else if (!versions.length) process.stdout.write(`No versions in ${s.location}.\n`);
    else {
      process.stdout.write(`State ${s.location}, newest first:\n`);
      for (const v of versions) process.stdout.write(`  serial ${String(v.serial).padStart(5)}  ${v.writtenAt}  ${v.operation.padEnd(14)}  ${v.writer}\n`);
    }
    process.exitCode = 0;
  }),
};

export const stateCommand: CommandModule<GlobalArgs, StateArgs> = {
  command: "state <command>",
  describe: "Inspect, repair and move the state (list, show, rm, unlock, migrate, history)",
  builder: (y: Argv<GlobalArgs>) =>
    y
      .option("state", { type: "string", describe: "State file or postgres:// URL (default: the configuration's backend, else .metalform/state.json beside it)" })
      .option("state-url", { type: "string", describe: "PostgreSQL state URL postgres://USER:PASSWORD@HOST:PORT/DB[#NAME] (or set METALFORM_STATE_URL)" })
      .command(listCommand as unknown as CommandModule<GlobalArgs, StateArgs>)
      .command(showNodeCommand as unknown as CommandModule<GlobalArgs, StateArgs>)
      .command(rmCommand as unknown as CommandModule<GlobalArgs, StateArgs>)
      .command(unlockCommand as unknown as CommandModule<GlobalArgs, StateArgs>)
      .command(migrateCommand as unknown as CommandModule<GlobalArgs, StateArgs>)
      .command(historyCommand as unknown as CommandModule<GlobalArgs, StateArgs>)
      .demandCommand(1, "Name a state command: list, show, rm, unlock, migrate or history.")
      .example("$0 state list", "What the state records")
      .example("$0 state unlock LOCK_ID", "Remove a stale lock"),
  handler: () => {},
};
