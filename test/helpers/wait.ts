// Waiting in tests: poll a condition until it holds, with a generous deadline and a
// message that says what was awaited (a bare "timeout" on a loaded CI machine tells
// nobody anything), and a plain sleep for the few places that must let time pass.
import { setTimeout as delay } from "node:timers/promises";

/** Resolves after `ms` milliseconds. */
export const sleep = (ms: number): Promise<void> => delay(ms);

/**
 * Polls `fn` (sync or async) until it returns a truthy value, which it resolves to;
 * rejects after `timeoutMs`, naming `what`.
 */
export async function waitFor<T>(what: string, fn: () => T | undefined | false | Promise<T | undefined | false>, timeoutMs: number, intervalMs = 50): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await delay(intervalMs);
  }
}
