// Runs metalform commands in-process through yargs, as src/cli/main.ts would, and
// captures what they print and the exit code: fast (no node start-up per call) and
// the same parsing and exit-code path a user gets.
import yargs, { type CommandModule } from "yargs";
import type { GlobalArgs } from "../../src/cli/globals.js";

export interface CliRun {
  code: number;
  out: string;
  err: string;
}

/** Runs `argv` against `commands` with main.ts's global flags; stdout and stderr are captured, not printed. */
export async function runCommandsInProcess(commands: readonly unknown[], argv: string[]): Promise<CliRun> {
  let out = "";
  let err = "";
  const ow = process.stdout.write.bind(process.stdout);
  const ew = process.stderr.write.bind(process.stderr);
  process.exitCode = undefined;
  process.stdout.write = (s: string | Uint8Array) => ((out += String(s)), true);
  process.stderr.write = (s: string | Uint8Array) => ((err += String(s)), true);
  try {
    let y = yargs(argv)
      .option("config", { type: "string", global: true })
      .option("color", { type: "boolean", default: true, global: true })
      .option("json", { type: "boolean", default: false, global: true });
    for (const c of commands) y = y.command(c as CommandModule<GlobalArgs, GlobalArgs>);
    await y
      .strict()
      .exitProcess(false)
      .fail((msg, e) => {
        throw e ?? new Error(msg);
      })
      .parseAsync();
  } finally {
    process.stdout.write = ow;
    process.stderr.write = ew;
  }
  const code = Number(process.exitCode ?? 0);
  process.exitCode = undefined;
  return { code, out, err };
}
