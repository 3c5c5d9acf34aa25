// The lab's Redfish BMCs on the wire: one HTTPS server per node, each on that node's
// BMC address (as real BMCs are one per node: a per-node address, certificate
// check and credentials are what metalform's driver must handle in a rack), all in
// one process inside the lab's namespace. Each request is logged as one line
// (method, path, status, time; never a body: a login body holds the password).
import { randomUUID } from "node:crypto";
import { readFileSync } from "node:fs";
import { createServer, type Server } from "node:https";
import type { IncomingMessage, ServerResponse } from "node:http";
import { LabMachine, type LabVm } from "./machine.js";
import { errorBody, type BootMode } from "./resources.js";
import { RedfishBmcService, type Machine } from "./service.js";

export interface EmulatorBmc {
  node: string;
  address: string;
  mac: string;
  /** Boot modes of the VM's firmware; default ["Legacy"] (SeaBIOS). */
  modes?: BootMode[];
  vm: LabVm;
}

/** What `metalform lab up --bmc redfish` writes for the emulator (redfish.json, 0600). */
export interface EmulatorConfig {
  cert: string;
  key: string;
  port: number;
  user: string;
  /** First line: the password (the lab's shared BMC password file). */
  passwordFile: string;
  bmcs: EmulatorBmc[];
}

export interface RunningEmulator {
  servers: Server[];
  close(): Promise<void>;
}

const MAX_BODY = 64 * 1024;

export type RequestLog = (line: string) => void;

/** Starts one server per BMC; `machineFor` lets tests put another machine behind a BMC. */
export async function startEmulator(c: EmulatorConfig, opts: { log?: RequestLog; machineFor?: (b: EmulatorBmc) => Machine } = {}): Promise<RunningEmulator> {
  const password = readFileSync(c.passwordFile, "utf8").split("\n")[0]!;
  const tls = { cert: readFileSync(c.cert), key: readFileSync(c.key) };
  const log = opts.log ?? ((l: string) => process.stdout.write(l + "\n"));
  const servers: Server[] = [];
  try {
    for (const b of c.bmcs) {
      const machine = opts.machineFor ? opts.machineFor(b) : new LabMachine(b.vm);
      const service = new RedfishBmcService({ id: b.node, uuid: randomUUID(), mac: b.mac, modes: b.modes ?? ["Legacy"] }, { user: c.user, password }, machine);
      const server = createServer(tls, (req, res) => void serve(service, req, res, { bmc: b.address, log }));
      // A client that never finishes its handshake or request must not hold a socket forever.
      server.headersTimeout = 20_000;
      server.requestTimeout = 60_000;
      server.on("tlsClientError", () => {});
      await new Promise<void>((resolve, reject) => {
        server.once("error", reject);
        server.listen(c.port, b.address, () => resolve());
      });
      servers.push(server);
      log(`${new Date().toISOString()} listening https://${b.address}:${c.port}/redfish/v1/ node=${b.node}`);
    }
  } catch (e) {
    for (const s of servers) s.close();
    throw e;
  }
  return {
    servers,
    close: () =>
      Promise.all(
        servers.map(
          (s) =>
            new Promise<void>((r) => {
              s.close(() => r());
              s.closeAllConnections();
            }),
        ),
      ).then(() => undefined),
  };
}

async function serve(service: RedfishBmcService, req: IncomingMessage, res: ServerResponse, at: { bmc: string; log: RequestLog }): Promise<void> {
  const started = Date.now();
  let status = 500;
  try {
    const body = await readBody(req);
    const a =
      body === undefined
        ? { status: 413, headers: {}, body: errorBody("GeneralError", `The request body is larger than ${MAX_BODY} bytes.`) }
        : await service.handle({ method: req.method ?? "GET", url: req.url ?? "/", headers: req.headers, body });
    status = a.status;
    const payload = a.body === undefined ? undefined : JSON.stringify(a.body);
    res.writeHead(a.status, { "OData-Version": "4.0", "Cache-Control": "no-store", ...(payload ? { "Content-Type": "application/json; charset=utf-8" } : {}), ...a.headers });
    res.end(payload);
  } catch (e) {
    // The machine failed (the VM would not start, QMP did not answer): say so, stay up.
    if (!res.headersSent) res.writeHead(500, { "Content-Type": "application/json; charset=utf-8", "OData-Version": "4.0" });
    res.end(JSON.stringify(errorBody("InternalError", `The request failed due to an internal service error: ${(e as Error).message}`)));
  } finally {
    at.log(`${new Date().toISOString()} ${at.bmc} ${req.method} ${req.url} ${status} ${Date.now() - started}ms`);
  }
}

/** The body as text, or undefined when it is too large. */
function readBody(req: IncomingMessage): Promise<string | undefined> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on("data", (c: Buffer) => {
      size += c.length;
      if (size <= MAX_BODY) chunks.push(c);
    });
    req.on("end", () => resolve(size > MAX_BODY ? undefined : Buffer.concat(chunks).toString("utf8")));
    req.on("error", reject);
  });
}
