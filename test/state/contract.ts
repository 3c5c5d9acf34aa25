// What every state backend must do, run against each (local file, PostgreSQL): the
// same calls, the same refusals, the same error codes.
import { hostname } from "node:os";
import { afterAll, describe, expect, it } from "vitest";
import { newState, serializeState } from "../../src/state/codec.js";
import { StateError } from "../../src/state/errors.js";
import type { ImportableStore } from "../../src/state/store.js";

export interface ContractCase {
  /** A new store instance on this case's location (several may share it). */
  make(): ImportableStore;
  /** Replaces the text of the latest stored state (to simulate damage or a newer writer). */
  tamper(text: string): Promise<void>;
  /** The text of the latest stored state, to check that a refusal changed nothing. */
  raw(): Promise<string | undefined>;
}

export interface ContractBackend {
  fresh(): ContractCase;
}

export async function errorOf(p: Promise<unknown>): Promise<StateError> {
  try {
    await p;
  } catch (e) {
    expect(e).toBeInstanceOf(StateError);
    return e as StateError;
  }
  throw new Error("expected a StateError");
}

export function stateStoreContract(label: string, backend: () => ContractBackend): void {
  describe(`state store contract: ${label}`, () => {
    const opened: ImportableStore[] = [];
    const open = (c: ContractCase) => {
      const s = c.make();
      opened.push(s);
      return s;
    };
    afterAll(async () => {
      for (const s of opened) await s.close?.();
    });

    it("has no state before the first write", async () => {
      expect(await open(backend().fresh()).read()).toBeUndefined();
    });

    it("writes under the lock, increments the serial and keeps the lineage", async () => {
      const c = backend().fresh();
      const s = open(c);
      const lock = await s.lock({ operation: "test" }, 0);
      const st = newState("lab");
      const w1 = await s.write(st, 0);
      expect(w1.serial).toBe(1);
      w1.nodes.node001 = { reported: { phase: "up", time: "2026-11-24T20:00:00Z" } };
      const w2 = await s.write(w1, 1);
      expect(w2.serial).toBe(2);
      await lock.release();
      const other = open(c); // another instance sees it
      const got = (await other.read())!;
      expect(got.serial).toBe(2);
      expect(got.lineage).toBe(st.lineage);
      expect(got.nodes.node001!.reported!.phase).toBe("up");
      expect(await other.lockHolder()).toBeUndefined();
    });

    it("refuses to write without the lock", async () => {
      const c = backend().fresh();
      const e = await errorOf(open(c).write(newState(), 0));
      expect(e.code).toBe("not-locked");
      expect(await c.raw()).toBeUndefined();
    });

    it("refuses a write whose expected serial or lineage is not the stored one", async () => {
      const c = backend().fresh();
      const s = open(c);
      const lock = await s.lock({ operation: "test" }, 0);
      const w = await s.write(newState(), 0);
      const before = await c.raw();
      const e1 = await errorOf(s.write(w, 0));
      expect(e1.code).toBe("conflict");
      expect(e1.message).toContain("serial is 1, expected 0");
      const e2 = await errorOf(s.write(newState(), 1));
      expect(e2.code).toBe("conflict");
      expect(e2.message).toContain("different state");
      expect(await c.raw()).toBe(before);
      expect((await s.read())!.serial).toBe(1);
      await lock.release();
    });

    it("refuses a state written by a newer metalform, for reading and writing, and leaves it as it is", async () => {
      const c = backend().fresh();
      const s = open(c);
      const lock = await s.lock({ operation: "test" }, 0);
      const w = await s.write(newState(), 0);
      const newer = serializeState({ ...w, formatVersion: 99, metalformVersion: "9.0.0" });
      await c.tamper(newer);
      const e = await errorOf(s.read());
      expect(e.code).toBe("newer-format");
      expect(e.message).toContain("by metalform 9.0.0 in format 99");
      expect(e.message).toContain("Upgrade metalform");
      expect((await errorOf(s.write(w, 1))).code).toBe("newer-format");
      expect(await c.raw()).toBe(newer);
      await lock.release();
    });

    it("refuses a corrupt state and leaves it as it is", async () => {
      const c = backend().fresh();
      const s = open(c);
      const lock = await s.lock({ operation: "test" }, 0);
      const w = await s.write(newState(), 0);
      const text = serializeState(w);
      const broken = text.slice(0, text.length >> 1);
      await c.tamper(broken);
      const e = await errorOf(s.read());
      expect(e.code).toBe("corrupt");
      expect(e.message).toContain("not valid JSON");
      expect((await errorOf(s.write(w, 1))).code).toBe("corrupt");
      expect(await c.raw()).toBe(broken);
      await lock.release();
    });

    it("a second writer is refused naming the holder; unlock needs the right ID and takes the lock away", async () => {
      const c = backend().fresh();
      const a = open(c);
      const b = open(c);
      const lock = await a.lock({ operation: "apply", owner: "alice@head" }, 0);
      const t0 = Date.now();
      const e = await errorOf(b.lock({ operation: "state rm" }, 300));
      expect(Date.now() - t0).toBeGreaterThanOrEqual(250);
      expect(e.code).toBe("lock-held");
      expect(e.message).toContain(`locked by alice@head (pid ${process.pid} on ${hostname()})`);
      expect(e.message).toContain(`for "apply", lock ID ${lock.info.id}`);
      expect(e.message).toContain(`metalform state unlock ${lock.info.id}`);
      const holder = (await b.lockHolder())!;
      expect(holder.id).toBe(lock.info.id);
      expect(holder.operation).toBe("apply");
      expect(holder.stale).toBeUndefined();
      expect((await errorOf(b.unlock("not-the-id"))).code).toBe("lock-mismatch");
      expect((await b.lockHolder())!.id).toBe(lock.info.id);
      await b.unlock(lock.info.id);
      expect(await b.lockHolder()).toBeUndefined();
      expect((await errorOf(a.write(newState(), 0))).code).toBe("not-locked");
      expect((await errorOf(b.unlock(lock.info.id))).code).toBe("not-locked");
      await lock.release(); // harmless after the unlock
      const again = await b.lock({ operation: "after unlock" }, 2000);
      await b.write(newState(), 0);
      await again.release();
    });

    it("waits up to the lock timeout for the holder to let go", async () => {
      const c = backend().fresh();
      const a = open(c);
      const b = open(c);
      const lock = await a.lock({ operation: "apply" }, 0);
      setTimeout(() => void lock.release(), 200);
      const got = await b.lock({ operation: "state rm" }, 5000);
      expect(got.info.operation).toBe("state rm");
      expect((await a.lockHolder())!.id).toBe(got.info.id);
      await got.release();
    });

    it("imports a state as it is (lineage and serial) only into an empty or older state of the same lineage", async () => {
      const c = backend().fresh();
      const s = open(c);
      const src = { ...newState("lab"), serial: 7 };
      expect((await errorOf(s.importState(src))).code).toBe("not-locked");
      const lock = await s.lock({ operation: "state migrate" }, 0);
      const imported = await s.importState(src);
      expect(imported.serial).toBe(7);
      expect((await s.read())!.lineage).toBe(src.lineage);
      expect((await errorOf(s.importState(src))).message).toContain("not behind serial 7");
      expect((await errorOf(s.importState({ ...newState(), serial: 9 }))).message).toContain("already holds another state");
      await s.importState({ ...src, serial: 8 });
      const w = await s.write((await s.read())!, 8);
      expect(w.serial).toBe(9);
      await lock.release();
    });
  });
}
