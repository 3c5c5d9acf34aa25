// The TLS connection to a Redfish BMC, checked before a single byte of a request
// (which may carry the password) is written: against a CA file, against a pinned
// SHA-256 fingerprint of the BMC's certificate, against the system's CA store (no
// `tls` setting), or not at all (`insecure: true`, which the caller warns about).
// Node's own fetch cannot be given a CA or a pin without the undici package, so the
// driver uses node:https over a socket this file has already verified.
import { readFileSync } from "node:fs";
import { isIP } from "node:net";
import { connect, type TLSSocket } from "node:tls";
import type { BmcTls } from "../../config/types.js";
import { PowerError } from "../driver.js";

export interface TlsTarget {
  host: string;
  port: number;
  /** Absent: the system's CA store. */
  tls?: BmcTls;
  timeoutMs: number;
  /** "host" or "host:port", for messages. */
  label: string;
}

/** A fingerprint as compared: 64 upper-case hex digits, no colons. */
export function normalizeFingerprint(fp: string): string {
  return fp.replace(/:/g, "").toUpperCase();
}

/** AB:CD:… as openssl prints it. */
export function colonFingerprint(fp: string): string {
  return normalizeFingerprint(fp).replace(/(..)(?=.)/g, "$1:");
}

// Node's codes for a certificate that failed verification (OpenSSL's X509_V_ERR_* names and the host check).
const CERT_ERRORS = /CERT|SELF_SIGNED|UNABLE_TO_(GET|VERIFY)|ALTNAME|ISSUER|CHAIN|SIGNATURE/;
const UNREACHABLE = new Set(["ECONNREFUSED", "EHOSTUNREACH", "ENETUNREACH", "ETIMEDOUT", "ECONNRESET", "EPIPE", "ENOTFOUND", "EAI_AGAIN", "EADDRNOTAVAIL"]);

/** A socket error as the operator should read it. */
export function connectError(t: TlsTarget, err: NodeJS.ErrnoException): PowerError {
  const code = err.code ?? "";
  if (CERT_ERRORS.test(code)) {
    const how = t.tls && "ca" in t.tls ? `the CA in ${t.tls.ca}` : "the system's CA store";
    return new PowerError("tls", `BMC at ${t.label}: its HTTPS certificate is not trusted by ${how} (${code}: ${err.message}); set bmc.tls.ca or bmc.tls.fingerprint`);
  }
  if (UNREACHABLE.has(code)) return new PowerError("unreachable", `BMC at ${t.label}: cannot connect (${code})`);
  return new PowerError("failed", `BMC at ${t.label}: ${err.message}`);
}

function readCa(file: string, label: string): Buffer {
  try {
    return readFileSync(file);
  } catch (e) {
    throw new PowerError("config", `BMC at ${label}: cannot read bmc.tls.ca ${file}: ${(e as Error).message}`);
  }
}

/** Connects and verifies; resolves with a socket ready for HTTP, or rejects with PowerError ("tls", "unreachable", …). */
export function connectVerified(t: TlsTarget): Promise<TLSSocket> {
  const tls = t.tls;
  const pinned = tls && "fingerprint" in tls ? normalizeFingerprint(tls.fingerprint) : undefined;
  const ca = tls && "ca" in tls ? readCa(tls.ca, t.label) : undefined;
  // A pin replaces the chain check (BMC certificates are mostly self-signed); insecure skips both.
  const verifyChain = !pinned && !(tls && "insecure" in tls);
  return new Promise((resolve, reject) => {
    const socket = connect({
      host: t.host,
      port: t.port,
      // SNI takes names only; an address is checked against the certificate's IP SANs.
      ...(isIP(t.host) ? {} : { servername: t.host }),
      ...(ca ? { ca } : {}),
      rejectUnauthorized: verifyChain,
      ALPNProtocols: ["http/1.1"],
    });
    const timer = setTimeout(() => socket.destroy(Object.assign(new Error(`no TLS handshake within ${t.timeoutMs} ms`), { code: "ETIMEDOUT" })), t.timeoutMs);
    socket.once("error", (e: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      reject(connectError(t, e));
    });
    socket.once("secureConnect", () => {
      clearTimeout(timer);
      if (pinned) {
        const seen = normalizeFingerprint(socket.getPeerCertificate().fingerprint256 ?? "");
        if (seen !== pinned) {
          socket.destroy();
          return reject(
            new PowerError(
              "tls",
              `BMC at ${t.label}: its certificate's SHA-256 fingerprint ${colonFingerprint(seen)} is not the pinned ${colonFingerprint(pinned)}; nothing was sent`,
            ),
          );
        }
      }
      resolve(socket);
    });
  });
}
