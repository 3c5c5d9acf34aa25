// The rows of the provisioning tables as the rest of metalform sees them: who
// provisions, which images to copy, which node is assigned to whom, what was observed.

export interface ProvisionerRegistration {
  name: string;
  /** The provisioning address nodes reach it at. */
  address: string;
  httpUrl: string;
  /** rsync://ADDRESS:PORT (modules are appended). */
  rsyncUrl: string;
  slots: number;
  /** Affinity: categories and node host ranges it prefers (empty: everyone). */
  categories: string[];
  nodePatterns: string[];
  /** Image name → digest of the copy it holds. */
  images: Record<string, string>;
  configDigest: string;
  host: string;
  pid: number;
}

export interface ProvisionerInfo extends ProvisionerRegistration {
  /** "IMAGE@DIGEST" → why its copy failed (until a copy succeeds). */
  copyErrors: Record<string, string>;
  /** Milliseconds since its last heartbeat (by the database's clock). */
  ageMs: number;
}

export interface ImageSource {
  image: string;
  digest: string;
  /** rsync://HOST:PORT/MODULE/ to copy it from. */
  url: string;
  /**
   * The apply's image credential (rsync user and password, new for every apply):
   * the head's image source admits nobody else. Passed to rsync in its environment.
   */
  auth?: { user: string; password: string };
}

export interface Assignment {
  node: string;
  applyId: string;
  provisioner: string;
  image: string;
  digest: string;
  configDigest: string;
  reason: string;
  allowWipe: boolean;
  /** Bumped on every (re)assignment: reports of an older one are ignored. */
  generation: number;
  /** Set by the provisioner when it cannot serve the node (and why). */
  rejected?: string;
}

export interface ObservationRow {
  id: number;
  node: string;
  generation: number;
  provisioner: string;
  body: Record<string, unknown>;
}
