// A Redfish lab's BMCs: the certificate, the emulator's configuration (the VMs'
// control scripts, boot files and QMP sockets) and the emulator process itself,
// started detached inside the namespace like ipmi_sim is for an IPMI lab. Also
// `labRedfish`: one request to a node's BMC with curl from inside the namespace
// (lab up powers nodes on with it; lab status reads their PowerState).
import { existsSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { inNamespace, runCommand, startDaemon, waitFor, type RunResult } from "../run.js";
import type { LabInfo, LabNode, LabRedfish } from "../state.js";
import { makeBmcCertificate } from "./cert.js";
import { resetTarget, systemPath } from "./resources.js";
import type { EmulatorConfig } from "./server.js";

/** The emulator's entry point, built (`npm run build`): the same path from src/lab/redfish and dist/lab/redfish. */
export const EMULATOR_MAIN = fileURLToPath(new URL("../../../dist/lab/redfish/main.js", import.meta.url));

/** The node's VM files the emulator drives (written by lab.ts's startLabNode). */
export function vmFiles(n: LabNode): EmulatorConfig["bmcs"][number]["vm"] {
  return { controlScript: join(n.dir, "bmc-control.sh"), bootFile: join(n.dir, "boot-device"), qmpSocket: n.qmpSocket, firmware: isUefi(n) ? "uefi" : "bios" };
}

function isUefi(n: LabNode): boolean {
  return n.firmware !== undefined && n.firmware !== "bios";
}

/** Makes the certificate, writes redfish.json and starts the emulator; resolves once every BMC answers. */
export async function startRedfishBmcs(info: LabInfo, opts: { port: number; user: string }): Promise<LabRedfish> {
  if (!existsSync(EMULATOR_MAIN)) throw new Error(`${EMULATOR_MAIN} is missing: run \`npm run build\` (the Redfish emulator runs from dist/)`);
  const cert = await makeBmcCertificate({
    cert: join(info.dir, "redfish-cert.pem"),
    key: join(info.dir, "redfish-key.pem"),
    addresses: info.nodes.map((n) => n.bmcAddress),
    name: `metalform lab ${info.namespace} BMCs`,
  });
  const config: EmulatorConfig = {
    cert: cert.cert,
    key: cert.key,
    port: opts.port,
    user: opts.user,
    passwordFile: info.bmcPasswordFile,
    // The override's mode must be the VM's firmware: OVMF boots UEFI only, SeaBIOS legacy only.
    bmcs: info.nodes.map((n) => ({ node: n.name, address: n.bmcAddress, mac: n.mac, modes: [isUefi(n) ? "UEFI" : "Legacy"], vm: vmFiles(n) })),
  };
  const redfish: LabRedfish = { port: opts.port, config: join(info.dir, "redfish.json"), cert: cert.cert, fingerprint: cert.fingerprint, log: join(info.dir, "redfish.log") };
  writeFileSync(redfish.config, JSON.stringify(config, null, 2) + "\n", { mode: 0o600 });
  redfish.pid = startDaemon(inNamespace(info.namespace, [process.execPath, EMULATOR_MAIN, redfish.config]), redfish.log);
  const up = await waitFor(
    async () => {
      const answers = await Promise.all(info.nodes.map((n) => labRedfish({ ...info, redfish }, n.name, { method: "GET", path: "/redfish/v1/" })));
      return answers.every((a) => a.status === 200) ? true : undefined;
    },
    20_000,
    200,
  );
  if (!up) throw new Error(`the Redfish emulator did not answer on every BMC address within 20 s; see ${redfish.log}`);
  return redfish;
}

export interface LabRedfishAnswer {
  /** HTTP status; 0 when curl got no answer. */
  status: number;
  body: unknown;
  result: RunResult;
}

/**
 * One request to a node's Redfish BMC (HTTP Basic as the lab's admin, the lab's
 * certificate trusted), with curl inside the namespace. The credentials go to curl
 * on stdin (`-K -`), never on its command line.
 */
export async function labRedfish(info: LabInfo, node: string, req: { method: "GET" | "POST" | "PATCH"; path: string; body?: unknown }): Promise<LabRedfishAnswer> {
  const n = info.nodes.find((x) => x.name === node);
  if (!n) throw new Error(`no node ${node} in the lab (nodes: ${info.nodes.map((x) => x.name).join(", ")})`);
  if (!info.redfish) throw new Error(`lab ${info.namespace} has no Redfish BMCs (it was made with --bmc ${info.bmc ?? "ipmi"})`);
  const password = (await runCommand(["head", "-n1", info.bmcPasswordFile])).stdout.trim();
  const url = `https://${n.bmcAddress}:${info.redfish.port}${req.path}`;
  const args = ["curl", "-sS", "-K", "-", "--cacert", info.redfish.cert, "-X", req.method, "-w", "\n%{http_code}", "--max-time", "30"];
  if (req.body !== undefined) args.push("-H", "Content-Type: application/json", "--data-binary", JSON.stringify(req.body));
  const result = await runCommand(inNamespace(info.namespace, [...args, url]), { input: `user = "admin:${password}"\n`, timeoutMs: 40_000 });
  const nl = result.stdout.lastIndexOf("\n");
  const status = Number(result.stdout.slice(nl + 1)) || 0;
  let body: unknown;
  try {
    body = JSON.parse(result.stdout.slice(0, Math.max(0, nl)));
  } catch {
    body = undefined;
  }
  return { status, body, result };
}

/** The node's PowerState as its BMC reports it ("On", "Off"), or undefined when it does not answer. */
export async function labRedfishPower(info: LabInfo, node: string): Promise<string | undefined> {
  const a = await labRedfish(info, node, { method: "GET", path: systemPath(node) });
  const p = (a.body as { PowerState?: unknown } | undefined)?.PowerState;
  return a.status === 200 && typeof p === "string" ? p : undefined;
}

/** Asks a node's BMC for a ComputerSystem.Reset. */
export function labRedfishReset(info: LabInfo, node: string, type: string): Promise<LabRedfishAnswer> {
  return labRedfish(info, node, { method: "POST", path: resetTarget(node), body: { ResetType: type } });
}
