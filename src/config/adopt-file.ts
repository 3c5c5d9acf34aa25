// Carrying out `discover adopt` on the configuration's files: load, check, choose the
// file and the address (adopt.ts), write, load again — and put the file back as it was
// when the result does not validate, so a failed adopt changes nothing.
import { existsSync, readFileSync, unlinkSync, writeFileSync } from "node:fs";
import { resolve } from "node:path";
import { addNodeToYaml, adoptFile, AdoptError, checkAdoptable, nextFreeIp, type AdoptEntry } from "./adopt.js";
import { formatDiagnostics, hasErrors, type Diagnostic } from "./diagnostics.js";
import { loadCluster } from "./load.js";
import type { Node } from "./types.js";

export interface AdoptRequest {
  configPath: string;
  mac: string;
  name: string;
  category?: string;
  /** The file to write (else chosen by adoptFile). */
  write?: string;
  ip?: string;
  bmcAddress?: string;
}

export interface Adopted {
  file: string;
  entry: AdoptEntry;
  node: Node;
}

export async function adoptIntoConfig(r: AdoptRequest): Promise<Adopted> {
  const before = await loadCluster(r.configPath);
  if (!before.cluster) throw new AdoptError(`${r.configPath} does not validate; fix it before adopting:\n${errorsOf(before.diagnostics)}`);
  const cluster = before.cluster;
  checkAdoptable(cluster, r);
  const category = r.category ?? (cluster.categories.size === 1 ? [...cluster.categories.keys()][0] : undefined);
  const entry: AdoptEntry = {
    name: r.name,
    mac: r.mac,
    ip: r.ip ?? nextFreeIp(cluster, category),
    ...(category ? { category } : {}),
    ...(r.bmcAddress ? { bmcAddress: r.bmcAddress } : {}),
  };
  const file = resolve(adoptFile(cluster, { ...(category ? { category } : {}), ...(r.write ? { write: r.write } : {}) }));
  const old = existsSync(file) ? readFileSync(file, "utf8") : undefined;
  writeFileSync(file, addNodeToYaml(old ?? "", entry, file));
  const after = await loadCluster(r.configPath);
  const node = after.cluster?.nodes.find((n) => n.name === r.name);
  if (!after.cluster || !node || hasErrors(after.diagnostics)) {
    restore(file, old);
    const why = hasErrors(after.diagnostics)
      ? `the configuration would not validate with ${r.name}:\n${errorsOf(after.diagnostics)}`
      : `${r.name} would not be part of the configuration (is the file one of it?)`;
    throw new AdoptError(`${file}: ${why}\nnothing was changed`);
  }
  return { file, entry, node };
}

function errorsOf(diags: readonly Diagnostic[]): string {
  return formatDiagnostics(
    diags.filter((d) => d.severity === "error"),
    { frames: false },
  );
}

/** The file as it was; one this adopt created is removed. */
function restore(file: string, old: string | undefined): void {
  if (old !== undefined) writeFileSync(file, old);
  else unlinkSync(file);
}
