// serve's side of the control socket: accepts one apply at a time, checks that it
// applies the configuration serve runs (serve reloads it first when it changed),
// sets boot modes on its behalf, streams node observations back, and puts every
// node the session touched back on local boot when the session ends — whether
// apply released it or died.
import { existsSync } from "node:fs";
import { chmod, unlink } from "node:fs/promises";
import { connect, createServer, type Server, type Socket } from "node:net";
import { nullLogger, type Logger } from "../util/log.js";
import type { BootControl } from "./boot-control.js";
import { CONTROL_PROTOCOL, encodeServer, LineSplitter, parseClientMessage, type Hello, type ServerMessage } from "./control-protocol.js";
import type { NodeObservation } from "../progress/observation.js";

export type HelloAnswer = { ok: true; cluster: string; configDigest: string; reconfigured: boolean } | { ok: false; message: string };

export interface ControlServerOptions {
  /** The socket's path (controlSocketPath). */
  path: string;
  target: BootControl;
  /** Checks a client's hello; may reload the configuration and reconfigure the services. */
  accept: (hello: Hello) => Promise<HelloAnswer>;
  /** Whether the services know this node (boot modes are refused for others). */
  knowsNode: (node: string) => boolean;
  /** How long a client has to say hello; default 5 s. */
  helloTimeoutMs?: number;
  logger?: Logger;
}

interface Session {
  socket: Socket;
  pid?: number;
  ready: boolean;
  /** Nodes this session set to install: they go back to local boot when it ends. */
  nodes: Set<string>;
  /** Messages are handled one after the other. */
  queue: Promise<void>;
  ended: boolean;
  helloTimer?: NodeJS.Timeout;
}

export class ControlServerError extends Error {}

export class ControlServer {
  private server?: Server;
  private active?: Session;
  private readonly sessions = new Set<Session>();
  private readonly log: Logger;
  private readonly forward = (o: NodeObservation) => {
    const s = this.active;
    if (s?.ready && !s.ended) this.send(s, { type: "observation", observation: o });
  };

  constructor(private readonly o: ControlServerOptions) {
    this.log = o.logger ?? nullLogger;
  }

  get path(): string {
    return this.o.path;
  }

  async start(): Promise<void> {
    if (existsSync(this.o.path)) {
      if (await answers(this.o.path)) {
        throw new ControlServerError(`another metalform serve already listens on ${this.o.path}: stop it first (two would fight for the ports)`);
      }
      // Left by a serve that died: nobody listens.
      await unlink(this.o.path).catch(() => undefined);
    }
    const server = createServer((socket) => this.onConnection(socket));
    // Created owner-only from the start: there is no moment where others could connect.
    const oldMask = process.umask(0o177);
    try {
      await new Promise<void>((resolve, reject) => {
        server.once("error", reject);
        server.listen(this.o.path, () => {
          server.off("error", reject);
          resolve();
        });
      });
    } finally {
      process.umask(oldMask);
    }
    await chmod(this.o.path, 0o600);
    server.on("error", (e) => this.log.error("control-socket", { error: e.message }));
    this.server = server;
    this.o.target.on("observation", this.forward);
    this.log.info("control-listening", { path: this.o.path });
  }

  async stop(): Promise<void> {
    const server = this.server;
    if (!server) return;
    this.server = undefined;
    this.o.target.off("observation", this.forward);
    for (const s of [...this.sessions]) await this.end(s, "serve is stopping");
    await new Promise<void>((resolve) => server.close(() => resolve()));
    await unlink(this.o.path).catch(() => undefined);
  }

  private onConnection(socket: Socket): void {
    const s: Session = { socket, ready: false, nodes: new Set(), queue: Promise.resolve(), ended: false };
    this.sessions.add(s);
    s.helloTimer = setTimeout(() => void this.end(s, "no hello"), this.o.helloTimeoutMs ?? 5000);
    const lines = new LineSplitter(
      (line) => void this.enqueue(s, () => this.onLine(s, line)),
      () => {
        this.send(s, { type: "error", message: "message too long" });
        void this.end(s, "message too long");
      },
    );
    socket.on("data", (d: Buffer) => lines.push(d));
    socket.on("error", () => undefined);
    socket.on("close", () => void this.end(s, "connection closed"));
  }

  /** Messages of one session are handled in order, one at a time. */
  private enqueue(s: Session, f: () => Promise<void>): Promise<void> {
    s.queue = s.queue.then(f).catch((e: Error) => {
      this.log.error("control-message", { error: e.message });
    });
    return s.queue;
  }

  /** Ends a session from outside its message queue (after the message being handled). */
  private end(s: Session, why: string): Promise<void> {
    return this.enqueue(s, () => this.finish(s, why));
  }

  private send(s: Session, m: ServerMessage): void {
    if (!s.ended && !s.socket.destroyed) s.socket.write(encodeServer(m));
  }

  private async onLine(s: Session, line: string): Promise<void> {
    if (s.ended) return;
    const p = parseClientMessage(line);
    if (!p.ok) {
      this.send(s, { type: "error", message: p.error, ...(p.id !== undefined ? { id: p.id } : {}) });
      // Before the hello nothing else is accepted.
      if (!s.ready) await this.finish(s, p.error);
      return;
    }
    const m = p.message;
    if (!s.ready) {
      if (m.type !== "hello") {
        this.send(s, { type: "error", message: "say hello first" });
        return this.finish(s, "no hello");
      }
      return this.hello(s, m);
    }
    switch (m.type) {
      case "hello":
        this.send(s, { type: "error", message: "hello was already said" });
        return;
      case "boot":
        if (!this.o.knowsNode(m.node)) {
          this.send(s, { type: "error", id: m.id, message: `metalform serve does not know node ${m.node}` });
          return;
        }
        await this.o.target.setBootMode(m.node, m.bootMode);
        if (m.bootMode.mode === "install") s.nodes.add(m.node);
        else s.nodes.delete(m.node);
        this.log.info("control-boot-mode", { node: m.node, mode: m.bootMode.mode, apply: s.pid });
        this.send(s, { type: "ok", id: m.id });
        return;
      case "remove":
        await this.o.target.removeNode(m.node);
        s.nodes.delete(m.node);
        this.log.info("control-remove", { node: m.node, apply: s.pid });
        this.send(s, { type: "ok", id: m.id });
        return;
      case "release":
        await this.releaseNodes(s);
        this.send(s, { type: "ok", id: m.id });
        return;
    }
  }

  private async hello(s: Session, h: Hello): Promise<void> {
    if (h.protocol !== CONTROL_PROTOCOL) {
      this.send(s, {
        type: "error",
        message: `control protocol ${h.protocol} is not spoken here (serve speaks ${CONTROL_PROTOCOL}); use the same metalform version for serve and apply`,
      });
      return this.finish(s, "protocol");
    }
    const busy = this.active;
    if (busy && busy !== s && !busy.ended) {
      this.send(s, { type: "error", message: `another apply (pid ${busy.pid ?? "?"}) is using this metalform serve` });
      return this.finish(s, "busy");
    }
    clearTimeout(s.helloTimer);
    this.active = s;
    s.pid = h.pid;
    let answer: HelloAnswer;
    try {
      answer = await this.o.accept(h);
    } catch (e) {
      answer = { ok: false, message: (e as Error).message };
    }
    if (!answer.ok) {
      this.send(s, { type: "error", message: answer.message });
      return this.finish(s, "refused");
    }
    s.ready = true;
    this.log.info("control-session", { apply: h.pid, reconfigured: answer.reconfigured });
    this.send(s, { type: "welcome", protocol: CONTROL_PROTOCOL, pid: process.pid, cluster: answer.cluster, configDigest: answer.configDigest, reconfigured: answer.reconfigured });
  }

  private async releaseNodes(s: Session): Promise<void> {
    for (const n of [...s.nodes]) {
      try {
        await this.o.target.setBootMode(n, { mode: "local" });
      } catch (e) {
        this.log.warn("release-failed", { node: n, error: (e as Error).message });
      }
    }
    if (s.nodes.size) this.log.info("control-released", { nodes: [...s.nodes], apply: s.pid });
    s.nodes.clear();
  }

  /** Ends a session: its nodes boot locally again. Only from within its queue. */
  private async finish(s: Session, why: string): Promise<void> {
    if (s.ended) return;
    s.ended = true;
    clearTimeout(s.helloTimer);
    this.sessions.delete(s);
    if (this.active === s) this.active = undefined;
    await this.releaseNodes(s);
    if (s.ready) this.log.info("control-session-ended", { apply: s.pid, why });
    s.socket.end();
    setTimeout(() => s.socket.destroy(), 1000).unref();
  }
}

/** Whether something accepts connections on the socket at `path` (within a second). */
export function answers(path: string, timeoutMs = 1000): Promise<boolean> {
  return new Promise((resolve) => {
    const c = connect(path);
    const done = (v: boolean) => {
      clearTimeout(t);
      c.destroy();
      resolve(v);
    };
    const t = setTimeout(() => done(false), timeoutMs);
    c.once("connect", () => done(true));
    c.once("error", () => done(false));
  });
}
