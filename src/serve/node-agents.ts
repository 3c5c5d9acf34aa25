// What the head knows of each installed node from its agent (boot/node-agent.ts): the
// last report (image, boot id, kernel, boot time, managed files' digests), when it last
// polled, and the work queued for it. Kept in serve's work directory (agents.json,
// written atomically, at most every few seconds for polls) so `metalform status` reads
// it whether or not serve runs, and serve keeps it across restarts. A node without a
// record is asked for a report on its next poll (e.g. after that file was lost).
import { existsSync, readFileSync } from "node:fs";
import { rename, writeFile } from "node:fs/promises";
import type { InstallerApiEvents } from "../services/installer-api/api.js";
import type { Logger } from "../util/log.js";
import type { AgentReport, WorkDone, WorkItem, WorkKind } from "../services/installer-api/agent-protocol.js";

export const AGENTS_FILE = "agents.json";

export interface AgentRecord {
  node: string;
  /** The last report, when there was one. */
  report?: Omit<AgentReport, "node">;
  /** When the node booted (report time minus its uptime), ISO 8601. */
  bootTime?: string;
  /**
   * The managed files' digests as the node first reported them after its last install
   * (or the first report the head got): a digest that differs later is drift.
   */
  baseline?: Record<string, string>;
  /** Its last call of any kind (report or poll), ISO 8601. */
  lastSeen: string;
  /** Set when its installer reports, cleared by its next agent report. */
  installingSince?: string;
  /** How its last work item ended. */
  lastWork?: { id: number; kind: WorkKind; status: "ok" | "failed" | "sent"; message?: string; time: string };
}

export interface AgentsFile {
  version: 1;
  nodes: Record<string, AgentRecord>;
}

/** agents.json is not what serve writes (the message names the file). */
export class AgentsFileError extends Error {
  override name = "AgentsFileError";
}

/** Reads agents.json; an absent file is no record, a damaged one says so. */
export function readAgentsFile(file: string): AgentsFile {
  if (!existsSync(file)) return { version: 1, nodes: {} };
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(file, "utf8"));
  } catch (e) {
    throw new AgentsFileError(`${file}: not the agents file metalform serve writes (${(e as Error).message})`, { cause: e });
  }
  const p = parsed as Partial<AgentsFile> | null;
  if (!p || p.version !== 1 || typeof p.nodes !== "object" || p.nodes === null) throw new AgentsFileError(`${file}: not a version 1 agents file metalform serve writes`);
  return p as AgentsFile;
}

export interface NodeAgentsOptions {
  /** Where the records persist (undefined: in memory only). */
  file?: string;
  /** Polls are written at most this often (reports and work at once). */
  flushMs?: number;
  now?: () => Date;
}

export class NodeAgents {
  private readonly nodes: Record<string, AgentRecord>;
  private readonly queues = new Map<string, WorkItem[]>();
  private readonly sent = new Map<string, WorkItem>();
  private nextId = 1;
  private writing: Promise<void> = Promise.resolve();
  private timer: NodeJS.Timeout | undefined;
  private readonly now: () => Date;

  constructor(private readonly opts: NodeAgentsOptions = {}) {
    this.nodes = opts.file ? readAgentsFile(opts.file).nodes : {};
    this.now = opts.now ?? (() => new Date());
    for (const r of Object.values(this.nodes)) this.nextId = Math.max(this.nextId, (r.lastWork?.id ?? 0) + 1);
  }

  record(node: string): AgentRecord | undefined {
    return this.nodes[node];
  }

  all(): AgentsFile {
    return { version: 1, nodes: structuredClone(this.nodes) };
  }

  reported(r: AgentReport): Promise<void> {
    const { node, ...report } = r;
    const bootTime = new Date(Date.parse(r.time) - r.uptime * 1000).toISOString();
    const before = this.nodes[node];
    // The first report after an install is what the installer wrote: the baseline.
    const baseline = before?.baseline && !before.installingSince ? before.baseline : r.files;
    this.nodes[node] = { node, report, bootTime, baseline, lastSeen: r.time, ...(before?.lastWork ? { lastWork: before.lastWork } : {}) };
    return this.flush();
  }

  /** A poll: the node is alive; its next work item, or a report when the head has none of it. */
  polled(node: string): WorkItem | undefined {
    const time = this.now().toISOString();
    const rec = this.nodes[node];
    if (rec) rec.lastSeen = time;
    const work = this.queues.get(node)?.shift() ?? (rec?.report ? undefined : { id: this.nextId++, kind: "report" as const });
    if (work) {
      this.sent.set(`${node}#${work.id}`, work);
      if (rec) rec.lastWork = { id: work.id, kind: work.kind, status: "sent", time };
      void this.flush();
    } else this.later();
    return work;
  }

  done(d: WorkDone): Promise<void> {
    const work = this.sent.get(`${d.node}#${d.id}`);
    const rec = this.nodes[d.node];
    if (!work || !rec) return Promise.resolve(); // not ours (an old head's), or the node is unknown
    this.sent.delete(`${d.node}#${d.id}`);
    rec.lastWork = { id: d.id, kind: work.kind, status: d.status, ...(d.message ? { message: d.message } : {}), time: d.time };
    return this.flush();
  }

  /** Queues work for a node's agent; it gets it at its next poll. */
  enqueue(node: string, kind: WorkKind): WorkItem {
    const item = { id: this.nextId++, kind };
    this.queues.set(node, [...(this.queues.get(node) ?? []), item]);
    return item;
  }

  /** The node's installer is running: it is installing until its agent reports again. */
  installing(node: string): void {
    const time = this.now().toISOString();
    const rec = this.nodes[node];
    if (rec?.installingSince) return;
    this.nodes[node] = { ...(rec ?? { node, lastSeen: time }), installingSince: time };
    void this.flush();
  }

  /** The node's installer failed: it is no longer installing (its record says what ran before). */
  installFailed(node: string): void {
    const rec = this.nodes[node];
    if (!rec?.installingSince) return;
    delete rec.installingSince;
    void this.flush();
  }

  /** Writes what is pending now (serve's stop). */
  async close(): Promise<void> {
    if (this.timer) await this.flush();
    await this.writing;
  }

  private later(): void {
    if (!this.opts.file || this.timer) return;
    this.timer = setTimeout(() => void this.flush(), this.opts.flushMs ?? 5000);
    this.timer.unref();
  }

  private flush(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    const file = this.opts.file;
    if (!file) return Promise.resolve();
    const text = JSON.stringify({ version: 1, nodes: this.nodes }, null, 1) + "\n";
    // One write at a time, each atomic (a crash leaves the old or the new file).
    const run = this.writing.then(async () => {
      await writeFile(`${file}.tmp`, text, { mode: 0o600 });
      await rename(`${file}.tmp`, file);
    });
    this.writing = run.catch(() => undefined); // a failed write does not stop the next
    return run;
  }
}

/** Feeds a head's installer API events into its agents' records. */
export function followAgents(events: InstallerApiEvents, agents: NodeAgents, log: Logger): void {
  const failed = (e: unknown) => log.warn("agents-file-not-written", { error: (e as Error).message });
  events.on("agent", (r) => void agents.reported(r).catch(failed));
  events.on("work-done", (d) => void agents.done(d).catch(failed));
  events.on("claim", ({ node }) => agents.installing(node));
  events.on("report", (r) => r.status === "failed" && agents.installFailed(r.node));
}
