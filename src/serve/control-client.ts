// apply's side of the control socket: when `metalform serve` runs for this
// cluster, apply hands it the boot configuration instead of starting services
// that would fight it for the ports.
import { existsSync } from "node:fs";
import { EventEmitter } from "node:events";
import { connect, type Socket } from "node:net";
import type { BootControl, BootMode } from "./boot-control.js";
import { CONTROL_PROTOCOL, encodeClient, LineSplitter, parseServerMessage, type ClientMessage, type Hello } from "./control-protocol.js";
import type { NodeObservation } from "../progress/observation.js";

type WithoutId<T> = T extends unknown ? Omit<T, "id"> : never;

/** serve answered, and said no (another configuration, another apply busy, …). */
export class ServeRefused extends Error {}

export interface ServeSessionEvents {
  observation: [NodeObservation];
  /** The connection ended; `unexpected` when it was not closed by this side. */
  close: [{ unexpected: boolean }];
}

export class ServeSession extends EventEmitter<ServeSessionEvents> implements BootControl {
  private nextId = 1;
  private readonly pending = new Map<number, { resolve: () => void; reject: (e: Error) => void }>();
  private closing = false;
  private closed = false;

  constructor(
    private readonly socket: Socket,
    readonly servePid: number,
    readonly reconfigured: boolean,
  ) {
    super();
    // Many nodes may wait on observations at once.
    this.setMaxListeners(0);
  }

  /** Called by connectServe once the welcome arrived. */
  _message(line: string): void {
    const p = parseServerMessage(line);
    if (!p.ok) return;
    const m = p.message;
    if (m.type === "observation") {
      this.emit("observation", m.observation);
    } else if ((m.type === "ok" || m.type === "error") && m.id !== undefined) {
      const w = this.pending.get(m.id);
      if (!w) return;
      this.pending.delete(m.id);
      if (m.type === "ok") w.resolve();
      else w.reject(new Error(`metalform serve: ${m.message}`));
    }
  }

  _closed(): void {
    if (this.closed) return;
    this.closed = true;
    for (const w of this.pending.values()) w.reject(new Error("metalform serve went away"));
    this.pending.clear();
    this.emit("close", { unexpected: !this.closing });
  }

  private request(m: WithoutId<Extract<ClientMessage, { id: number }>>): Promise<void> {
    if (this.closed) return Promise.reject(new Error("metalform serve went away"));
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.socket.write(encodeClient({ ...m, id }));
    });
  }

  setBootMode(node: string, bootMode: BootMode): Promise<void> {
    return this.request({ type: "boot", node, bootMode });
  }

  removeNode(node: string): Promise<void> {
    return this.request({ type: "remove", node });
  }

  /** Every node this session set boots locally again; then the connection ends. */
  async release(): Promise<void> {
    try {
      if (!this.closed) await this.request({ type: "release" });
    } finally {
      this.close();
    }
  }

  close(): void {
    this.closing = true;
    this.socket.end();
    setTimeout(() => this.socket.destroy(), 1000).unref();
  }
}

export interface ConnectOptions {
  /** How long serve has to answer the hello (it may reload its configuration); default 30 s. */
  timeoutMs?: number;
}

/**
 * Opens a session with the `metalform serve` listening at `path`. Resolves
 * undefined when nobody listens there (no socket, or one left by a serve that
 * died); rejects with ServeRefused when serve answered no, and with an Error when
 * it accepted the connection but never answered.
 */
export function connectServe(path: string, hello: Omit<Hello, "type" | "protocol">, opts: ConnectOptions = {}): Promise<ServeSession | undefined> {
  if (!existsSync(path)) return Promise.resolve(undefined);
  return new Promise((resolve, reject) => {
    const socket = connect(path);
    let session: ServeSession | undefined;
    let settled = false;
    const settle = (f: () => void) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      f();
    };
    const timer = setTimeout(() => {
      settle(() => reject(new Error(`metalform serve at ${path} accepted the connection but did not answer within ${Math.round((opts.timeoutMs ?? 30_000) / 1000)} s`)));
      socket.destroy();
    }, opts.timeoutMs ?? 30_000);
    const lines = new LineSplitter(
      (line) => {
        if (session) return session._message(line);
        const p = parseServerMessage(line);
        if (p.ok && p.message.type === "welcome") {
          session = new ServeSession(socket, p.message.pid, p.message.reconfigured);
          const s = session;
          settle(() => resolve(s));
        } else if (p.ok && p.message.type === "error") {
          const message = p.message.message;
          settle(() => reject(new ServeRefused(`metalform serve refused this apply: ${message}`)));
          socket.destroy();
        } else {
          settle(() => reject(new Error(`metalform serve at ${path} answered something unexpected: ${p.ok ? p.message.type : p.error}`)));
          socket.destroy();
        }
      },
      () => {
        settle(() => reject(new Error(`metalform serve at ${path} sent an over-long message`)));
        socket.destroy();
      },
    );
    socket.on("connect", () => socket.write(encodeClient({ type: "hello", protocol: CONTROL_PROTOCOL, ...hello })));
    socket.on("data", (d: Buffer) => lines.push(d));
    socket.on("error", (e: NodeJS.ErrnoException) => {
      // Nobody listens: a socket file left by a serve that died, or not a socket at all.
      if (!session && ["ECONNREFUSED", "ENOENT", "ENOTSOCK", "ECONNRESET"].includes(e.code ?? "")) settle(() => resolve(undefined));
      else settle(() => reject(new Error(`metalform serve at ${path}: ${e.message}`)));
    });
    socket.on("close", () => {
      session?._closed();
      settle(() => reject(new Error(`metalform serve at ${path} closed the connection without answering`)));
    });
  });
}
