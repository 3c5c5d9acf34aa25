// Access for hosts the configuration does not know (discovery, issue 19). Such a host
// has no node entry, no install attempt and no credential; what it may do is post one
// hardware inventory. A session opens when its MAC fetches the inventory iPXE script
// (from the address DHCP gave it); the inventory must come from that address, once.
// Sessions per MAC open at most once a minute, and at most `maxOpen` are held (the
// oldest goes first), so a flood of made-up MACs costs bounded memory and writes.
// Nothing secret is ever served to a discovered host. Pure apart from the clock.
import { normalizeIp } from "./sessions.js";

export type DiscoveryRefusal =
  | "no-session" // no inventory script was fetched for this MAC (or its report came already)
  | "wrong-address" // not from the address that fetched the script
  | "expired"; // the session ran past its window

export interface DiscoverySessionsOptions {
  /** How long after the script fetch the inventory may come (default 15 min). */
  windowMs?: number;
  /** At most this many open sessions (default 256). */
  maxOpen?: number;
  /** A MAC opens a new session at most this often (default 60 s). */
  minIntervalMs?: number;
  now?: () => number;
}

interface Session {
  ip: string;
  deadline: number;
}

export class DiscoverySessions {
  private readonly open_ = new Map<string, Session>();
  private readonly lastOpened = new Map<string, number>();
  private readonly now: () => number;
  private readonly windowMs: number;
  private readonly maxOpen: number;
  private readonly minIntervalMs: number;

  constructor(opts: DiscoverySessionsOptions = {}) {
    this.now = opts.now ?? Date.now;
    this.windowMs = opts.windowMs ?? 15 * 60_000;
    this.maxOpen = opts.maxOpen ?? 256;
    this.minIntervalMs = opts.minIntervalMs ?? 60_000;
  }

  /** Opens a session for a MAC at an address; false when that MAC opened one too recently. */
  open(mac: string, remote: string | undefined): boolean {
    const ip = normalizeIp(remote);
    if (!ip) return false;
    const t = this.now();
    const last = this.lastOpened.get(mac);
    if (last !== undefined && t - last < this.minIntervalMs) return false;
    this.open_.delete(mac);
    this.open_.set(mac, { ip, deadline: t + this.windowMs });
    this.lastOpened.set(mac, t);
    while (this.open_.size > this.maxOpen) this.open_.delete(this.open_.keys().next().value!);
    // Forget old rate-limit marks so the map stays bounded too.
    if (this.lastOpened.size > this.maxOpen * 4) for (const [m, when] of this.lastOpened) if (t - when >= this.minIntervalMs) this.lastOpened.delete(m);
    return true;
  }

  /** Whether a call may post the session's inventory (the session stays open: a body that fails to parse may be sent again). */
  check(mac: string, remote: string | undefined): { ok: true } | { ok: false; refusal: DiscoveryRefusal } {
    const s = this.open_.get(mac);
    if (!s) return { ok: false, refusal: "no-session" };
    if (this.now() >= s.deadline) {
      this.open_.delete(mac);
      return { ok: false, refusal: "expired" };
    }
    if (normalizeIp(remote) !== s.ip) return { ok: false, refusal: "wrong-address" };
    return { ok: true };
  }

  /** The one inventory of a session, accepted: the session ends (a second, concurrent one is refused here). */
  accept(mac: string, remote: string | undefined): { ok: true } | { ok: false; refusal: DiscoveryRefusal } {
    const c = this.check(mac, remote);
    if (c.ok) this.open_.delete(mac);
    return c;
  }

  /** Open sessions (for tests and status). */
  get size(): number {
    return this.open_.size;
  }
}
