// `metalform status` for people (a line per group of alike nodes, host ranges like the
// plan) and for machines (JSON: every node, then the groups). Pure.
import { style as makeStyle } from "../plan/render/style.js";
import type { NodeRunState, NodeStatus, StatusGroup } from "./status.js";

export interface StatusRenderOptions {
  cluster: string;
  now: Date;
  color: boolean;
}

/** "42s", "5m", "3h", "2d": how long ago an ISO time was. */
export function ago(iso: string, now: Date): string {
  const s = Math.max(0, Math.round((now.getTime() - Date.parse(iso)) / 1000));
  if (s < 120) return `${s}s`;
  if (s < 7200) return `${Math.round(s / 60)}m`;
  if (s < 172_800) return `${Math.round(s / 3600)}h`;
  return `${Math.round(s / 86_400)}d`;
}

function spanAgo(sp: { first: string; last: string }, now: Date): string {
  const a = ago(sp.last, now);
  const b = ago(sp.first, now);
  return a === b ? `${a} ago` : `${a}–${b} ago`;
}

const shortDigest = (d: string) => (d.length > 19 ? d.slice(0, 19) + "…" : d);

function groupLine(g: StatusGroup, o: StatusRenderOptions): string {
  const st = makeStyle(o.color);
  const paint: Record<NodeRunState, (s: string) => string> = { up: (s) => st.green(s), down: (s) => st.red(s), installing: (s) => st.yellow(s), unknown: (s) => st.dim(s) };
  const parts = [paint[g.state](g.state.padEnd(10)), st.bold(g.label), g.category];
  if (g.image) parts.push(`image ${shortDigest(g.image)}${g.imageDiffers ? st.yellow(" (differs from state)") : ""}`);
  if (g.kernel) parts.push(`kernel ${g.kernel}`);
  if (g.booted && g.state !== "down") parts.push(`booted ${spanAgo(g.booted, o.now)}`);
  if (g.seen) parts.push(`${g.state === "up" ? "seen" : "last seen"} ${spanAgo(g.seen, o.now)}`);
  else if (g.state === "unknown") parts.push("no agent report");
  return "  " + parts.join("  ");
}

export function renderStatus(statuses: readonly NodeStatus[], groups: readonly StatusGroup[], o: StatusRenderOptions): string {
  const count = (s: NodeRunState) => statuses.filter((x) => x.state === s).length;
  const counts = (["up", "down", "installing", "unknown"] as const).filter((s) => count(s) > 0).map((s) => `${count(s)} ${s}`);
  const head = `Cluster ${o.cluster}: ${statuses.length} node${statuses.length === 1 ? "" : "s"}${counts.length ? " — " + counts.join(", ") : ""}.`;
  return [head, "", ...groups.map((g) => groupLine(g, o)), ""].join("\n");
}

export function renderStatusJson(cluster: string, statuses: readonly NodeStatus[], groups: readonly StatusGroup[], now: Date): string {
  return JSON.stringify({ cluster, time: now.toISOString(), nodes: statuses, groups }, null, 2) + "\n";
}
