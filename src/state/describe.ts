// Text and JSON views of the state for `metalform state list | show`.
import type { ClusterState, NodeReport, NodeState } from "./types.js";

const short = (d: string | undefined) => (d ? (d.startsWith("sha256:") ? d.slice(7, 13) : d.slice(0, 6)) : "-");

export interface NodeRow {
  node: string;
  image: string;
  layout: string;
  phase: string;
  reportedAt: string;
}

export function nodeRows(state: ClusterState): NodeRow[] {
  return Object.keys(state.nodes)
    .sort()
    .map((name) => {
      const n = state.nodes[name]!;
      return {
        node: name,
        image: n.applied ? `${n.applied.image.name} ${short(n.applied.image.digest)}` : "(never installed)",
        layout: n.applied ? `${n.applied.diskLayout.name} ${short(n.applied.diskLayout.digest)}` : "-",
        phase: n.reported ? reportedPhase(n.reported) : "-",
        reportedAt: n.reported?.time ?? "-",
      };
    });
}

/** "up", or "sync (failed)" for a node whose apply stopped there. */
export function reportedPhase(r: NodeReport): string {
  return r.outcome ? `${r.phase} (${r.outcome})` : r.phase;
}

function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  return rows.map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]!))).join("  ")).join("\n");
}

export function renderStateList(state: ClusterState, location: string): string {
  const out: string[] = [`State ${location}: lineage ${state.lineage}, serial ${state.serial}`, ""];
  const rows = nodeRows(state);
  if (rows.length) {
    out.push(table([["NODE", "IMAGE", "DISK LAYOUT", "PHASE", "LAST REPORT"], ...rows.map((r) => [r.node, r.image, r.layout, r.phase, r.reportedAt])]));
  } else {
    out.push("No nodes.");
  }
  const images = Object.keys(state.images).sort();
  if (images.length) {
    out.push("", table([["IMAGE", "DIGEST", "SIZE"], ...images.map((i) => [i, state.images[i]!.digest, String(state.images[i]!.size)])]));
  }
  return out.join("\n") + "\n";
}

export function renderNodeState(name: string, n: NodeState): string {
  const out: string[] = [`node ${name}`];
  const a = n.applied;
  if (!a) out.push("  applied: never installed");
  else {
    out.push(
      `  applied${n.appliedAt ? ` at ${n.appliedAt}` : ""}:`,
      `    image:        ${a.image.name} ${a.image.digest}`,
      `    disk layout:  ${a.diskLayout.name} ${a.diskLayout.digest}`,
      `    network:      ip ${a.network.ip}, mac ${a.network.mac}, hostname ${a.network.hostname}`,
      `    boot:         ${a.boot}`,
      `    install mode: ${a.installMode}`,
      `    kernel args:  ${a.kernelArgs.join(" ") || "(none)"}`,
      `    exclude sync: ${a.excludeSync.join(" ") || "(none)"}`,
      `    exclude full: ${a.excludeFull.join(" ") || "(none)"}`,
    );
    if (a.firmware) out.push(`    firmware:     ${a.firmware.mode}${a.firmware.secureBoot ? ", Secure Boot" : ""}`);
    if (a.files) out.push(`    files:        ${a.files.map((f) => f.path).join(" ")}`);
    if (a.scripts) out.push(`    scripts:      ${Object.keys(a.scripts).join(", ")}`);
    if (a.bmc) {
      const p = a.bmc.password;
      const ref = !p ? "(none)" : p.kind === "env" ? `env:${p.name}` : p.kind === "file" ? `file:${p.path}` : `inline:${p.id}`;
      out.push(
        `    bmc:          ${a.bmc.driver} ${a.bmc.address ?? "-"}:${a.bmc.port} user ${a.bmc.user ?? "-"} password ${ref}` +
          `${a.bmc.netmask ? ` netmask ${a.bmc.netmask}` : ""}${a.bmc.gateway ? ` gateway ${a.bmc.gateway}` : ""}` +
          `${a.bmc.vlan !== undefined ? ` vlan ${a.bmc.vlan}` : ""}${a.bmc.channel !== undefined ? ` channel ${a.bmc.channel}` : ""}` +
          `${a.bmc.userId !== undefined ? ` user id ${a.bmc.userId}` : ""}${a.bmc.privilege ? ` privilege ${a.bmc.privilege}` : ""}`,
      );
    }
  }
  const r = n.reported;
  if (!r) out.push("  reported: nothing yet");
  else {
    out.push(`  reported at ${r.time}:`, `    phase:        ${reportedPhase(r)}`, `    image:        ${r.imageDigest ?? "-"}`, `    disk layout:  ${r.layoutFingerprint ?? "-"}`);
  }
  return out.join("\n") + "\n";
}
