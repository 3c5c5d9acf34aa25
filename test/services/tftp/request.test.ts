// A read request decided from the request alone: mode and path, or the refusal.
import { describe, expect, it } from "vitest";
import { ErrorCode } from "../../../src/services/tftp/packet.js";
import { readRequest } from "../../../src/services/tftp/request.js";

describe("readRequest", () => {
  it("accepts octet and netascii in any case, with the path normalized", () => {
    expect(readRequest("/boot//./snponly.efi", "OCTET")).toEqual({ ok: true, path: "boot/snponly.efi", mode: "octet" });
    expect(readRequest("boot\\bcd", "NetAscii")).toEqual({ ok: true, path: "boot/bcd", mode: "netascii" });
  });

  it("refuses other modes and paths out of the root, naming the code and the request", () => {
    expect(readRequest("a", "mail")).toEqual({ ok: false, code: ErrorCode.IllegalOperation, message: "mode mail not supported", path: "a" });
    expect(readRequest("../etc/passwd", "octet")).toMatchObject({ ok: false, code: ErrorCode.AccessViolation, path: "../etc/passwd" });
    expect(readRequest("//etc/passwd", "octet")).toMatchObject({ ok: false, message: "absolute path" });
  });
});
