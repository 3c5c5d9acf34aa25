// Turning a requested file name into a file inside the served root, and nothing else.
//
// Decisions (documented for operators):
// - One leading "/" is stripped and the rest is taken relative to the root, because
//   many firmwares and boot loaders (UEFI PXE, GRUB, some iPXE configs) ask for
//   "/pxelinux.0" meaning the TFTP root, as tftpd-hpa -s and atftpd do. So
//   "/etc/passwd" names ROOT/etc/passwd, never the host's file. Two leading slashes
//   are refused.
// - "\" is read as "/" (Windows boot loaders send "boot\bcd").
// - ".." anywhere, control characters (NUL cannot arrive: it ends the string on the
//   wire) and names over 1024 bytes are refused with ERROR 2.
// - After the lexical check the path is resolved with realpath and must still lie
//   inside the root's realpath: a symlink pointing out of the root is refused.
// - The file is opened O_NOFOLLOW|O_NONBLOCK (a FIFO cannot hang the server) and
//   must be a regular file.
// Escaped forms such as "%2e%2e" are not decoded: TFTP names are literal.

import { constants, promises as fsp } from "node:fs";
import path from "node:path";
import { ErrorCode } from "./packet.js";

export const MAX_PATH_BYTES = 1024;

export type PathResult = { ok: true; path: string } | { ok: false; code: number; message: string };

// Control characters C0 and DEL.
const CONTROL = /[\u0000-\u001f\u007f]/;

/** Lexical check and normalization: "a//b/./c" → "a/b/c". */
export function normalizeRequestPath(raw: string): PathResult {
  const refuse = (message: string): PathResult => ({ ok: false, code: ErrorCode.AccessViolation, message });
  if (Buffer.byteLength(raw, "utf8") > MAX_PATH_BYTES) return refuse("file name too long");
  if (CONTROL.test(raw)) return refuse("control character in file name");
  let p = raw.replace(/\\/g, "/");
  if (p.startsWith("/")) p = p.slice(1);
  if (p.startsWith("/")) return refuse("absolute path");
  const segments: string[] = [];
  for (const seg of p.split("/")) {
    if (seg === "" || seg === ".") continue;
    if (seg === "..") return refuse("'..' in file name");
    segments.push(seg);
  }
  if (segments.length === 0) return { ok: false, code: ErrorCode.FileNotFound, message: "no file name" };
  return { ok: true, path: segments.join("/") };
}

export type OpenResult = { ok: true; handle: fsp.FileHandle; size: number } | { ok: false; code: number; message: string };

/** True when `candidate` (a realpath) is `root` or below it. */
export function isInside(root: string, candidate: string): boolean {
  if (candidate === root) return true;
  const prefix = root.endsWith(path.sep) ? root : root + path.sep;
  return candidate.startsWith(prefix);
}

/** Opens ROOT/rel for reading. `rootReal` must already be the root's realpath. */
export async function openInRoot(rootReal: string, rel: string): Promise<OpenResult> {
  let real: string;
  try {
    real = await fsp.realpath(path.join(rootReal, rel));
  } catch (e) {
    return fsError(e);
  }
  if (!isInside(rootReal, real)) return { ok: false, code: ErrorCode.AccessViolation, message: "outside the TFTP root" };
  let handle: fsp.FileHandle;
  try {
    handle = await fsp.open(real, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  } catch (e) {
    return fsError(e);
  }
  try {
    const st = await handle.stat();
    if (!st.isFile()) {
      await handle.close();
      return { ok: false, code: ErrorCode.FileNotFound, message: "not a regular file" };
    }
    return { ok: true, handle, size: st.size };
  } catch (e) {
    await handle.close().catch(() => {});
    return fsError(e);
  }
}

function fsError(e: unknown): OpenResult {
  const code = (e as NodeJS.ErrnoException).code;
  if (code === "ENOENT" || code === "ENOTDIR") return { ok: false, code: ErrorCode.FileNotFound, message: "file not found" };
  if (code === "EACCES" || code === "EPERM" || code === "ELOOP") return { ok: false, code: ErrorCode.AccessViolation, message: "access violation" };
  return { ok: false, code: ErrorCode.NotDefined, message: "cannot open file" };
}
