// What `metalform image list|show|rm` say about the snapshot store: every snapshot
// of every image with its size, date and the nodes that run it (from the state),
// which one the last apply served and which one the configuration pins. Pure: the
// command reads store, state and configuration and hands them in (plan/image-context.ts).
import { formatBytes } from "../config/size.js";
import { hexOf, type SnapshotMeta } from "./store.js";

export interface SnapshotRow {
  image: string;
  digest: string;
  size: number;
  files: number;
  createdAt: string;
  source: string;
  /** Nodes whose state says they run (applied or reported) this snapshot. */
  nodes: string[];
  /** The last apply served this one (state.images). */
  applied: boolean;
  /** The configuration pins this one. */
  pinned: boolean;
}

/** What a node runs, as the state records it. */
export interface NodeImageRecord {
  name: string;
  /** The image and digest last applied. */
  applied?: { image: string; digest: string };
  /** The digest the node itself last reported. */
  reported?: string;
}

export interface CatalogInput {
  snapshots: Map<string, SnapshotMeta[]>;
  nodes: readonly NodeImageRecord[];
  /** Image → the digest the last apply served. */
  applied: ReadonlyMap<string, string>;
  /** Image name → pin (hex prefix) from the configuration. */
  pins?: ReadonlyMap<string, string>;
}

/** Nodes running `digest`: the one they reported, else the one applied. */
function nodesRunning(nodes: readonly NodeImageRecord[], image: string, digest: string): string[] {
  return nodes
    .filter((n) => (n.reported ?? (n.applied?.image === image ? n.applied.digest : undefined)) === digest)
    .map((n) => n.name)
    .sort();
}

export function catalogRows(c: CatalogInput): SnapshotRow[] {
  const rows: SnapshotRow[] = [];
  for (const [image, metas] of [...c.snapshots].sort(([a], [b]) => (a < b ? -1 : 1))) {
    const pin = c.pins?.get(image);
    for (const m of metas) {
      rows.push({
        image,
        digest: m.digest,
        size: m.size,
        files: m.files,
        createdAt: m.createdAt,
        source: m.source,
        nodes: nodesRunning(c.nodes, image, m.digest),
        applied: c.applied.get(image) === m.digest,
        pinned: pin !== undefined && hexOf(m.digest).startsWith(hexOf(pin)),
      });
    }
  }
  return rows;
}

/** Node names, shortened past a few ("n01, n02, n03 and 29 more"). */
function nodeList(nodes: string[]): string {
  if (nodes.length <= 4) return nodes.join(", ") || "-";
  return `${nodes.slice(0, 3).join(", ")} and ${nodes.length - 3} more`;
}

export function renderCatalog(rows: SnapshotRow[], store: string): string {
  if (!rows.length) return `No image snapshots in ${store}.\n`;
  const table = rows.map((r) => [
    r.image,
    hexOf(r.digest).slice(0, 12),
    formatBytes(r.size),
    r.createdAt.slice(0, 16).replace("T", " "),
    [r.applied ? "applied" : "", r.pinned ? "pinned" : ""].filter(Boolean).join(",") || "-",
    nodeList(r.nodes),
  ]);
  const head = ["IMAGE", "SNAPSHOT", "SIZE", "CREATED (UTC)", "STATUS", "NODES"];
  const widths = head.map((h, i) => Math.max(h.length, ...table.map((t) => t[i]!.length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]!))).join("  ");
  return [line(head), ...table.map(line)].join("\n") + `\n\n${rows.length} snapshot${rows.length === 1 ? "" : "s"} in ${store}\n`;
}

export function renderSnapshot(r: SnapshotRow, meta: SnapshotMeta, dir: string): string {
  return (
    [
      `image     ${r.image}`,
      `snapshot  ${r.digest}`,
      `created   ${r.createdAt}`,
      `source    ${r.source}`,
      `size      ${formatBytes(r.size)} in ${r.files} files`,
      `kernel    ${meta.kernel}`,
      ...(meta.initrd ? [`initrd    ${meta.initrd}`] : []),
      `path      ${dir}`,
      `status    ${[r.applied ? "applied by the last apply" : "", r.pinned ? "pinned by the configuration" : ""].filter(Boolean).join("; ") || "-"}`,
      `nodes     ${r.nodes.join(", ") || "-"}`,
    ].join("\n") + "\n"
  );
}

/** Why a snapshot must not be removed, or undefined. */
export function removalBlocker(r: SnapshotRow): string | undefined {
  if (r.nodes.length) return `nodes run it (${nodeList(r.nodes)})`;
  if (r.pinned) return "the configuration pins it";
  return undefined;
}
