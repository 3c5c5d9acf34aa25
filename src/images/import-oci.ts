// Unpacking an OCI image into a snapshot with Debian's skopeo and umoci (both packaged,
// both speak the OCI formats natively; no registry is involved): skopeo copies an OCI
// archive, a `docker save` archive or an OCI layout into a private layout, and umoci
// applies its layers to a root tree (whiteouts honoured, paths kept inside the root).
import { existsSync, statSync } from "node:fs";
import { join } from "node:path";
import { ArchiveError, listTarball } from "./import-tar.js";
import { runTool, toolError } from "./tool.js";

export type OciKind = "oci-layout" | "oci-archive" | "docker-archive";

/** What kind of OCI source `path` is, from its files. */
export async function ociKind(path: string): Promise<OciKind> {
  if (statSync(path).isDirectory()) {
    if (existsSync(join(path, "oci-layout")) && existsSync(join(path, "index.json"))) return "oci-layout";
    throw new ArchiveError(`${path} is a directory but not an OCI layout (no oci-layout and index.json)`);
  }
  const names = new Set((await listTarball(path)).split("\n"));
  if (names.has("oci-layout") && names.has("index.json")) return "oci-archive";
  if (names.has("manifest.json")) return "docker-archive";
  throw new ArchiveError(`${path} is neither an OCI archive (oci-layout, index.json) nor a docker save archive (manifest.json)`);
}

function transport(kind: OciKind, path: string, ref?: string): string {
  if (path.includes(":")) throw new ArchiveError(`${path}: skopeo cannot name a path containing ':'; rename or link it`);
  const t = kind === "oci-layout" ? "oci" : kind;
  return `${t}:${path}${ref ? `:${ref}` : ""}`;
}

/** Unpacks the image at `path` (its `ref` when it holds several) into `work`/root. */
export async function unpackOci(path: string, ref: string | undefined, work: string): Promise<OciKind> {
  const kind = await ociKind(path);
  const layout = join(work, ".oci-layout");
  const copy = await runTool(["skopeo", "--tmpdir", work, "copy", "--quiet", transport(kind, path, ref), `oci:${layout}:image`]);
  if (copy.code !== 0) throw new ArchiveError(`${path}: skopeo could not read the image${ref ? ` ${ref}` : ""}: ${toolError(copy)}`);
  const unpack = await runTool(["umoci", "raw", "unpack", "--image", `${layout}:image`, join(work, "root")]);
  if (unpack.code !== 0) throw new ArchiveError(`${path}: umoci could not unpack the image's layers: ${toolError(unpack)}`);
  await runTool(["rm", "-rf", layout]);
  return kind;
}
