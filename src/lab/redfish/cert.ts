// The lab's Redfish BMCs' HTTPS certificate: one self-signed certificate per lab,
// made with openssl, naming every BMC address (IP SANs). It is its own CA, so the
// lab's cluster configuration trusts it with `tls: {ca: FILE}`; its SHA-256
// fingerprint is what `tls: {fingerprint: …}` would pin. The key is 0600.
import { X509Certificate } from "node:crypto";
import { chmodSync, readFileSync } from "node:fs";
import { mustRun } from "../run.js";

export interface LabCertificate {
  cert: string;
  key: string;
  /** SHA-256 fingerprint as openssl prints it (AB:CD:…). */
  fingerprint: string;
}

/** Makes a fresh EC P-256 certificate valid for `days` days for these addresses. */
export async function makeBmcCertificate(opts: { cert: string; key: string; addresses: string[]; name: string; days?: number }): Promise<LabCertificate> {
  const san = opts.addresses.map((a) => `IP:${a}`).join(",");
  await mustRun([
    "openssl",
    "req",
    "-x509",
    "-newkey",
    "ec",
    "-pkeyopt",
    "ec_paramgen_curve:prime256v1",
    "-nodes",
    "-days",
    String(opts.days ?? 30),
    "-subj",
    `/CN=${opts.name.replace(/[/=]/g, "_")}`,
    "-addext",
    `subjectAltName=${san}`,
    "-keyout",
    opts.key,
    "-out",
    opts.cert,
  ]);
  chmodSync(opts.key, 0o600);
  return { cert: opts.cert, key: opts.key, fingerprint: new X509Certificate(readFileSync(opts.cert)).fingerprint256 };
}
