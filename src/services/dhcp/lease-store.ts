// Dynamic leases for MACs without a reservation: allocation from a range, offers held
// briefly so concurrent DISCOVERs don't get the same address, expiry, declined
// addresses parked, and persistence so leases survive a restart.
//
// The lease file is a journal of JSON lines after a header line: each bind or release
// appends one line, batched so a boot storm of thousands of ACKs costs one append per
// `flushDelayMs`. On load the journal is replayed and compacted: the live leases are
// written to a temporary file, fsynced and renamed over the journal (atomic), as is
// done again whenever the journal grows well past the live leases. A torn last line
// (crash mid-append) is skipped on replay.
import { mkdirSync, readFileSync } from "node:fs";
import { appendFile } from "node:fs/promises";
import { dirname } from "node:path";
import { writeFileAtomic } from "../../util/fs.js";
import { intToIp, ipToInt } from "./codec/ip4.js";

export interface Lease {
  mac: string;
  ip: string;
  /** Unix time (ms) when the lease ends. */
  expires: number;
  /** "offered": held for a DISCOVER; "bound": ACKed. */
  state: "offered" | "bound";
}

/** First line of a lease file. */
const HEADER = '{"metalform-dhcp-leases":1}';

/** One journal line; expires 0 = the lease ended (release, decline). */
interface JournalEntry {
  mac: string;
  ip: string;
  expires: number;
}

export interface LeaseStoreOptions {
  start: string;
  end: string;
  /** Addresses never handed out (reservations, the server's own). */
  excluded: () => Set<string>;
  file?: string;
  /** How long an OFFER holds its address. */
  offerHoldMs?: number;
  /** How long a DECLINEd address stays out of use (RFC 2131 §3.1.5). */
  declineHoldMs?: number;
  flushDelayMs?: number;
  now?: () => number;
  onPersistError?: (e: Error) => void;
}

export class LeaseStore {
  private readonly byMac = new Map<string, Lease>();
  private readonly byIp = new Map<number, Lease>();
  private readonly declined = new Map<number, number>();
  private readonly first: number;
  private readonly last: number;
  private cursor: number;
  /** Journal lines not yet appended. */
  private pending: string[] = [];
  /** Lines in the journal file since the last compaction. */
  private journalLines = 0;
  // The first write is a snapshot: it creates the file with its header.
  private needsCompaction = true;
  private timer: NodeJS.Timeout | undefined;
  private writing: Promise<void> = Promise.resolve();
  private readonly now: () => number;

  constructor(private readonly opts: LeaseStoreOptions) {
    this.first = ipToInt(opts.start);
    this.last = ipToInt(opts.end);
    if (this.last < this.first) throw new RangeError(`dynamic range ${opts.start}-${opts.end} is empty`);
    this.cursor = this.first;
    this.now = opts.now ?? Date.now;
  }

  get size(): number {
    return this.byMac.size;
  }

  inRange(ip: string): boolean {
    let n: number;
    try {
      n = ipToInt(ip);
    } catch {
      return false;
    }
    return n >= this.first && n <= this.last;
  }

  /** Replays the lease file, dropping expired leases; a missing file is an empty store. */
  load(): void {
    if (!this.opts.file) return;
    let text: string;
    try {
      text = readFileSync(this.opts.file, "utf8");
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === "ENOENT") return;
      throw e;
    }
    const lines = text.split("\n");
    if (lines[0] !== HEADER) throw new Error(`${this.opts.file}: not a metalform lease file`);
    const now = this.now();
    const latest = new Map<string, JournalEntry>();
    for (const line of lines.slice(1)) {
      if (!line) continue;
      let e: JournalEntry;
      try {
        e = JSON.parse(line) as JournalEntry;
      } catch {
        continue; // torn write at a crash
      }
      if (typeof e.mac !== "string" || typeof e.ip !== "string" || typeof e.expires !== "number") continue;
      latest.set(e.mac, e);
    }
    for (const e of latest.values()) {
      if (e.expires <= now || !this.inRange(e.ip) || this.byIp.has(ipToInt(e.ip))) continue;
      this.put({ mac: e.mac, ip: e.ip, expires: e.expires, state: "bound" });
    }
    this.needsCompaction = true;
  }

  get(mac: string): Lease | undefined {
    const l = this.byMac.get(mac);
    if (l && l.expires <= this.now()) {
      this.drop(l);
      return undefined;
    }
    return l;
  }

  /** Who holds an address (unexpired), if anyone. */
  holder(ip: string): string | undefined {
    let n: number;
    try {
      n = ipToInt(ip);
    } catch {
      return undefined;
    }
    const l = this.byIp.get(n);
    if (!l) return undefined;
    if (l.expires <= this.now()) {
      this.drop(l);
      return undefined;
    }
    return l.mac;
  }

  /**
   * Holds an address for a DISCOVER: the client's current lease, else the address it
   * asked for if free, else the next free one. Undefined when the pool is exhausted.
   */
  offer(mac: string, wanted: string | undefined): string | undefined {
    const hold = this.opts.offerHoldMs ?? 30_000;
    const existing = this.get(mac);
    if (existing) {
      if (existing.state === "offered") existing.expires = Math.max(existing.expires, this.now() + hold);
      return existing.ip;
    }
    const excluded = this.opts.excluded();
    let ip: number | undefined;
    if (wanted && this.inRange(wanted) && this.isFree(ipToInt(wanted), excluded)) ip = ipToInt(wanted);
    ip ??= this.nextFree(excluded);
    if (ip === undefined) return undefined;
    this.put({ mac, ip: intToIp(ip), expires: this.now() + hold, state: "offered" });
    return intToIp(ip);
  }

  /** Binds `ip` to `mac` for `seconds` if the address is the client's or free. */
  bind(mac: string, ip: string, seconds: number): boolean {
    if (!this.inRange(ip)) return false;
    const holder = this.holder(ip);
    if (holder !== undefined && holder !== mac) return false;
    if (holder === undefined && !this.isFree(ipToInt(ip), this.opts.excluded())) return false;
    const existing = this.get(mac);
    if (existing && existing.ip !== ip) this.drop(existing);
    const expires = this.now() + seconds * 1000;
    this.put({ mac, ip, expires, state: "bound" });
    this.journal({ mac, ip, expires });
    return true;
  }

  /** Drops an address held for an OFFER the client did not take. */
  cancelOffer(mac: string): void {
    const l = this.byMac.get(mac);
    if (l?.state === "offered") this.drop(l);
  }

  release(mac: string, ip: string): boolean {
    const l = this.get(mac);
    if (!l || l.ip !== ip) return false;
    this.drop(l);
    if (l.state === "bound") this.journal({ mac, ip, expires: 0 });
    return true;
  }

  decline(mac: string, ip: string): void {
    const l = this.get(mac);
    if (l && l.ip === ip) {
      this.drop(l);
      if (l.state === "bound") this.journal({ mac, ip, expires: 0 });
    }
    if (this.inRange(ip)) this.declined.set(ipToInt(ip), this.now() + (this.opts.declineHoldMs ?? 600_000));
  }

  all(): Lease[] {
    const now = this.now();
    return [...this.byMac.values()].filter((l) => l.expires > now);
  }

  private put(l: Lease): void {
    const old = this.byMac.get(l.mac);
    if (old) this.byIp.delete(ipToInt(old.ip));
    this.byMac.set(l.mac, l);
    this.byIp.set(ipToInt(l.ip), l);
  }

  private drop(l: Lease): void {
    if (this.byMac.get(l.mac) === l) this.byMac.delete(l.mac);
    const n = ipToInt(l.ip);
    if (this.byIp.get(n) === l) this.byIp.delete(n);
  }

  private isFree(n: number, excluded: Set<string>): boolean {
    const l = this.byIp.get(n);
    if (l) {
      if (l.expires > this.now()) return false;
      this.drop(l);
    }
    const d = this.declined.get(n);
    if (d !== undefined) {
      if (d > this.now()) return false;
      this.declined.delete(n);
    }
    return !excluded.has(intToIp(n));
  }

  /** Round-robin from the cursor so a released address is not reused at once. */
  private nextFree(excluded: Set<string>): number | undefined {
    const size = this.last - this.first + 1;
    for (let i = 0; i < size; i++) {
      const n = this.cursor;
      this.cursor = n >= this.last ? this.first : n + 1;
      if (this.isFree(n, excluded)) return n;
    }
    return undefined;
  }

  private journal(e: JournalEntry): void {
    if (!this.opts.file) return;
    this.pending.push(JSON.stringify(e));
    if (this.timer) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.flush();
    }, this.opts.flushDelayMs ?? 200);
  }

  /** Writes pending changes now. Resolves when they are on disk. */
  flush(): Promise<void> {
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
    this.writing = this.writing.then(async () => {
      const file = this.opts.file;
      if (!file) return;
      const lines = this.pending;
      this.pending = [];
      try {
        if (this.needsCompaction || this.journalLines + lines.length > Math.max(10_000, 2 * this.byMac.size)) {
          // Snapshot of the live bound leases replaces the journal atomically.
          const live = this.all()
            .filter((l) => l.state === "bound")
            .map((l) => JSON.stringify({ mac: l.mac, ip: l.ip, expires: l.expires }));
          await writeAtomic(file, [HEADER, ...live, ""].join("\n"));
          this.journalLines = live.length;
          this.needsCompaction = false;
        } else if (lines.length) {
          await appendFile(file, lines.join("\n") + "\n");
          this.journalLines += lines.length;
        }
      } catch (e) {
        // Keep the changes; the next flush rewrites the whole file.
        this.pending = [...lines, ...this.pending];
        this.needsCompaction = true;
        this.opts.onPersistError?.(e as Error);
      }
    });
    return this.writing;
  }
}

async function writeAtomic(file: string, text: string): Promise<void> {
  mkdirSync(dirname(file), { recursive: true });
  await writeFileAtomic(file, text, 0o644);
}
