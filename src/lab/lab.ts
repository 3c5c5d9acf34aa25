// `metalform lab`: a small virtual cluster on this machine, all inside one network
// namespace. labUp builds it (kernel, image, network, BMCs, VMs, cluster config),
// labConsole/labExec look at and use it (labStatus in status.ts), labDown removes it
// (twice is fine).
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { chmodSync, closeSync, existsSync, mkdirSync, openSync, readFileSync, rmSync, statSync, truncateSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { BMC_USER, controlScript, ipmitool, randomBmcPassword, startBmc } from "./bmc.js";
import { prefixToNetmask, renderLabConfig } from "./cluster-config.js";
import { createDataNetwork, dataNicArgs, dataNics } from "./data-network.js";
import { prepareVmFirmware } from "./firmware.js";
import { prepareLabImage, type LabClusterImage } from "./lab-image.js";
import { cachedKernel, ensureLabKernel } from "./kernel.js";
import { createLabNetwork, destroyLabNetwork, namespaceExists, startRadvd } from "./network.js";
import { hostAddress, nodeMac, resolveLabOptions, type LabOptions, type ResolvedLabOptions } from "./options.js";
import { checkPrerequisites, describePrerequisites, type PrerequisiteReport } from "./prerequisites.js";
import { vmStartScript } from "./qemu.js";
import { labRedfishReset, startRedfishBmcs } from "./redfish/lab-bmcs.js";
import { inNamespace, processAlive, processRuns, runCommand, stopProcess, waitFor, type RunResult } from "./run.js";
import { readLabState, statePath, writeLabState, type LabInfo, type LabNode } from "./state.js";

export class LabPrerequisitesError extends Error {
  constructor(readonly report: PrerequisiteReport) {
    super(describePrerequisites(report));
  }
}

export class LabExistsError extends Error {}
export class LabNotFoundError extends Error {}

function nodeSpec(o: ResolvedLabOptions, dir: string, i: number): LabNode {
  const n = i + 1;
  const name = `${o.nodePrefix}${n}`;
  const nodeDir = join(dir, "nodes", name);
  return {
    name,
    mac: nodeMac(o.macPrefix, n),
    ip: hostAddress(o.headAddress, o.prefixLength, o.firstHost + i),
    bmcAddress: hostAddress(o.bmcHeadAddress, o.bmcPrefixLength, o.firstHost + i),
    bmcPort: o.bmcPort,
    tap: `mftap${n}`,
    serialLog: join(nodeDir, "serial.log"),
    diskPath: join(nodeDir, "disk.raw"),
    dir: nodeDir,
    qemuPidFile: join(nodeDir, "qemu.pid"),
    qmpSocket: join(nodeDir, "qmp.sock"),
    bmcLog: join(nodeDir, "bmc.log"),
    firmware: o.firmware[i] ?? "bios",
    ...(o.dataNetwork ? { dataNics: dataNics(o.macPrefix, n, o.dataNetwork.nics) } : {}),
  };
}

/** The QEMU process of a node, when it runs. */
export function vmPid(node: LabNode): number | undefined {
  try {
    const pid = Number(readFileSync(node.qemuPidFile, "utf8").trim());
    if (!Number.isInteger(pid) || pid <= 1 || !processAlive(pid)) return undefined;
    return readFileSync(`/proc/${pid}/cmdline`, "utf8").includes("qemu") ? pid : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Brings a lab up: checks prerequisites, fetches the kernel, builds the image, makes
 * the namespace with its bridges and taps, starts radvd, one BMC per node and (unless
 * powerOn is false) the VMs, and writes the lab's cluster configuration.
 */
export async function labUp(opts: LabOptions = {}): Promise<LabInfo> {
  const o = resolveLabOptions(opts);
  const log = o.logger;
  await refuseToStart(o);
  const t0 = Date.now();
  mkdirSync(o.dir, { recursive: true, mode: 0o700 });
  chmodSync(o.dir, 0o700);

  const kernel = await ensureLabKernel(o.cacheDir, log);
  const image = await prepareLabImage({ kind: o.image, labDir: o.dir, kernel, logger: log });
  const password = writeBmcPassword(join(o.dir, "bmc-password"));

  const nodes = Array.from({ length: o.nodes }, (_, i) => nodeSpec(o, o.dir, i));
  const info: LabInfo = {
    version: 1,
    namespace: o.namespace,
    dir: o.dir,
    createdAt: new Date().toISOString(),
    phase: "starting",
    bridge: o.bridge,
    headAddress: o.headAddress,
    prefixLength: o.prefixLength,
    bmcInterface: o.bmcInterface,
    bmcHeadAddress: o.bmcHeadAddress,
    nodes,
    configPath: join(o.dir, "cluster.yaml"),
    kernel,
    imageRoot: image.root,
    bmcPasswordFile: password.file,
    bmc: o.bmc,
  };
  // Written before anything is created, so a failed or interrupted up can be taken down.
  writeLabState(info);
  try {
    await startLabNetwork(o, info);
    for (const [i, n] of nodes.entries()) {
      const bmcPid = startLabNode(o, n, { index: i, bmcPassword: password.value });
      if (bmcPid !== undefined) n.bmcPid = bmcPid;
      writeLabState(info);
    }
    if (o.bmc === "redfish") {
      info.redfish = await startRedfishBmcs(info, { port: o.bmcPort, user: BMC_USER });
      writeLabState(info);
    }
    writeFileSync(info.configPath, labConfig(o, { image, bmcPasswordFile: password.file, nodes, ...(info.redfish ? { redfishCa: info.redfish.cert } : {}) }), { mode: 0o644 });
    if (o.powerOn) {
      // Power on as an operator would: through each BMC. This also proves the BMCs answer.
      await Promise.all(nodes.map((n) => powerOnWhenBmcAnswers(info, n)));
    }
    info.phase = "up";
    writeLabState(info);
    log.info("lab.up", { namespace: o.namespace, nodes: nodes.length, ms: Date.now() - t0 });
    return info;
  } catch (e) {
    log.error("lab.up_failed", { error: String((e as Error).message ?? e) });
    await labDown({ namespace: o.namespace, dir: o.dir });
    throw e;
  }
}

/** Throws when the lab cannot start here: an unusable directory, missing prerequisites, or a lab (or its leftovers) already there. */
async function refuseToStart(o: ResolvedLabOptions): Promise<void> {
  if (/[\s"'\\$`]/.test(o.dir)) throw new Error(`the lab directory must not contain spaces, quotes, $ or backslashes: ${o.dir}`);
  const pre = await checkPrerequisites({ kernelCached: cachedKernel(o.cacheDir) !== undefined });
  if (!pre.ok) throw new LabPrerequisitesError(pre);
  if (await namespaceExists(o.namespace)) {
    throw new LabExistsError(`network namespace ${o.namespace} exists already: the lab is up (or left over); run \`metalform lab down\` first`);
  }
  if (readLabState(o.dir)) throw new LabExistsError(`${statePath(o.dir)} exists: run \`metalform lab down\` first`);
}

/** A fresh random password the lab's BMCs share, in a file only root reads. */
function writeBmcPassword(file: string): { file: string; value: string } {
  const value = randomBmcPassword(randomBytes(16));
  writeFileSync(file, value + "\n", { mode: 0o600 });
  chmodSync(file, 0o600);
  return { file, value };
}

/** The namespace with its bridges and taps, and radvd on the bridge when asked for. */
async function startLabNetwork(o: ResolvedLabOptions, info: LabInfo): Promise<void> {
  await createLabNetwork({
    namespace: o.namespace,
    bridge: o.bridge,
    bridgeMac: nodeMac(o.macPrefix, 0),
    headAddress: o.headAddress,
    prefixLength: o.prefixLength,
    bmcInterface: o.bmcInterface,
    bmcHeadAddress: o.bmcHeadAddress,
    bmcPrefixLength: o.bmcPrefixLength,
    bmcAddresses: info.nodes.map((n) => n.bmcAddress),
    taps: info.nodes.map((n) => n.tap),
  });
  if (o.dataNetwork)
    await createDataNetwork(
      o.namespace,
      o.dataNetwork,
      info.nodes.flatMap((n) => (n.dataNics ?? []).map((d) => d.tap)),
    );
  o.logger.info("network.ready", { namespace: o.namespace, bridge: o.bridge, head: o.headAddress });
  if (o.routerAdvertisements) {
    info.radvdPid = startRadvd(o.namespace, o.bridge, { config: join(o.dir, "radvd.conf"), pidFile: join(o.dir, "radvd.pid"), log: join(o.dir, "radvd.log") });
    writeLabState(info);
  }
}

/**
 * One node: its sparse disk, the scripts that start its VM and that its BMC runs,
 * and for an IPMI lab its ipmi_sim (whose pid is returned; a Redfish lab's BMCs are
 * one emulator started afterwards).
 */
function startLabNode(o: ResolvedLabOptions, n: LabNode, at: { index: number; bmcPassword: string }): number | undefined {
  mkdirSync(n.dir, { recursive: true, mode: 0o700 });
  // A sparse raw disk: nothing is allocated until the guest writes.
  closeSync(openSync(n.diskPath, "w", 0o600));
  truncateSync(n.diskPath, o.diskBytes);
  const startScript = join(n.dir, "start-vm.sh");
  const bootFile = join(n.dir, "boot-device");
  const qemuLog = join(n.dir, "qemu.log");
  // A Redfish lab's VMs have no in-band (KCS) BMC: no ipmi_sim to connect to.
  const serialPort = o.bmc === "ipmi" ? o.bmcSerialPortBase + at.index : undefined;
  const firmware = prepareVmFirmware(n.firmware ?? "bios", n.dir);
  writeFileSync(
    startScript,
    vmStartScript(
      {
        name: n.name,
        memoryMiB: o.memoryMiB,
        tap: n.tap,
        mac: n.mac,
        disk: n.diskPath,
        serialLog: n.serialLog,
        pidFile: n.qemuPidFile,
        qmpSocket: n.qmpSocket,
        ...(serialPort !== undefined ? { bmcSerialPort: serialPort } : {}),
        firmware,
        ...(n.dataNics ? { extra: dataNicArgs(n.dataNics) } : {}),
      },
      bootFile,
    ),
    { mode: 0o755 },
  );
  const control = join(n.dir, "bmc-control.sh");
  writeFileSync(control, controlScript({ name: n.name, dir: n.dir, startScript, pidFile: n.qemuPidFile, bootFile, qemuLog }), { mode: 0o755 });
  if (serialPort === undefined) return undefined;
  return startBmc(
    o.namespace,
    { name: n.name, address: n.bmcAddress, port: n.bmcPort, serialPort, password: at.bmcPassword, controlScript: control },
    { lanConf: join(n.dir, "bmc-lan.conf"), emu: join(n.dir, "bmc.emu"), stateDir: join(n.dir, "bmc-state"), log: n.bmcLog },
  );
}

/** The lab's cluster configuration (cluster.yaml) for metalform to plan and apply. */
function labConfig(o: ResolvedLabOptions, lab: { image: LabClusterImage; bmcPasswordFile: string; nodes: LabNode[]; redfishCa?: string }): string {
  return renderLabConfig({
    clusterName: o.namespace,
    bridge: o.bridge,
    headAddress: o.headAddress,
    prefixLength: o.prefixLength,
    imageRoot: lab.image.root,
    kernel: lab.image.kernel,
    initrd: lab.image.initrd,
    imageName: lab.image.name,
    ...(lab.image.recipe ? { recipe: lab.image.recipe } : {}),
    bmcPasswordFile: lab.bmcPasswordFile,
    bmcUser: BMC_USER,
    bmcPort: o.bmcPort,
    bmcNetmask: prefixToNetmask(o.bmcPrefixLength),
    bmcDriver: o.bmc,
    ...(lab.redfishCa ? { bmcTlsCa: lab.redfishCa } : {}),
    ports: o.ports,
    nodes: lab.nodes,
  });
}

async function powerOnWhenBmcAnswers(info: LabInfo, n: LabNode): Promise<void> {
  let last: RunResult | undefined;
  const ok = await waitFor(
    async () => {
      if (info.redfish) {
        const a = await labRedfishReset(info, n.name, "On");
        last = a.result;
        return a.status === 204 ? true : undefined;
      }
      last = await labIpmitool(info, n.name, ["chassis", "power", "on"]);
      return last.code === 0 ? true : undefined;
    },
    15_000,
    300,
  );
  if (!ok) throw new Error(`the BMC of ${n.name} (${n.bmcAddress}) did not power it on: ${(last?.stderr || last?.stdout || "").trim()}`);
  const running = await waitFor(() => (vmPid(n) ? true : undefined), 10_000, 100);
  if (!running) throw new Error(`the VM ${n.name} did not start; see ${join(n.dir, "qemu.log")}`);
}

/** Runs ipmitool (lanplus, as the lab's admin user) against a node's BMC, from inside the namespace. */
export function labIpmitool(info: LabInfo, node: string, args: string[]): Promise<RunResult> {
  const n = info.nodes.find((x) => x.name === node);
  if (!n) throw new LabNotFoundError(`no node ${node} in the lab (nodes: ${info.nodes.map((x) => x.name).join(", ")})`);
  // -C 3: ipmi_sim answers no "Get Channel Cipher Suites"; naming the suite saves a ~10 s fallback.
  return ipmitool(info.namespace, { address: n.bmcAddress, port: n.bmcPort, passwordFile: info.bmcPasswordFile }, ["-C", "3", ...args]);
}

export function resolvedDir(opts: LabOptions): { namespace: string; dir: string } {
  const o = resolveLabOptions({ ...opts, nodes: 1 });
  return { namespace: o.namespace, dir: o.dir };
}

/** The lab's state, or LabNotFoundError. */
export function labInfo(opts: LabOptions = {}): LabInfo {
  const { namespace, dir } = resolvedDir(opts);
  const info = readLabState(dir);
  if (!info) throw new LabNotFoundError(`no lab ${namespace} (no ${statePath(dir)}); run \`metalform lab up\``);
  return info;
}

/**
 * Removes the lab: VMs, BMCs, radvd, every other process in the namespace, the
 * namespace, and the lab directory. Does nothing (and succeeds) when there is no lab.
 */
export async function labDown(opts: LabOptions = {}): Promise<{ removed: boolean }> {
  const { namespace, dir } = resolvedDir(opts);
  const info = readLabState(dir);
  let removed = false;
  if (info) {
    // BMCs first so none restarts a VM, then the VMs.
    // Recorded pids are checked against their command line: after a reboot they may be someone else's.
    for (const n of info.nodes) if (n.bmcPid && processRuns(n.bmcPid, "ipmi_sim")) await stopProcess(n.bmcPid, 2000);
    if (info.redfish?.pid && processRuns(info.redfish.pid, "redfish")) await stopProcess(info.redfish.pid, 2000);
    for (const n of info.nodes) {
      const pid = vmPid(n);
      if (pid) await stopProcess(pid, 3000);
    }
    if (info.radvdPid && processRuns(info.radvdPid, "radvd")) await stopProcess(info.radvdPid, 2000);
  }
  if (await namespaceExists(namespace)) {
    await destroyLabNetwork(namespace);
    removed = true;
  }
  // Only a directory that holds a lab state file is ours to delete.
  if (info && existsSync(statePath(dir))) {
    rmSync(dir, { recursive: true, force: true });
    removed = true;
  }
  return { removed };
}

/** A node's serial console: its log file and (the last maxBytes of) what it holds. */
export function labConsole(opts: LabOptions, node: string, maxBytes = 64 * 1024): { path: string; content: string } {
  const info = labInfo(opts);
  const n = info.nodes.find((x) => x.name === node);
  if (!n) throw new LabNotFoundError(`no node ${node} in the lab (nodes: ${info.nodes.map((x) => x.name).join(", ")})`);
  if (!existsSync(n.serialLog)) return { path: n.serialLog, content: "" };
  const size = statSync(n.serialLog).size;
  const buf = readFileSync(n.serialLog);
  return { path: n.serialLog, content: buf.subarray(Math.max(0, size - maxBytes)).toString("utf8") };
}

/** argv prefixed to run inside the lab's namespace. */
export function labExecArgv(opts: LabOptions, argv: string[]): string[] {
  return inNamespace(resolvedDir(opts).namespace, argv);
}

/**
 * Runs argv inside the lab's namespace. With `capture`, resolves with its output;
 * otherwise it shares this process's terminal and resolves with its exit code.
 */
export async function labExec(opts: LabOptions, argv: string[], how: { capture: true; input?: string; timeoutMs?: number }): Promise<RunResult>;
export async function labExec(opts: LabOptions, argv: string[], how?: { capture?: false; env?: NodeJS.ProcessEnv }): Promise<number>;
export async function labExec(
  opts: LabOptions,
  argv: string[],
  how: { capture?: boolean; input?: string; timeoutMs?: number; env?: NodeJS.ProcessEnv } = {},
): Promise<RunResult | number> {
  if (argv.length === 0) throw new Error("lab exec needs a command");
  const { namespace } = resolvedDir(opts);
  if (!(await namespaceExists(namespace))) throw new LabNotFoundError(`no lab namespace ${namespace}; run \`metalform lab up\``);
  const full = inNamespace(namespace, argv);
  if (how.capture) return runCommand(full, { input: how.input, timeoutMs: how.timeoutMs });
  return new Promise((resolve, reject) => {
    const [cmd, ...args] = full;
    const child = spawn(cmd!, args, { stdio: "inherit", env: how.env ?? process.env });
    child.on("error", reject);
    child.on("close", (code, signal) => resolve(code ?? (signal ? 128 : 1)));
  });
}
