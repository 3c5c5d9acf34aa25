// `metalform apply [PLANFILE]`: make the cluster match the configuration.
import type { ArgumentsCamelCase, Argv, CommandModule } from "yargs";
import { useColor, type GlobalArgs } from "../globals.js";
import { reportError } from "./plan.js";
import type { ApplyEvent } from "../../apply/events.js";
import type { ApplyOutcome } from "../../apply/run.js";

interface ApplyArgs extends GlobalArgs {
  planfile?: string;
  autoApprove: boolean;
  state?: string;
  target: string[];
  allowWipe: string[];
  parallelism: number;
  canary: number;
  retries: number;
  lockTimeout: string;
  installWindow: string;
  provisioners: "auto" | "none" | "required";
  failoverTimeout: string;
  phaseTimeout: string[];
  bindAddress?: string;
  bindInterface?: string;
  tftpRoot?: string;
  useServe: boolean;
  logLevel: "debug" | "info" | "warn" | "error";
}

export const applyCommand: CommandModule<GlobalArgs, ApplyArgs> = {
  command: "apply [planfile]",
  describe: "Carry out the plan: serve PXE, network-boot nodes into the installer and follow them until UP",
  builder: (y: Argv<GlobalArgs>) =>
    y
      .positional("planfile", { type: "string", describe: "A plan saved with `metalform plan --out` (applied exactly; refused when stale)" })
      .option("auto-approve", { type: "boolean", default: false, describe: "Do not ask before applying" })
      .option("state", { type: "string", describe: "State: a file, or a postgres:// URL (default: the configuration's backend, else .metalform/state.json beside it)" })
      .option("target", { type: "string", array: true, default: [], describe: "Apply only to these nodes (NODE or RANGE); repeatable" })
      .option("allow-wipe", { type: "string", array: true, default: [], describe: "Allow wiping this protected node's disks (NODE or RANGE); repeatable" })
      .option("parallelism", { type: "number", default: 10, describe: "Nodes provisioned at once (Bright's provisioning slots)" })
      .option("canary", { type: "number", default: 0, describe: "This many nodes must succeed before the others start" })
      .option("retries", { type: "number", default: 2, describe: "Power-cycle a stuck node again this many times" })
      .option("install-window", { type: "string", default: "2h", describe: "Upper bound of one install attempt: its credentials end then at the latest (e.g. 90m)" })
      .option("lock-timeout", { type: "string", default: "0s", describe: "Wait this long for another holder of the state lock (e.g. 30s, 5m)" })
      .option("phase-timeout", { type: "string", array: true, default: [], describe: "Per-phase timeout, PHASE=DURATION (e.g. dhcp=5m sync=30m); repeatable" })
      .option("bind-address", { type: "string", describe: "Address the services bind to (default: network.address)" })
      .option("bind-interface", { type: "string", describe: "Interface DHCP binds to (default: network.interface; 'none' for no binding)" })
      .option("tftp-root", { type: "string", describe: "Directory with the iPXE loaders (default: /usr/lib/ipxe)" })
      .option("use-serve", {
        type: "boolean",
        default: true,
        describe:
          "When `metalform serve` runs for this cluster, hand it the boot configuration through its control socket (.metalform/serve.sock) instead of starting the services here; --no-use-serve never does",
      })
      .option("provisioners", {
        choices: ["auto", "none", "required"] as const,
        default: "auto" as const,
        describe: "With a PostgreSQL state: hand installs to the registered provisioners (serve --role provisioner); auto: when any is alive",
      })
      .option("failover-timeout", { type: "string", default: "60s", describe: "A provisioner silent this long is dead; its installs move to another" })
      .option("log-level", { choices: ["debug", "info", "warn", "error"] as const, default: "warn" as const, describe: "Service log level (to stderr)" })
      .example("$0 apply", "Plan, show, ask, apply")
      .example("$0 plan --out tonight.plan && $0 apply tonight.plan", "Apply exactly a reviewed plan")
      .example("$0 apply --auto-approve --json > events.jsonl", "In CI: no question, JSON lines events")
      .example("$0 apply --canary 2 --parallelism 32", "Two nodes first, then 32 at a time") as unknown as Argv<ApplyArgs>,
  handler: async (argv: ArgumentsCamelCase<ApplyArgs>) => {
    const { runApply, ApplyRefused } = await import("../../apply/run.js");
    const { parseDuration } = await import("../../state/duration.js");
    const { renderTerminal } = await import("../../plan/render/terminal.js");
    const { createLogger, lineSink, jsonSink } = await import("../../util/log.js");

    const lockTimeoutMs = parseDuration(argv.lockTimeout);
    if (lockTimeoutMs === undefined) throw new Error(`--lock-timeout ${argv.lockTimeout}: expected a duration such as 30s or 5m`);
    const failoverTimeoutMs = parseDuration(argv.failoverTimeout);
    if (!failoverTimeoutMs) throw new Error(`--failover-timeout ${argv.failoverTimeout}: expected a duration such as 60s or 2m`);
    const phaseTimeouts = await parsePhaseTimeouts(argv.phaseTimeout);
    const installWindowMs = parseDuration(argv.installWindow);
    if (!installWindowMs) throw new Error(`--install-window ${argv.installWindow}: expected a duration such as 2h or 90m`);
    const color = useColor(argv);
    const out = (s: string) => process.stdout.write(s + "\n");
    const display = await chooseDisplay(argv, out);
    const logger = createLogger({ component: "metalform", level: argv.logLevel, sink: argv.json ? jsonSink(process.stderr) : lineSink(process.stderr) });
    const signals = interruptOnSignals();
    try {
      const outcome = await runApply({
        ...(argv.config ? { config: argv.config } : {}),
        ...(argv.state ? { state: argv.state } : {}),
        ...(argv.planfile ? { planFile: argv.planfile } : {}),
        autoApprove: argv.autoApprove,
        interactive: Boolean(process.stdin.isTTY && process.stdout.isTTY),
        target: argv.target,
        allowWipe: argv.allowWipe,
        parallelism: argv.parallelism,
        canary: argv.canary,
        retries: argv.retries,
        lockTimeoutMs,
        phaseTimeouts,
        installWindowMs,
        ...(argv.bindAddress ? { bindAddress: argv.bindAddress } : {}),
        ...(argv.bindInterface ? { bindInterface: argv.bindInterface === "none" ? null : argv.bindInterface } : {}),
        ...(argv.tftpRoot ? { tftpRoot: argv.tftpRoot } : {}),
        useServe: argv.useServe,
        provisioners: argv.provisioners,
        failoverTimeoutMs,
        showPlan: (plan) => {
          if (!argv.json) out(renderTerminal(plan, { color }));
        },
        confirm: askYes,
        say: (line) => process.stderr.write(line + "\n"),
        events: display.events,
        stopSignal: signals.stop,
        interruptSignal: signals.interrupt,
        logger,
      });
      await reportOutcome(argv, outcome, { out, closed: display.closed });
    } catch (err) {
      if (err instanceof ApplyRefused) {
        process.stderr.write(`metalform: ${err.message}\n`);
        process.exitCode = 1;
        return;
      }
      reportError(err);
    } finally {
      signals.dispose();
    }
  },
};

/** --phase-timeout PHASE=DURATION, repeated. */
async function parsePhaseTimeouts(args: readonly string[]): Promise<Record<string, number>> {
  const { isPhase } = await import("../../progress/phases.js");
  const { parseDuration } = await import("../../state/duration.js");
  const phaseTimeouts: Record<string, number> = {};
  for (const pt of args) {
    const [phase, dur] = pt.split("=");
    const ms = dur ? parseDuration(dur) : undefined;
    if (!phase || !isPhase(phase) || ms === undefined) throw new Error(`--phase-timeout ${pt}: expected PHASE=DURATION, e.g. dhcp=5m`);
    phaseTimeouts[phase] = ms;
  }
  return phaseTimeouts;
}

/** JSON lines with --json, listr2 in a terminal, plain lines otherwise. */
async function chooseDisplay(argv: ApplyArgs, out: (s: string) => void): Promise<{ events: (e: ApplyEvent) => void; closed?: Promise<void> }> {
  const { lineRenderer, jsonLinesRenderer } = await import("../../apply/render/lines.js");
  if (argv.json) return { events: jsonLinesRenderer(out) };
  if (!process.stdout.isTTY) return { events: lineRenderer(out) };
  const { listrRenderer } = await import("../../apply/render/listr.js");
  const listr = listrRenderer();
  return { events: listr.sink, closed: listr.closed };
}

async function askYes(): Promise<boolean> {
  const { createInterface } = await import("node:readline/promises");
  const rl = createInterface({ input: process.stdin, output: process.stdout });
  const answer = await rl.question("Do you want to apply these changes? Only 'yes' will be accepted: ");
  rl.close();
  return answer.trim() === "yes";
}

/**
 * First Ctrl-C: no new nodes. Second: stop waiting for the running ones (they are
 * marked interrupted; state is written, the lock released). Third: leave now.
 */
function interruptOnSignals(): { stop: AbortSignal; interrupt: AbortSignal; dispose: () => void } {
  const stop = new AbortController();
  const interrupt = new AbortController();
  const onSigint = () => {
    if (!stop.signal.aborted) {
      stop.abort();
      process.stderr.write("\nInterrupted: no new nodes will start; waiting for the running ones (Ctrl-C again to stop waiting).\n");
    } else if (!interrupt.signal.aborted) {
      interrupt.abort();
      process.stderr.write("\nInterrupted again: no longer waiting for the running nodes; writing state and stopping (Ctrl-C again to exit at once).\n");
    } else {
      process.stderr.write("\nExiting at once: the state lock may be left behind (metalform state unlock clears it).\n");
      process.exit(130);
    }
  };
  process.on("SIGINT", onSigint);
  process.on("SIGTERM", onSigint);
  const dispose = () => {
    process.off("SIGINT", onSigint);
    process.off("SIGTERM", onSigint);
  };
  return { stop: stop.signal, interrupt: interrupt.signal, dispose };
}

/** Diagnostics, "no changes" or the result table; the exit code. */
async function reportOutcome(argv: ApplyArgs, outcome: ApplyOutcome, o: { out: (s: string) => void; closed?: Promise<void> }): Promise<void> {
  const { formatDiagnostics, summarizeDiagnostics } = await import("../../config/diagnostics.js");
  const { resultReport } = await import("../../apply/render/table.js");
  if (outcome.diagnostics.length) process.stderr.write(formatDiagnostics(outcome.diagnostics, { color: useColor(argv, process.stderr) }) + "\n");
  if (!outcome.plan) {
    process.stderr.write(`${summarizeDiagnostics(outcome.diagnostics)}; nothing was applied\n`);
    process.exitCode = 1;
    return;
  }
  if (outcome.noChanges) {
    if (!argv.json) o.out("No changes. The cluster matches the configuration.");
    process.exitCode = 0;
    return;
  }
  const result = outcome.result!;
  await o.closed;
  if (!argv.json) o.out(resultReport(result));
  process.exitCode = result.summary.failed === 0 && !result.interrupted ? 0 : 1;
}
