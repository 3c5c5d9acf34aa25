// Unpacking a tarball image (.tar, .tar.gz, .tgz, .tar.zst, .tar.xz) into a snapshot.
// The member names are checked before anything is unpacked: an absolute path or a
// `..` component would write outside the snapshot, so such an archive is refused
// whole. GNU tar reads every compression by itself (zstd and xz through their tools).
import type { ToolResult } from "./tool.js";
import { runTool, toolError } from "./tool.js";

export class ArchiveError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ArchiveError";
  }
}

/** Why a member name is unsafe to unpack, or undefined when it is fine. */
export function unsafeMemberName(name: string): string | undefined {
  if (name.startsWith("/")) return "an absolute path";
  if (name.split("/").includes("..")) return "a '..' component";
  return undefined;
}

/** The names tar lists, one per line (tar escapes newlines inside names). */
export function checkMemberNames(listing: string, archive: string): void {
  for (const name of listing.split("\n")) {
    if (!name) continue;
    const why = unsafeMemberName(name);
    if (why) throw new ArchiveError(`${archive} holds ${JSON.stringify(name)}, ${why}: refusing the archive (it would write outside the image)`);
  }
}

function failed(what: string, archive: string, r: ToolResult): ArchiveError {
  return new ArchiveError(`${archive} ${what}: ${toolError(r)}`);
}

/** Lists `archive`; throws an ArchiveError for a corrupt or unreadable one. */
export async function listTarball(archive: string): Promise<string> {
  const r = await runTool(["tar", "--list", "--quoting-style=escape", "--file", archive], { keepStdout: true });
  if (r.code !== 0) throw failed("is not a readable tar archive", archive, r);
  return r.stdout;
}

/** Unpacks `archive` into `dir` (which exists) as root would: owners, modes, times kept. */
export async function unpackTarball(archive: string, dir: string): Promise<void> {
  checkMemberNames(await listTarball(archive), archive);
  const r = await runTool(["tar", "--extract", "--file", archive, "--directory", dir, "--numeric-owner", "--same-owner", "--same-permissions", "--xattrs", "--xattrs-include=*"]);
  if (r.code !== 0) throw failed("did not unpack", archive, r);
}
