// Install credentials: one per install attempt, after Ironic's agent tokens. An
// attempt opens when apply sets a node to install; nothing secret is in the node's
// public iPXE script or on its kernel command line. The installer claims its
// credential once over the API, from the address the head assigned that node — the
// first claim wins — and every later call must come from that address with that
// credential. The attempt ends (the credential with it) when the node reports UP or
// a failed step, when apply puts it back on local boot, or at the upper bound.
// The BMC password is handed out once, while the attempt's current step is `bmc`.
// Pure apart from the random bytes: the clock is passed in.
import { createHash, randomBytes, timingSafeEqual } from "node:crypto";

/** Why a call was refused; logged with the remote address, never with a secret. */
export type Refusal =
  | "no-install" // the node is not in an install the apply started
  | "wrong-address" // the call does not come from the node's address
  | "already-claimed" // the credential of this attempt was handed out before
  | "bad-credential" // missing, another node's, or an old attempt's credential
  | "not-bmc-step" // BMC password outside the BMC step (or asked for twice)
  | "expired"; // the attempt ran past its upper bound

export type Checked<T> = { ok: true; value: T } | { ok: false; refusal: Refusal };

/** What the installer gets once: its bearer credential and its image password. */
export interface Claimed {
  /** Bearer credential for plan, reports and the BMC password of this attempt. */
  token: string;
  /** rsync daemon user and password for this attempt's image module. */
  rsyncUser: string;
  rsyncPassword: string;
}

/** What the rsync daemon lets in: a node installing now, its address and password. */
export interface ActiveInstall {
  node: string;
  ip: string;
  rsyncUser: string;
  rsyncPassword: string;
}

interface Attempt {
  node: string;
  ip: string;
  opened: number;
  deadline: number;
  rsyncPassword: string;
  /** sha256 of the bearer credential once claimed: the credential itself is never kept. */
  tokenHash?: Buffer;
  step?: string;
  bmcServed: boolean;
}

export interface InstallSessionsOptions {
  /** Upper bound of one attempt, claimed or not (ms). */
  windowMs: number;
  now?: () => number;
}

export const DEFAULT_INSTALL_WINDOW_MS = 2 * 60 * 60_000;

const newSecret = () => randomBytes(32).toString("base64url");
const sha256 = (s: string) => createHash("sha256").update(s).digest();

export class InstallSessions {
  private readonly attempts = new Map<string, Attempt>();
  private readonly now: () => number;

  constructor(private readonly opts: InstallSessionsOptions) {
    this.now = opts.now ?? Date.now;
  }

  /** A new attempt for a node at its assigned address; any earlier one (and its credential) ends. */
  open(node: string, ip: string): void {
    const t = this.now();
    this.attempts.set(node, { node, ip, opened: t, deadline: t + this.opts.windowMs, rsyncPassword: newSecret(), bmcServed: false });
  }

  /** Ends a node's attempt; true when there was one. */
  close(node: string): boolean {
    return this.attempts.delete(node);
  }

  installing(node: string): boolean {
    return this.live(node) !== undefined;
  }

  /** The first claim from the node's address gets the credential; every other is refused. */
  claim(node: string, remote: string | undefined): Checked<Claimed> {
    const a = this.live(node);
    if (!a) return this.refuse(node);
    if (normalizeIp(remote) !== a.ip) return { ok: false, refusal: "wrong-address" };
    if (a.tokenHash) return { ok: false, refusal: "already-claimed" };
    const token = newSecret();
    a.tokenHash = sha256(token);
    return { ok: true, value: { token, rsyncUser: node, rsyncPassword: a.rsyncPassword } };
  }

  /** A call of the running attempt: its address and its credential. */
  check(node: string, remote: string | undefined, token: string | undefined): Checked<{ node: string }> {
    const a = this.live(node);
    if (!a) return this.refuse(node);
    if (normalizeIp(remote) !== a.ip) return { ok: false, refusal: "wrong-address" };
    if (!a.tokenHash || !token || !timingSafeEqual(sha256(token), a.tokenHash)) return { ok: false, refusal: "bad-credential" };
    return { ok: true, value: { node } };
  }

  /** Follows the installer's steps: a failed step ends the attempt. */
  reported(node: string, step: string, status: string): void {
    const a = this.attempts.get(node);
    if (!a) return;
    if (status === "failed") this.attempts.delete(node);
    else a.step = step;
  }

  /** The BMC password may go out now: an authenticated call, in the BMC step, once. */
  bmcPassword(node: string, remote: string | undefined, token: string | undefined): Checked<{ node: string }> {
    const c = this.check(node, remote, token);
    if (!c.ok) return c;
    const a = this.attempts.get(node)!;
    if (a.step !== "bmc" || a.bmcServed) return { ok: false, refusal: "not-bmc-step" };
    a.bmcServed = true;
    return c;
  }

  /** Attempts past their upper bound end; the names of those that did. */
  expire(): string[] {
    const t = this.now();
    const gone = [...this.attempts.values()].filter((a) => t >= a.deadline).map((a) => a.node);
    for (const n of gone) this.attempts.delete(n);
    return gone;
  }

  /** Every running attempt: who the rsync daemon lets in. */
  active(): ActiveInstall[] {
    const t = this.now();
    return [...this.attempts.values()].filter((a) => t < a.deadline).map((a) => ({ node: a.node, ip: a.ip, rsyncUser: a.node, rsyncPassword: a.rsyncPassword }));
  }

  private live(node: string): Attempt | undefined {
    const a = this.attempts.get(node);
    return a && this.now() < a.deadline ? a : undefined;
  }

  private refuse(node: string): { ok: false; refusal: Refusal } {
    const a = this.attempts.get(node);
    return { ok: false, refusal: a ? "expired" : "no-install" };
  }
}

/** "::ffff:10.0.0.5" (an IPv4 client of a dual-stack socket) → "10.0.0.5". */
export function normalizeIp(remote: string | undefined): string | undefined {
  return remote?.replace(/^::ffff:/, "");
}
