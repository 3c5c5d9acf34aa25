// Flags every command shares. Commands read them through yargs' parsed argv.
export interface GlobalArgs {
  /** Configuration file or directory (default: ./cluster.yaml or ./cluster/). */
  config?: string;
  /** Colour output; false with --no-color, NO_COLOR, or when stdout is not a TTY. */
  color: boolean;
  /** Machine-readable output. */
  json: boolean;
}

/** Whether to colour output written to `stream`, honouring --no-color and NO_COLOR. */
export function useColor(argv: { color?: boolean }, stream: NodeJS.WriteStream = process.stdout): boolean {
  if (argv.color === false) return false;
  if (process.env.NO_COLOR !== undefined && process.env.NO_COLOR !== "") return false;
  return Boolean(stream.isTTY);
}
