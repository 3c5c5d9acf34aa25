// The control socket between apply and serve, without a network: the protocol
// codecs (malformed input never throws), and the server and client over a real
// Unix socket with a recording target — owner-only socket, one apply at a time,
// observations streamed, boot modes released when the apply goes away.
import { EventEmitter } from "node:events";
import { linkSync, mkdtempSync, rmSync, statSync } from "node:fs";
import { createServer, connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import fc from "fast-check";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { BootMode } from "../../src/serve/boot-control.js";
import { connectServe, ServeRefused, type ServeSession } from "../../src/serve/control-client.js";
import { controlSocketPath, encodeClient, LineSplitter, parseClientMessage, parseServerMessage, type Hello } from "../../src/serve/control-protocol.js";
import { ControlServer, ControlServerError, type HelloAnswer } from "../../src/serve/control-server.js";
import type { NodeObservation } from "../../src/progress/observation.js";

class Target extends EventEmitter<{ observation: [NodeObservation] }> {
  readonly calls: string[] = [];
  readonly modes = new Map<string, BootMode>();
  setBootMode(node: string, mode: BootMode): void {
    this.calls.push(`${node} ${mode.mode}${mode.mode === "install" ? ` wipe=${mode.allowWipe}` : ""}`);
    this.modes.set(node, mode);
  }
  removeNode(node: string): void {
    this.calls.push(`remove ${node}`);
  }
}

const hello: Omit<Hello, "type" | "protocol"> = {
  pid: 4242,
  cluster: "lab",
  configPath: "/cfg/cluster.yaml",
  configDigest: "sha256:aaaa",
  imageDigests: { compute: "sha256:bbbb" },
  installers: {},
};

let dir: string;
let servers: ControlServer[];
let sessions: ServeSession[];
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "mf-control-"));
  servers = [];
  sessions = [];
});
afterEach(async () => {
  for (const s of sessions) s.close();
  for (const s of servers) await s.stop();
  rmSync(dir, { recursive: true, force: true });
});

async function serve(accept: (h: Hello) => Promise<HelloAnswer> = async () => ({ ok: true, cluster: "lab", configDigest: "sha256:aaaa", reconfigured: false })) {
  const target = new Target();
  const hellos: Hello[] = [];
  const server = new ControlServer({
    path: controlSocketPath(dir),
    target,
    knowsNode: (n) => /^node\d+$/.test(n),
    accept: async (h) => {
      hellos.push(h);
      return accept(h);
    },
  });
  await server.start();
  servers.push(server);
  return { server, target, hellos };
}

async function open(path: string): Promise<ServeSession> {
  const s = await connectServe(path, hello, { timeoutMs: 2000 });
  if (!s) throw new Error("no session");
  sessions.push(s);
  return s;
}

const until = async (f: () => boolean, ms = 2000) => {
  const end = Date.now() + ms;
  while (!f()) {
    if (Date.now() > end) throw new Error("timed out");
    await new Promise((r) => setTimeout(r, 5));
  }
};

describe("control protocol codecs", () => {
  it("round-trips every client message", () => {
    const msgs = [
      { type: "hello", protocol: 1, ...hello },
      { type: "boot", id: 1, node: "node001", bootMode: { mode: "install", reason: "install: new node", allowWipe: true } },
      { type: "boot", id: 2, node: "node001", bootMode: { mode: "local" } },
      { type: "remove", id: 3, node: "node009" },
      { type: "release", id: 4 },
    ] as const;
    for (const m of msgs) expect(parseClientMessage(encodeClient(m).trimEnd())).toEqual({ ok: true, message: m });
  });

  it("refuses malformed messages with a reason, and never throws", () => {
    expect(parseClientMessage("not json")).toMatchObject({ ok: false, error: "not JSON" });
    expect(parseClientMessage('{"type":"boot","id":7,"node":"../etc","mode":"local"}')).toMatchObject({ ok: false, id: 7, error: "boot: bad node name" });
    expect(parseClientMessage('{"type":"boot","id":7,"node":"n1","mode":"install"}')).toMatchObject({ ok: false, error: expect.stringContaining("reason and allowWipe") });
    expect(parseClientMessage('{"type":"hello","protocol":1}')).toMatchObject({ ok: false, error: "hello: malformed" });
    expect(parseServerMessage('{"type":"observation","observation":{"node":"n1","phase":"teleport"}}')).toMatchObject({ ok: false });
    expect(parseServerMessage('{"type":"observation","observation":{"node":"n1","phase":"sync","bytes":-1}}')).toMatchObject({ ok: false });
    fc.assert(
      fc.property(fc.oneof(fc.string(), fc.json()), (s) => {
        parseClientMessage(s);
        parseServerMessage(s);
      }),
    );
  });

  it("splits lines across chunks, keeps split UTF-8 characters whole, and refuses over-long lines", () => {
    const lines: string[] = [];
    let overflow = 0;
    const sp = new LineSplitter(
      (l) => lines.push(l),
      () => overflow++,
      64,
    );
    const bytes = Buffer.from('{"reason":"Grüße → ok"}\n{"b":1}\n');
    for (let i = 0; i < bytes.length; i++) sp.push(bytes.subarray(i, i + 1));
    expect(lines).toEqual(['{"reason":"Grüße → ok"}', '{"b":1}']);
    sp.push("x".repeat(65));
    expect(overflow).toBe(1);
  });
});

describe("control socket", () => {
  it("is owner-only, streams observations, and releases the nodes of an apply that dies", async () => {
    const { server, target, hellos } = await serve();
    const st = statSync(server.path);
    expect(st.isSocket()).toBe(true);
    expect(st.mode & 0o777).toBe(0o600);

    const s = await open(server.path);
    expect(hellos[0]).toMatchObject({ type: "hello", protocol: 1, pid: 4242, cluster: "lab" });
    await s.setBootMode("node001", { mode: "install", reason: "install", allowWipe: false });
    await s.setBootMode("node002", { mode: "install", reason: "reimage", allowWipe: true });
    await s.setBootMode("node002", { mode: "local" });
    await expect(s.setBootMode("other", { mode: "local" })).rejects.toThrow("metalform serve does not know node other");
    await s.removeNode("node009");

    const seen: NodeObservation[] = [];
    s.on("observation", (o) => seen.push(o));
    target.emit("observation", { node: "node001", phase: "sync", bytes: 10, total: 20 });
    await until(() => seen.length === 1);
    expect(seen[0]).toEqual({ node: "node001", phase: "sync", bytes: 10, total: 20 });

    // The apply dies (no release): node001 boots locally again.
    (s as unknown as { socket: { destroy(): void } }).socket.destroy();
    await until(() => target.calls.at(-1) === "node001 local");
    expect(target.calls).toEqual(["node001 install wipe=false", "node002 install wipe=true", "node002 local", "remove node009", "node001 local"]);
  });

  it("serves one apply at a time; release hands the nodes back and frees it", async () => {
    const { server, target } = await serve();
    const first = await open(server.path);
    await first.setBootMode("node003", { mode: "install", reason: "sync", allowWipe: false });
    await expect(connectServe(server.path, { ...hello, pid: 5 })).rejects.toThrow(/another apply \(pid 4242\) is using this metalform serve/);
    await first.release();
    expect(target.modes.get("node003")).toEqual({ mode: "local" });
    const second = await open(server.path);
    await second.setBootMode("node003", { mode: "local" });
  });

  it("passes serve's refusal on to apply", async () => {
    const { server } = await serve(async () => ({ ok: false, message: "this serve runs the configuration /x, the apply uses /y" }));
    const err = await connectServe(server.path, hello).catch((e: Error) => e);
    expect(err).toBeInstanceOf(ServeRefused);
    expect((err as Error).message).toBe("metalform serve refused this apply: this serve runs the configuration /x, the apply uses /y");
  });

  it("no serve: no socket, or one nobody listens on, means apply starts its own services", async () => {
    const path = join(dir, "serve.sock");
    expect(await connectServe(path, hello)).toBeUndefined();
    // A socket file left by a serve that died: a second name for a socket whose server is gone.
    const dead = createServer();
    const live = join(dir, "live.sock");
    await new Promise<void>((r) => dead.listen(live, r));
    linkSync(live, path);
    await new Promise<void>((r) => dead.close(() => r()));
    expect(statSync(path).isSocket()).toBe(true);
    expect(await connectServe(path, hello)).toBeUndefined();
    // serve itself replaces such a leftover.
    const target = new Target();
    const server = new ControlServer({ path, target, knowsNode: () => true, accept: async () => ({ ok: true, cluster: "lab", configDigest: "x", reconfigured: false }) });
    await server.start();
    servers.push(server);
    expect(statSync(path).isSocket()).toBe(true);
  });

  it("a second serve for the same state directory refuses to start", async () => {
    const { server } = await serve();
    const again = new ControlServer({ path: server.path, target: new Target(), knowsNode: () => true, accept: async () => ({ ok: false, message: "-" }) });
    await expect(again.start()).rejects.toBeInstanceOf(ControlServerError);
    // The first still answers.
    await open(server.path);
  });

  it("drops a client that never says hello, and one that sends garbage first", async () => {
    const target = new Target();
    const path = join(dir, "s.sock");
    const server = new ControlServer({
      path,
      target,
      knowsNode: () => true,
      helloTimeoutMs: 100,
      accept: async () => ({ ok: true, cluster: "lab", configDigest: "x", reconfigured: false }),
    });
    await server.start();
    servers.push(server);
    for (const send of [undefined, "garbage\n", '{"type":"boot","id":1,"node":"n1","mode":"local"}\n']) {
      const c = connect(path);
      let got = "";
      c.on("data", (d) => (got += d.toString()));
      if (send) c.write(send);
      await new Promise<void>((r) => c.on("close", () => r()));
      if (send) expect(got).toMatch(/"type":"error"/);
    }
    expect(target.calls).toEqual([]);
  });
});
