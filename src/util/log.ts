// Structured logging shared by every long-running part (services, apply).
// A log record is an event name plus fields; sinks decide how it is printed.
// Secrets must never be passed as fields: callers redact before logging.

export type LogLevel = "debug" | "info" | "warn" | "error";

export interface LogRecord {
  time: string;
  level: LogLevel;
  component: string;
  event: string;
  fields: Record<string, unknown>;
}

export type LogSink = (record: LogRecord) => void;

export interface Logger {
  debug(event: string, fields?: Record<string, unknown>): void;
  info(event: string, fields?: Record<string, unknown>): void;
  warn(event: string, fields?: Record<string, unknown>): void;
  error(event: string, fields?: Record<string, unknown>): void;
  child(component: string): Logger;
}

const order: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

export function createLogger(opts: { component: string; level?: LogLevel; sink?: LogSink }): Logger {
  const min = order[opts.level ?? "info"];
  const sink = opts.sink ?? lineSink(process.stderr);
  const emit = (level: LogLevel, event: string, fields: Record<string, unknown> = {}) => {
    if (order[level] < min) return;
    sink({ time: new Date().toISOString(), level, component: opts.component, event, fields });
  };
  return {
    debug: (e, f) => emit("debug", e, f),
    info: (e, f) => emit("info", e, f),
    warn: (e, f) => emit("warn", e, f),
    error: (e, f) => emit("error", e, f),
    child: (component) => createLogger({ ...opts, component: `${opts.component}.${component}` }),
  };
}

/** A logger that drops everything (tests, library use). */
export const nullLogger: Logger = {
  debug() {},
  info() {},
  warn() {},
  error() {},
  child() {
    return nullLogger;
  },
};

/** `2026-11-24T21:00:00.000Z info dhcp offer mac=52:54:00:.. ip=10.0.0.5` */
export function formatLine(r: LogRecord): string {
  const kv = Object.entries(r.fields)
    .map(([k, v]) => `${k}=${typeof v === "string" && !/\s/.test(v) ? v : JSON.stringify(v)}`)
    .join(" ");
  return `${r.time} ${r.level} ${r.component} ${r.event}${kv ? " " + kv : ""}`;
}

export function lineSink(stream: NodeJS.WritableStream): LogSink {
  return (r) => stream.write(formatLine(r) + "\n");
}

export function jsonSink(stream: NodeJS.WritableStream): LogSink {
  return (r) => stream.write(JSON.stringify(r) + "\n");
}

/** Collects records in memory; handy for tests that assert on what was logged. */
export function memorySink(into: LogRecord[]): LogSink {
  return (r) => void into.push(r);
}
