// Runs the real curl against the server under test and returns status, headers
// and body. Fails (never skips) when curl is missing, naming the Debian package.

import { execFile } from "node:child_process";

export interface CurlResult {
  status: number;
  headers: Record<string, string>;
  body: Buffer;
}

export function curl(args: string[], timeoutMs = 15_000): Promise<CurlResult> {
  // -i puts the response head before the body; --path-as-is keeps curl from
  // squashing `..` itself, so the server sees what an attacker would send.
  const full = ["-sS", "-i", "--path-as-is", "--max-time", String(Math.ceil(timeoutMs / 1000)), ...args];
  return new Promise((resolve, reject) => {
    execFile("curl", full, { encoding: "buffer", maxBuffer: 64 << 20, timeout: timeoutMs + 2000 }, (err, stdout, stderr) => {
      if (err && (err as NodeJS.ErrnoException).code === "ENOENT") {
        return reject(new Error("curl is not installed: apt-get install -y curl (Debian package curl)"));
      }
      if (err && stdout.length === 0) return reject(new Error(`curl ${full.join(" ")} failed: ${stderr.toString()}`));
      resolve(parseResponse(stdout));
    });
  });
}

function parseResponse(raw: Buffer): CurlResult {
  let rest = raw;
  // Skip interim 100 Continue heads.
  for (;;) {
    const end = rest.indexOf("\r\n\r\n");
    if (end === -1) throw new Error(`no HTTP head in curl output: ${rest.toString().slice(0, 200)}`);
    const head = rest.subarray(0, end).toString("latin1");
    const body = rest.subarray(end + 4);
    const lines = head.split("\r\n");
    const status = Number(/^HTTP\/[\d.]+ (\d{3})/.exec(lines[0] ?? "")?.[1]);
    if (status === 100) {
      rest = body;
      continue;
    }
    const headers: Record<string, string> = {};
    for (const l of lines.slice(1)) {
      const i = l.indexOf(":");
      if (i > 0) headers[l.slice(0, i).trim().toLowerCase()] = l.slice(i + 1).trim();
    }
    return { status, headers, body };
  }
}
