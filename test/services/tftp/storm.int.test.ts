// A boot storm at the request port: 1,000 clients in another namespace send their RRQ
// at the same moment (bench/tftp/storm.mjs). With the request socket's receive buffer
// forced to 4 MiB (the default) every RRQ is answered on the first try; the control, a
// server left with the kernel's default buffer, loses some (which shows the storm is
// big enough to tell the two apart).

import { afterAll, beforeAll, describe, expect, it } from "vitest";
import fs from "node:fs";
import { fileURLToPath } from "node:url";
import { makeRoot, requireTool, run, type Root } from "./fixtures.js";
import { buildServerBundle, createPair, requireNativeAddon, startChildServer, tempDir, type ChildServer, type NetnsPair } from "./netns.js";

const storm = fileURLToPath(new URL("../../../bench/tftp/storm.mjs", import.meta.url));
const CLIENTS = 1000;
let pair: NetnsPair | undefined;
let root: Root;
let bundle: string;
const servers: ChildServer[] = [];
const PORT = 6969;
const PORT_DEFAULT_BUFFER = 6970;

interface StormResult {
  count: number;
  firstTry: number;
  retried: number;
  failed: number;
}

beforeAll(async () => {
  requireNativeAddon();
  requireTool("ip", "iproute2");
  root = makeRoot({ "tiny.bin": 100 });
  fs.chmodSync(root.base, 0o755);
  fs.chmodSync(root.dir, 0o755);
  bundle = tempDir("storm-bundle");
  const runner = buildServerBundle(bundle);
  pair = createPair();
  servers.push(await startChildServer(pair.server, runner, { address: pair.serverIp, port: PORT, root: root.dir, maxTransfers: 2000 }));
  servers.push(await startChildServer(pair.server, runner, { address: pair.serverIp, port: PORT_DEFAULT_BUFFER, root: root.dir, maxTransfers: 2000, requestBufferBytes: 0 }));
});

afterAll(async () => {
  for (const s of servers) await s.stop();
  pair?.destroy();
  root?.cleanup();
  if (bundle) fs.rmSync(bundle, { recursive: true, force: true });
});

async function runStorm(port: number, waitMs: number): Promise<StormResult> {
  const r = await run("ip", ["netns", "exec", pair!.client, process.execPath, storm, pair!.serverIp, String(port), "tiny.bin", String(CLIENTS), String(waitMs), "5"], 60_000);
  const line = r.out.split("\n").find((l) => l.startsWith("{"));
  if (!line) throw new Error(`storm printed no result: ${r.out}`);
  return JSON.parse(line) as StormResult;
}

describe(`${CLIENTS} simultaneous RRQs`, () => {
  it("are all answered on the first try with the 4 MiB request buffer", async () => {
    const r = await runStorm(PORT, 3000);
    expect(r).toMatchObject({ count: CLIENTS, firstTry: CLIENTS, retried: 0, failed: 0 });
    // The server reports each completion when the client's ACK arrives, possibly after the storm client exited.
    const events = servers[0]!.events;
    for (let i = 0; i < 100 && events.length < CLIENTS; i++) await new Promise((res) => setTimeout(res, 50));
    expect(events.filter((e) => e.event === "complete").length).toBe(CLIENTS);
  }, 60_000);

  it("control: with the kernel's default buffer some RRQs are lost and need a retry", async () => {
    const r = await runStorm(PORT_DEFAULT_BUFFER, 1000);
    expect(r.failed).toBe(0);
    expect(r.retried).toBeGreaterThan(0);
    expect(r.firstTry + r.retried).toBe(CLIENTS);
  }, 60_000);
});
