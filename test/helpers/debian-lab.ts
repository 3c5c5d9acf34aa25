// A virtual lab whose nodes run a real Debian 12 (test/helpers/debian-root.ts): the lab's
// namespace, bridge, BMCs and VMs, with a cluster configuration that gives them the
// Debian root as their image (its own kernel and initramfs-tools initrd), root's SSH key
// from this helper, and metalform's CLI run inside the namespace. Shared by
// test/e2e/debian.e2e.test.ts and bench/debian.
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { parse, stringify } from "yaml";
import type { DataNetworkOptions } from "../../src/lab/data-network.js";
import { labDown, labExec, labIpmitool, labUp, type LabInfo } from "../../src/lab/index.js";
import type { DebianRoot } from "./debian-root.js";
import { METALFORM_BIN, sh } from "./netns.js";

export interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

export type ApplyEvent = Record<string, unknown>;

export const detail = (r: Run) => `exit ${r.code}\nstderr:\n${r.stderr.slice(-4000)}\nstdout:\n${r.stdout.slice(-4000)}`;

export function jsonLines(stdout: string): ApplyEvent[] {
  return stdout
    .split("\n")
    .filter((l) => l.startsWith("{"))
    .map((l) => JSON.parse(l) as ApplyEvent);
}

export class DebianLab {
  lab!: LabInfo;
  config!: string;
  key!: string;
  /** More settings of the lab's category (files, vars, scripts), kept when the image changes. */
  categoryExtras: Record<string, unknown> = {};
  private root?: DebianRoot;

  constructor(readonly namespace: string) {}

  /** Lab up (VMs off), an SSH key pair for root, and the configuration for `root`. */
  async up(root: DebianRoot, o: { memoryMiB?: number; diskBytes?: number; dataNetwork?: DataNetworkOptions } = {}): Promise<void> {
    await labDown({ namespace: this.namespace }).catch(() => undefined);
    const data = o.dataNetwork ? { dataNetwork: o.dataNetwork } : {};
    this.lab = await labUp({ namespace: this.namespace, nodes: 1, memoryMiB: o.memoryMiB ?? 1024, diskBytes: o.diskBytes ?? 3 * 1024 ** 3, powerOn: false, ...data });
    this.key = join(this.lab.dir, "id_ed25519");
    sh("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", "metalform-e2e", "-f", this.key]);
    this.config = join(this.lab.dir, "debian.yaml");
    this.useImage(root);
  }

  /**
   * Declares the image as `root`'s mmdebstrap recipe (apply snapshots the cached build;
   * the image's own kernel and initrd are found inside it). Another recipe is a change
   * the next plan shows as a sync.
   */
  useImage(root: DebianRoot): void {
    this.root = root;
    const doc = parse(readFileSync(this.lab.configPath, "utf8")) as { images?: unknown; categories: { default: Record<string, unknown> } };
    const { suite, variant, packages } = root.recipe;
    // The serial console only (no `quiet`): systemd's [FAILED] lines are part of what is checked.
    doc.images = { debian: { recipe: { suite, variant, packages }, kernelArgs: [], exclude: { sync: ["/var/log/journal/*", "/tmp/*"] } } };
    doc.categories.default["image"] = "debian";
    doc.categories.default["sshAuthorizedKeys"] = [readFileSync(`${this.key}.pub`, "utf8").trim()];
    Object.assign(doc.categories.default, this.categoryExtras);
    writeFileSync(this.config, stringify(doc, { lineWidth: 0 }));
  }

  /** Sets more category settings and rewrites the configuration with them. */
  useCategoryExtras(extras: Record<string, unknown>): void {
    this.categoryExtras = extras;
    if (this.root) this.useImage(this.root);
  }

  get node() {
    return this.lab.nodes[0]!;
  }

  async mf(args: string[], timeoutMs = 1_200_000): Promise<Run> {
    const r = await labExec({ namespace: this.namespace, dir: this.lab.dir }, [process.execPath, METALFORM_BIN, ...args], { capture: true, timeoutMs });
    return { code: r.code ?? 1, stdout: r.stdout, stderr: r.stderr };
  }

  async apply(extra: string[] = []): Promise<{ run: Run; events: ApplyEvent[]; seconds: number }> {
    const t0 = Date.now();
    const run = await this.mf(["apply", "--auto-approve", "--json", "--retries", "0", "-c", this.config, ...extra]);
    return { run, events: jsonLines(run.stdout), seconds: (Date.now() - t0) / 1000 };
  }

  state(): { images: Record<string, { digest: string }>; nodes: Record<string, { reported?: { phase: string; imageDigest?: string } }> } {
    return JSON.parse(readFileSync(join(this.lab.dir, ".metalform/state.json"), "utf8"));
  }

  /** `metalform serve` in the namespace; its output collects in `log`. */
  serve(): { child: ChildProcess; log: () => string; stop: () => Promise<void> } {
    const child = spawn("ip", ["netns", "exec", this.namespace, process.execPath, METALFORM_BIN, "serve", "-c", this.config, "--json"], { stdio: ["ignore", "pipe", "pipe"] });
    let log = "";
    child.stdout.on("data", (d) => (log += d));
    child.stderr.on("data", (d) => (log += d));
    return {
      child,
      log: () => log,
      stop: async () => {
        if (child.exitCode !== null) return;
        child.kill("SIGTERM");
        await new Promise((r) => child.once("exit", r));
      },
    };
  }

  async powerCycle(): Promise<void> {
    await labIpmitool(this.lab, this.node.name, ["chassis", "bootdev", "pxe"]);
    await labIpmitool(this.lab, this.node.name, ["chassis", "power", "cycle"]);
  }

  /** Runs a command on the node as root over SSH from the head's namespace (with the configured key). */
  async ssh(command: string, timeoutMs = 120_000): Promise<Run> {
    const argv = [
      "ssh",
      "-i",
      this.key,
      "-o",
      "BatchMode=yes",
      "-o",
      "StrictHostKeyChecking=no",
      "-o",
      "UserKnownHostsFile=/dev/null",
      "-o",
      "ConnectTimeout=10",
      "-o",
      "LogLevel=ERROR",
      `root@${this.node.ip}`,
      command,
    ];
    const r = await labExec({ namespace: this.namespace, dir: this.lab.dir }, argv, { capture: true, timeoutMs });
    return { code: r.code ?? 1, stdout: r.stdout, stderr: r.stderr };
  }

  /** SSH until it answers (sshd may start a moment after the node reported UP). */
  async sshWhenUp(command: string, deadlineMs = 120_000): Promise<Run> {
    const end = Date.now() + deadlineMs;
    let last: Run = { code: 255, stdout: "", stderr: "not tried" };
    while (Date.now() < end) {
      last = await this.ssh(command);
      if (last.code !== 255) return last;
      await new Promise((r) => setTimeout(r, 3000));
    }
    return last;
  }

  console(from = 0): string {
    return existsSync(this.node.serialLog) ? readFileSync(this.node.serialLog, "utf8").slice(from) : "";
  }

  async down(): Promise<void> {
    await labDown({ namespace: this.namespace }).catch(() => undefined);
  }
}
