// `metalform discover list | show MAC | adopt MAC --name NODE`: the hardware inventories
// hosts reported (discovered hosts, and configured nodes while they install), and
// adopting a discovered host into the configuration (src/config/adopt*.ts).
import type { ArgumentsCamelCase, Argv, CommandModule } from "yargs";
import type { GlobalArgs } from "../globals.js";
import { reportError } from "./plan.js";

interface DiscoverArgs extends GlobalArgs {
  state?: string;
}
interface ShowArgs extends DiscoverArgs {
  mac: string;
}
interface AdoptArgs extends ShowArgs {
  name: string;
  category?: string;
  write?: string;
  ip?: string;
  bmcAddress?: string;
}

/** The inventories in the state, and the configured node of a MAC (when the configuration loads). */
async function inventories(argv: DiscoverArgs) {
  const { openStateStore } = await import("../../plan/inputs.js");
  const { defaultConfigPath, loadCluster } = await import("../../config/load.js");
  const store = await openStateStore({ config: argv.config, state: argv.state });
  try {
    const state = await store.read();
    const loaded = await loadCluster(defaultConfigPath(argv.config)).catch(() => undefined);
    const byMac = new Map((loaded?.cluster?.nodes ?? []).map((n) => [n.mac, n.name]));
    return { records: Object.values(state?.inventory ?? {}), configured: (mac: string) => byMac.get(mac), location: store.location };
  } finally {
    await store.close?.();
  }
}

function normalMac(s: string): string {
  return s.toLowerCase().replaceAll("-", ":");
}

function fail(message: string): void {
  process.stderr.write(`metalform: ${message}\n`);
  process.exitCode = 1;
}

const listCommand: CommandModule<GlobalArgs, DiscoverArgs> = {
  command: "list",
  describe: "Hosts that reported their hardware, configured or not",
  handler: async (argv: ArgumentsCamelCase<DiscoverArgs>) => {
    try {
      const { renderInventoryList } = await import("../../state/inventory-describe.js");
      const inv = await inventories(argv);
      if (argv.json)
        process.stdout.write(
          JSON.stringify(
            inv.records.map((r) => ({ ...r, configured: inv.configured(r.mac) ?? null })),
            null,
            2,
          ) + "\n",
        );
      else process.stdout.write(renderInventoryList(inv.records, inv.configured));
    } catch (err) {
      reportError(err);
    }
  },
};

const showCommand: CommandModule<GlobalArgs, ShowArgs> = {
  command: "show <mac>",
  describe: "Everything one host reported: DMI, CPUs, memory, disks, NICs, its BMC",
  builder: (y: Argv<GlobalArgs>) => y.positional("mac", { type: "string", demandOption: true }),
  handler: async (argv: ArgumentsCamelCase<ShowArgs>) => {
    try {
      const { renderInventoryShow } = await import("../../state/inventory-describe.js");
      const inv = await inventories(argv);
      const r = inv.records.find((x) => x.mac === normalMac(argv.mac));
      if (!r) return fail(`no inventory of ${argv.mac} in ${inv.location}`);
      process.stdout.write(argv.json ? JSON.stringify(r, null, 2) + "\n" : renderInventoryShow(r, inv.configured(r.mac)));
    } catch (err) {
      reportError(err);
    }
  },
};

const adoptCommand: CommandModule<GlobalArgs, AdoptArgs> = {
  command: "adopt <mac>",
  describe: "Add a discovered host to the configuration as a node (comments and layout of the file kept)",
  builder: (y: Argv<GlobalArgs>) =>
    y
      .positional("mac", { type: "string", demandOption: true })
      .option("name", { type: "string", demandOption: true, describe: "The node's name" })
      .option("category", { type: "string", describe: "Its category (default: the only one, if there is one)" })
      .option("write", { type: "string", describe: "The configuration file to add it to (default: where its category's nodes are)" })
      .option("ip", { type: "string", describe: "Its address (default: the next free one after its category's nodes)" })
      .option("bmc-address", { type: "string", describe: "Its BMC's address (default: what the host's BMC reported in-band)" }),
  handler: async (argv: ArgumentsCamelCase<AdoptArgs>) => {
    try {
      const { adoptIntoConfig } = await import("../../config/adopt-file.js");
      const { defaultConfigPath } = await import("../../config/load.js");
      const { configuredBmcAddress } = await import("../../state/inventory.js");
      const inv = await inventories(argv);
      const mac = normalMac(argv.mac);
      const r = inv.records.find((x) => x.mac === mac);
      if (!r) return fail(`no inventory of ${argv.mac} in ${inv.location}: only a host that reported can be adopted`);
      const bmcAddress = argv.bmcAddress ?? configuredBmcAddress(r.facts.bmc);
      const done = await adoptIntoConfig({
        configPath: defaultConfigPath(argv.config),
        mac,
        name: argv.name,
        ...(argv.category ? { category: argv.category } : {}),
        ...(argv.write ? { write: argv.write } : {}),
        ...(argv.ip ? { ip: argv.ip } : {}),
        ...(bmcAddress ? { bmcAddress } : {}),
      });
      process.stdout.write(
        `Adopted ${mac} as ${done.node.name} (${done.node.ip}, category ${done.node.category}) in ${done.file}:${done.node.pos.line}.\n` +
          "Run `metalform plan` to see its install, `metalform apply` to carry it out.\n",
      );
    } catch (err) {
      if (err instanceof Error && err.name === "AdoptError") return fail(err.message);
      reportError(err);
    }
  },
};

export const discoverCommand: CommandModule<GlobalArgs, DiscoverArgs> = {
  command: "discover <command>",
  describe: "Hosts not in the configuration that network-booted (network.discovery): their hardware, and adopting them as nodes",
  builder: (y: Argv<GlobalArgs>) =>
    y
      .option("state", { type: "string", describe: "State file (default: the configuration's)" })
      .command(listCommand as CommandModule<DiscoverArgs, DiscoverArgs>)
      .command(showCommand as unknown as CommandModule<DiscoverArgs, ShowArgs>)
      .command(adoptCommand as unknown as CommandModule<DiscoverArgs, AdoptArgs>)
      .demandCommand(1)
      .example("$0 discover list", "Every host that reported, and whether it is configured")
      .example("$0 discover show 52:54:00:4d:46:03", "Its DMI, CPUs, memory, disks, NICs and BMC")
      .example("$0 discover adopt 52:54:00:4d:46:03 --name node129 --category compute", "Write it into the configuration (then plan, apply)"),
  handler: () => undefined,
};
