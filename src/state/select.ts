// Choosing the state backend. In order: --state (a file, or a postgres:// URL),
// --state-url, $METALFORM_STATE_URL, the configuration's `backend:` section, and
// the default file beside the configuration. The database URL is a secret: it is
// resolved here, at the last moment, and only its redacted form is ever shown.
import { describeSecret, resolveSecret, SecretError } from "../config/secrets.js";
import type { StateBackendConfig } from "../config/types.js";
import { StateError } from "./errors.js";
import { LocalStateStore } from "./local.js";
import { defaultStatePath } from "./paths.js";
import { isPostgresUrl } from "./pgurl.js";
import { PostgresStateStore } from "./postgres.js";
import type { ImportableStore } from "./store.js";

export const STATE_URL_ENV = "METALFORM_STATE_URL";

export interface StoreChoice {
  /** The configuration file or directory (for the default location). */
  configPath: string;
  /** --state: a file path, or a postgres:// URL. */
  state?: string;
  /** --state-url */
  stateUrl?: string;
  /** The configuration's `backend:` section, when it has one. */
  backend?: StateBackendConfig;
  env?: NodeJS.ProcessEnv;
}

/** A store for a target named on the command line: a postgres:// URL or a file path. */
export function storeForTarget(target: string): ImportableStore {
  return isPostgresUrl(target) ? new PostgresStateStore(target) : new LocalStateStore(target);
}

export function selectStateStore(c: StoreChoice): ImportableStore {
  const env = c.env ?? process.env;
  if (c.state) return storeForTarget(c.state);
  if (c.stateUrl) return new PostgresStateStore(c.stateUrl);
  const fromEnv = env[STATE_URL_ENV];
  if (fromEnv) return new PostgresStateStore(fromEnv);
  const b = c.backend;
  if (b?.type === "postgres") {
    let url: string;
    try {
      url = resolveSecret(b.url, new Map(), env);
    } catch (e) {
      if (!(e instanceof SecretError)) throw e;
      throw new StateError("io", `the state backend's url (${describeSecret(b.url)}, ${b.pos.file}:${b.pos.line}): ${e.message}`);
    }
    if (!isPostgresUrl(url)) {
      throw new StateError("io", `the state backend's url (${describeSecret(b.url)}, ${b.pos.file}:${b.pos.line}) does not start with postgres:// or postgresql://`);
    }
    return new PostgresStateStore(url, { ...(b.name ? { name: b.name } : {}), ...(b.keepVersions !== undefined ? { keepVersions: b.keepVersions } : {}) });
  }
  if (b?.type === "local" && b.path) return new LocalStateStore(b.path);
  return new LocalStateStore(defaultStatePath(c.configPath));
}
