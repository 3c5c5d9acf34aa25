// The bytes a read request gets: a virtual file from the provider (per-node boot
// files), else the file in the root; netascii converted in memory (bounded).
import type { Logger } from "../../util/log.js";
import { ErrorCode } from "./packet.js";
import { openInRoot } from "./path.js";
import { refusal, type Refusal, type TransferMode } from "./request.js";
import { BufferSource, FileSource, toNetascii, type ByteSource } from "./source.js";
import type { TransferRemote } from "./transfer.js";

/** Produces a virtual file for a request (see TftpServerOptions.provider). */
export type TftpFileProvider = (path: string, remote: TransferRemote) => Buffer | string | undefined | Promise<Buffer | string | undefined>;

export interface SourceContext {
  provider?: TftpFileProvider | undefined;
  /** The root's realpath; undefined when only the provider serves. */
  rootReal: string | undefined;
  maxNetasciiBytes: number;
  log: Logger;
}

export type OpenedSource = { ok: true; source: ByteSource; virtual: boolean } | Refusal;

export async function openRequestSource(req: { path: string; mode: TransferMode; remote: TransferRemote }, ctx: SourceContext): Promise<OpenedSource> {
  const opened = await openOctets(req.path, req.remote, ctx);
  if (!opened.ok || req.mode === "octet") return opened;
  const { source } = opened;
  if (source.size > ctx.maxNetasciiBytes) {
    await source.close();
    return refusal(ErrorCode.DiskFull, "file too large for netascii; use octet", req.path);
  }
  const raw = await source.read(0, source.size);
  await source.close();
  return { ok: true, source: new BufferSource(toNetascii(raw)), virtual: opened.virtual };
}

async function openOctets(path: string, remote: TransferRemote, ctx: SourceContext): Promise<OpenedSource> {
  if (ctx.provider) {
    let content: Buffer | string | undefined;
    try {
      content = await ctx.provider(path, remote);
    } catch (e) {
      ctx.log.error("provider-failed", { path, error: (e as Error).message });
      return refusal(ErrorCode.NotDefined, "cannot produce file", path);
    }
    if (content !== undefined) {
      return { ok: true, source: new BufferSource(typeof content === "string" ? Buffer.from(content, "utf8") : content), virtual: true };
    }
  }
  if (!ctx.rootReal) return refusal(ErrorCode.FileNotFound, "file not found", path);
  const opened = await openInRoot(ctx.rootReal, path);
  if (!opened.ok) return refusal(opened.code, opened.message, path);
  return { ok: true, source: new FileSource(opened.handle, opened.size), virtual: false };
}
