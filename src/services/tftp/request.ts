// What a read request asks for, decided from the request alone: the transfer mode and
// the normalized path inside the root, or the TFTP error that refuses it.
import { ErrorCode } from "./packet.js";
import { normalizeRequestPath } from "./path.js";

export type TransferMode = "octet" | "netascii";

/** A refusal: the ERROR packet's code and message, and the path as far as it was understood. */
export interface Refusal {
  ok: false;
  code: number;
  message: string;
  path: string;
}

export type ReadRequest = { ok: true; path: string; mode: TransferMode } | Refusal;

export function refusal(code: number, message: string, path: string): Refusal {
  return { ok: false, code, message, path };
}

export function readRequest(filename: string, rawMode: string): ReadRequest {
  const mode = rawMode.toLowerCase();
  if (mode !== "octet" && mode !== "netascii") return refusal(ErrorCode.IllegalOperation, `mode ${rawMode} not supported`, filename);
  const norm = normalizeRequestPath(filename);
  if (!norm.ok) return refusal(norm.code, norm.message, filename);
  return { ok: true, path: norm.path, mode };
}
