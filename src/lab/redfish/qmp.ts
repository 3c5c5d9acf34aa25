// A minimal QMP client (QEMU Machine Protocol, JSON lines over the VM's unix
// socket): read the greeting, negotiate capabilities, run commands one after the
// other, skip the asynchronous events QEMU interleaves. One connection per use:
// QEMU serves one QMP client at a time on a socket.
import { connect } from "node:net";

export class QmpError extends Error {}

/** Runs `commands` in order on the socket at `path`; resolves with each command's "return" value. */
export function qmp(path: string, commands: Array<{ execute: string; arguments?: Record<string, unknown> }>, timeoutMs = 10_000): Promise<unknown[]> {
  return new Promise((resolve, reject) => {
    const sock = connect(path);
    const results: unknown[] = [];
    const queue = [{ execute: "qmp_capabilities" }, ...commands];
    let greeted = false;
    let buffer = "";
    const timer = setTimeout(() => done(new QmpError(`QMP at ${path}: no answer within ${timeoutMs} ms`)), timeoutMs);
    function done(err?: Error) {
      clearTimeout(timer);
      sock.destroy();
      if (err) reject(err);
      else resolve(results.slice(1)); // the capabilities negotiation's empty return
    }
    function sendNext() {
      const c = queue.shift();
      if (!c) return done();
      sock.write(JSON.stringify(c) + "\n");
    }
    function onMessage(m: Record<string, unknown>) {
      if ("QMP" in m && !greeted) {
        greeted = true;
        return sendNext();
      }
      if ("event" in m) return;
      if ("error" in m) {
        const e = m.error as { desc?: string; class?: string };
        return done(new QmpError(`QMP at ${path}: ${e.class ?? "Error"}: ${e.desc ?? "unknown error"}`));
      }
      if ("return" in m) {
        results.push(m.return);
        sendNext();
      }
    }
    sock.setEncoding("utf8");
    sock.on("data", (d: string) => {
      buffer += d;
      let nl: number;
      while ((nl = buffer.indexOf("\n")) >= 0) {
        const line = buffer.slice(0, nl).trim();
        buffer = buffer.slice(nl + 1);
        if (!line) continue;
        try {
          onMessage(JSON.parse(line) as Record<string, unknown>);
        } catch (e) {
          return done(new QmpError(`QMP at ${path}: unreadable answer (${(e as Error).message})`));
        }
      }
    });
    sock.on("error", (e) => done(new QmpError(`QMP at ${path}: ${e.message}`)));
    sock.on("close", () => done(new QmpError(`QMP at ${path}: closed before all commands ran`)));
  });
}
