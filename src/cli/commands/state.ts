// `metalform state list | show NODE | rm NODE... | unlock LOCK_ID`.
import type { ArgumentsCamelCase, Argv, CommandModule } from "yargs";
import type { GlobalArgs } from "../globals.js";
import { reportError } from "./plan.js";

interface StateArgs extends GlobalArgs {
  state?: string;
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

async function store(argv: StateArgs) {
  const { openStateStore } = await import("../../plan/inputs.js");
  return openStateStore({ config: argv.config, state: argv.state });
}

function noState(location: string): void {
  process.stderr.write(`metalform: no state at ${location} (nothing was applied yet)\n`);
  process.exitCode = 1;
}

const listCommand: CommandModule<StateArgs, StateArgs> = {
  command: "list",
  describe: "List the nodes and images the state records",
  builder: (y) => y.example("$0 state list", "Nodes with their image, disk layout and last report").example("$0 state list --json", "The same as JSON"),
  handler: async (argv) => {
    try {
      const s = await store(argv);
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
    } catch (err) {
      reportError(err);
    }
  },
};

const showNodeCommand: CommandModule<StateArgs, NodeArgs> = {
  command: "show <node>",
  describe: "Show what the state records for one node (applied attributes and last report)",
  builder: (y) =>
    y
      .positional("node", { type: "string", demandOption: true, describe: "Node name" })
      .example("$0 state show node001", "Applied image, disk layout, network, BMC (no secrets) and last report") as unknown as Argv<NodeArgs>,
  handler: async (argv: ArgumentsCamelCase<NodeArgs>) => {
    try {
      const s = await store(argv);
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
    } catch (err) {
      reportError(err);
    }
  },
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
      const s = await store(argv);
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
  handler: async (argv: ArgumentsCamelCase<UnlockArgs>) => {
    try {
      const s = await store(argv);
      const holder = await s.lockHolder();
      await s.unlock(argv.lockId);
      process.stdout.write(`Unlocked ${s.location} (lock ${argv.lockId} held by ${holder?.owner ?? "?"}, pid ${holder?.pid ?? "?"}).\n`);
      process.exitCode = 0;
    } catch (err) {
      reportError(err);
    }
  },
};

export const stateCommand: CommandModule<GlobalArgs, StateArgs> = {
  command: "state <command>",
  describe: "Inspect and repair the state (list, show, rm, unlock)",
  builder: (y: Argv<GlobalArgs>) =>
    (y
      .option("state", { type: "string", describe: "State file (default: .metalform/state.json beside the configuration)" })
      .command(listCommand as unknown as CommandModule<GlobalArgs, StateArgs>)
      .command(showNodeCommand as unknown as CommandModule<GlobalArgs, StateArgs>)
      .command(rmCommand as unknown as CommandModule<GlobalArgs, StateArgs>)
      .command(unlockCommand as unknown as CommandModule<GlobalArgs, StateArgs>)
      .demandCommand(1, "Name a state command: list, show, rm or unlock.")
      .example("$0 state list", "What the state records")
      .example("$0 state unlock LOCK_ID", "Remove a stale lock")) as unknown as Argv<StateArgs>,
  handler: () => {},
};
