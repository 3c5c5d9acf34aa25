// Text renderings of the lab for people (`metalform lab up` / `lab status`).
import type { LabStatus } from "./status.js";
import type { LabInfo } from "./state.js";

function table(rows: string[][]): string[] {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? "").length)));
  return rows.map((r) =>
    r
      .map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]!)))
      .join("  ")
      .trimEnd(),
  );
}

export function formatLabUp(info: LabInfo): string {
  const lines = [
    `Lab ${info.namespace} is up: ${info.nodes.length} node${info.nodes.length === 1 ? "" : "s"} on ${info.bridge} (head ${info.headAddress}/${info.prefixLength}).`,
    ...table([
      ["NODE", "MAC", "IP", "BMC", "FIRMWARE", "SERIAL LOG"],
      ...info.nodes.map((n) => [n.name, n.mac, n.ip, `${n.bmcAddress}:${n.bmcPort}`, n.firmware ?? "bios", n.serialLog]),
    ]).map((l) => "  " + l),
    ...info.nodes.filter((n) => n.dataNics?.length).map((n) => `  ${n.name} data NICs: ${n.dataNics!.map((d) => d.mac).join(" ")}`),
    `Cluster configuration: ${info.configPath}`,
    `Kernel ${info.kernel.version}: ${info.kernel.path}`,
    `Image: ${info.imageRoot}`,
    `BMC user admin, password in ${info.bmcPasswordFile}`,
    ...(info.redfish
      ? [`BMCs speak Redfish (https, port ${info.redfish.port}); certificate ${info.redfish.cert}, SHA-256 ${info.redfish.fingerprint}; requests logged in ${info.redfish.log}`]
      : []),
    `Run metalform inside the lab with: metalform lab exec -- metalform plan -c ${info.configPath}`,
  ];
  return lines.join("\n");
}

export function formatLabStatus(s: LabStatus): string {
  if (!s.namespaceExists && s.nodes.length === 0) return `Lab ${s.namespace} is down.`;
  const lines = [`Lab ${s.namespace}: ${s.namespaceExists ? (s.phase ?? "up") : "namespace missing"}; router advertisements ${s.radvdRunning ? "on" : "off"}.`];
  if (s.configPath) lines.push(`Cluster configuration: ${s.configPath}`);
  if (s.nodes.length > 0) {
    const rows = [["NODE", "MAC", "IP", "BMC", "BMC PROCESS", "VM", "POWER"]];
    for (const n of s.nodes) rows.push([n.name, n.mac, n.ip, n.bmcAddress, n.bmcRunning ? "running" : "stopped", n.vmRunning ? `running (pid ${n.vmPid})` : "off", n.power ?? "-"]);
    lines.push(...table(rows).map((l) => "  " + l));
  }
  return lines.join("\n");
}
