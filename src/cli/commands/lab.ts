// `metalform lab up|status|console|exec|down`: a virtual cluster of QEMU VMs with
// ipmi_sim or Redfish BMCs in one network namespace, to try metalform without a rack.
import type { ArgumentsCamelCase, Argv, CommandModule } from "yargs";
import type { GlobalArgs } from "../globals.js";

interface LabArgs extends GlobalArgs {
  namespace: string;
  nodes?: number;
  memory?: number;
  image?: string;
  node?: string;
  cmd?: string[];
  powerOn?: boolean;
  bmc?: "ipmi" | "redfish";
  firmware?: string;
  dataNics?: number;
}

async function lab() {
  return import("../../lab/index.js");
}

function nsOpt<T>(y: Argv<T>) {
  return y.option("namespace", { type: "string", default: "mflab", describe: "The lab's network namespace (its name)" });
}

const up: CommandModule<GlobalArgs, LabArgs> = {
  command: "up",
  describe: "Create the lab: namespace, bridges, VMs with BMCs, image and kernel, and its cluster configuration",
  builder: (y) =>
    nsOpt(y)
      .option("nodes", { type: "number", default: 3, describe: "Number of VMs" })
      .option("memory", { type: "number", describe: "RAM per VM in MiB (default 512; 1024 with --image debian)" })
      .option("image", {
        type: "string",
        choices: ["busybox", "debian"],
        default: "busybox",
        describe: "The cluster's image: a small busybox tree, or Debian 12 built from a recipe with mmdebstrap (cached; the first build takes minutes)",
      })
      .option("power-on", { type: "boolean", default: false, describe: "Start the VMs now (apply powers them through their BMCs anyway)" })
      .option("bmc", {
        choices: ["ipmi", "redfish"] as const,
        default: "ipmi" as const,
        describe: "The VMs' BMCs: ipmi_sim per node (IPMI), or metalform's Redfish emulator (HTTPS per node address)",
      })
      .option("firmware", {
        type: "string",
        default: "bios",
        describe: "The VMs' firmware: bios (SeaBIOS, iPXE ROM), uefi (OVMF's own PXE), secureboot (OVMF, Microsoft keys, shim and signed GRUB); a comma list gives one per node",
      })
      .option("data-nics", {
        type: "number",
        describe: "Give every VM this many NICs on a data network (bridge mfdata0, the head at 10.79.0.1/24 and fd00:79::1/64), for `interfaces:` in the configuration",
      })
      .example("$0 lab up --nodes 2", "Two VMs, powered off, ready for `metalform lab exec -- metalform apply`")
      .example("$0 lab up --nodes 1 --bmc redfish", "One VM whose BMC speaks Redfish")
      .example("$0 lab up --nodes 3 --firmware bios,uefi,secureboot", "One VM of each firmware")
      .example("$0 lab up --nodes 1 --image debian", "One VM that installs Debian 12 (systemd, ssh) from a recipe")
      .example("$0 lab up --nodes 1 --image debian --data-nics 2", "One Debian VM with two more NICs on a data network, to bond"),
  handler: async (argv: ArgumentsCamelCase<LabArgs>) => {
    const { labUp, formatLabUp, parseLabFirmware } = await lab();
    const firmware = parseLabFirmware(argv.firmware ?? "bios");
    const info = await labUp({
      namespace: argv.namespace,
      nodes: argv.nodes ?? 3,
      ...(argv.memory !== undefined ? { memoryMiB: argv.memory } : {}),
      image: argv.image as "busybox" | "debian",
      powerOn: argv.powerOn ?? false,
      firmware,
      bmc: argv.bmc ?? "ipmi",
      ...(argv.dataNics ? { dataNetwork: { nics: argv.dataNics, address6: "fd00:79::1/64" } } : {}),
    });
    process.stdout.write(argv.json ? JSON.stringify(info, null, 2) + "\n" : formatLabUp(info) + "\n");
  },
};

const status: CommandModule<GlobalArgs, LabArgs> = {
  command: "status",
  describe: "Show the lab's namespace, VMs and BMCs",
  builder: (y) => nsOpt(y).example("$0 lab status", "Which VMs run, what their BMCs say"),
  handler: async (argv: ArgumentsCamelCase<LabArgs>) => {
    const { labStatus, formatLabStatus } = await lab();
    const s = await labStatus({ namespace: argv.namespace, queryBmc: true });
    process.stdout.write(argv.json ? JSON.stringify(s, null, 2) + "\n" : formatLabStatus(s) + "\n");
  },
};

const consoleCmd: CommandModule<GlobalArgs, LabArgs> = {
  command: "console <node>",
  describe: "Print a VM's serial console log",
  builder: (y) => nsOpt(y).positional("node", { type: "string", describe: "Node name, e.g. lab1" }).example("$0 lab console lab1", "What lab1 printed"),
  handler: async (argv: ArgumentsCamelCase<LabArgs>) => {
    const { labConsole } = await lab();
    const c = labConsole({ namespace: argv.namespace }, argv.node!);
    process.stdout.write(argv.json ? JSON.stringify(c) + "\n" : c.content);
  },
};

const exec: CommandModule<GlobalArgs, LabArgs> = {
  command: "exec [cmd..]",
  describe: "Run a command inside the lab's namespace (e.g. metalform itself)",
  builder: (y) =>
    nsOpt(y)
      .positional("cmd", { type: "string", array: true, describe: "Command and arguments (after --)" })
      .example("$0 lab exec -- metalform apply -c ~/.local/state/metalform/lab/mflab/cluster.yaml --auto-approve", "Apply the lab's configuration"),
  handler: async (argv: ArgumentsCamelCase<LabArgs>) => {
    const { labExec } = await lab();
    const cmd = [...(argv.cmd ?? []), ...((argv["--"] as string[] | undefined) ?? [])];
    if (!cmd.length) throw new Error("lab exec needs a command: metalform lab exec -- CMD ARGS...");
    // `metalform` inside the lab means this very metalform.
    if (cmd[0] === "metalform") cmd.splice(0, 1, process.execPath, new URL("../../../bin/metalform", import.meta.url).pathname);
    process.exitCode = await labExec({ namespace: argv.namespace }, cmd);
  },
};

const down: CommandModule<GlobalArgs, LabArgs> = {
  command: "down",
  describe: "Remove the lab: VMs, BMCs, namespace and files (safe to run twice)",
  builder: (y) => nsOpt(y).example("$0 lab down", "Remove everything the lab made"),
  handler: async (argv: ArgumentsCamelCase<LabArgs>) => {
    const { labDown } = await lab();
    const r = await labDown({ namespace: argv.namespace });
    process.stdout.write(r.removed ? `Lab ${argv.namespace} removed.\n` : `No lab ${argv.namespace} to remove.\n`);
  },
};

export const labCommand: CommandModule<GlobalArgs, GlobalArgs> = {
  command: "lab <command>",
  describe: "A virtual cluster on this machine: QEMU VMs that PXE-boot from metalform, with IPMI BMCs",
  builder: (y) =>
    y
      .command(up)
      .command(status)
      .command(consoleCmd)
      .command(exec)
      .command(down)
      .demandCommand(1, "Name a lab command: up, status, console, exec, down.")
      .example("$0 lab up && $0 lab exec -- metalform plan -c ~/.local/state/metalform/lab/mflab/cluster.yaml", "A lab and its plan"),
  handler: () => undefined,
};
