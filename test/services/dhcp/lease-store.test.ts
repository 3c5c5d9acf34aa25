import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { LeaseStore } from "../../../src/services/dhcp/lease-store.js";
import { readLeaseFile } from "./helpers/lease-file.js";

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function store(opts: { file?: string; now?: () => number; excluded?: string[] } = {}): LeaseStore {
  return new LeaseStore({
    start: "10.0.0.10",
    end: "10.0.0.12",
    excluded: () => new Set(opts.excluded ?? []),
    offerHoldMs: 1000,
    declineHoldMs: 5000,
    flushDelayMs: 10,
    ...(opts.file ? { file: opts.file } : {}),
    ...(opts.now ? { now: opts.now } : {}),
  });
}

describe("LeaseStore", () => {
  it("offers distinct addresses, skips excluded ones and reports exhaustion", () => {
    const s = store({ excluded: ["10.0.0.11"] });
    expect(s.offer("aa", undefined)).toBe("10.0.0.10");
    expect(s.offer("bb", undefined)).toBe("10.0.0.12");
    expect(s.offer("cc", undefined)).toBeUndefined();
    // The same client gets the same offer again.
    expect(s.offer("aa", undefined)).toBe("10.0.0.10");
  });

  it("honours a requested address when free, and binds only free or own addresses", () => {
    const s = store();
    expect(s.offer("aa", "10.0.0.12")).toBe("10.0.0.12");
    expect(s.bind("bb", "10.0.0.12", 60)).toBe(false);
    expect(s.bind("aa", "10.0.0.12", 60)).toBe(true);
    expect(s.bind("aa", "10.0.0.99", 60)).toBe(false);
    expect(s.holder("10.0.0.12")).toBe("aa");
  });

  it("expires offers and leases", () => {
    let now = 1_000_000;
    const s = store({ now: () => now });
    expect(s.offer("aa", undefined)).toBe("10.0.0.10");
    now += 1001;
    expect(s.get("aa")).toBeUndefined();
    expect(s.bind("bb", "10.0.0.10", 10)).toBe(true);
    now += 9_000;
    expect(s.holder("10.0.0.10")).toBe("bb");
    now += 1_001;
    expect(s.holder("10.0.0.10")).toBeUndefined();
    expect(s.all()).toEqual([]);
  });

  it("parks a declined address for the hold time", () => {
    let now = 0;
    const s = store({ now: () => now });
    s.bind("aa", "10.0.0.10", 60);
    s.decline("aa", "10.0.0.10");
    expect(s.get("aa")).toBeUndefined();
    expect(s.bind("bb", "10.0.0.10", 60)).toBe(false);
    now += 5001;
    expect(s.bind("bb", "10.0.0.10", 60)).toBe(true);
  });

  it("persists bound leases atomically and loads them back, dropping expired ones", async () => {
    const dir = mkdtempSync(join(tmpdir(), "mfdh-leases-"));
    dirs.push(dir);
    const file = join(dir, "sub", "leases.json");
    let now = 1_000_000;
    const a = store({ file, now: () => now });
    a.bind("aa", "10.0.0.10", 100);
    a.bind("bb", "10.0.0.11", 5);
    a.offer("cc", undefined); // offers are not persisted
    await a.flush();
    expect([...readLeaseFile(file).keys()].sort()).toEqual(["aa", "bb"]);
    now += 6_000;
    const b = store({ file, now: () => now });
    b.load();
    expect(b.get("aa")?.ip).toBe("10.0.0.10");
    expect(b.get("bb")).toBeUndefined();
    expect(b.get("cc")).toBeUndefined();
    // The first flush after a load compacts: only live leases remain, atomically replaced.
    await b.flush();
    expect(readFileSync(file, "utf8").trim().split("\n")).toHaveLength(2);
    // A release is appended to the journal and ends the lease.
    b.release("aa", "10.0.0.10");
    await b.flush();
    expect(readLeaseFile(file).size).toBe(0);
    expect(readFileSync(file, "utf8").trim().split("\n")).toHaveLength(3);
    // A torn last line (crash mid-append) is skipped on replay.
    b.bind("cc", "10.0.0.12", 100);
    await b.flush();
    writeFileSync(file, readFileSync(file, "utf8") + '{"mac":"dd","ip":"10.0');
    const c = store({ file, now: () => now });
    c.load();
    expect(c.get("cc")?.ip).toBe("10.0.0.12");
    expect(c.get("aa")).toBeUndefined();
    expect(c.get("dd")).toBeUndefined();
  });

  it("refuses a file that is not a lease file", () => {
    const dir = mkdtempSync(join(tmpdir(), "mfdh-leases-"));
    dirs.push(dir);
    const file = join(dir, "leases.json");
    writeFileSync(file, JSON.stringify({ hello: 1 }));
    expect(() => store({ file }).load()).toThrow(/not a metalform lease file/);
  });
});
