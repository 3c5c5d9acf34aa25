// Where the state lives when --state is not given: `.metalform/state.json` beside the
// configuration (in the configuration directory, or next to the configuration file).
import { statSync } from "node:fs";
import { dirname, join, resolve } from "node:path";

export function configBaseDir(configPath: string): string {
  const abs = resolve(configPath);
  try {
    if (statSync(abs).isDirectory()) return abs;
  } catch {
    // A path that does not exist yet: treat it as a file.
  }
  return dirname(abs);
}

export function defaultStatePath(configPath: string): string {
  return join(configBaseDir(configPath), ".metalform", "state.json");
}

export function defaultCacheDir(configPath: string): string {
  return join(configBaseDir(configPath), ".metalform", "cache");
}
