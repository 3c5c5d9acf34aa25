// Long-lived per-node credentials: what the installed system's UP reporter (and a
// future node agent) presents, distinct from any install credential. A new one is
// issued for every install attempt (the previous one stops working), written into
// the installed system 0600 root-only, and only its sha256 is kept here — in a 0600
// file when a path is given, so installed nodes keep reporting across restarts of
// the head. A stolen head state file holds no usable credential.
import { createHash, randomBytes, timingSafeEqual } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import { rename, writeFile } from "node:fs/promises";

const sha256hex = (s: string) => createHash("sha256").update(s).digest("hex");

export class NodeCredentials {
  private hashes = new Map<string, string>();
  private writing: Promise<void> = Promise.resolve();

  /** `file`: where the hashes persist (undefined: in memory only). */
  constructor(private readonly file?: string) {
    if (file && existsSync(file)) {
      let parsed: unknown;
      try {
        parsed = JSON.parse(readFileSync(file, "utf8"));
      } catch (e) {
        throw new Error(`${file}: not the node credentials file metalform writes (${(e as Error).message}); move it away and reinstall the nodes to issue new ones`, { cause: e });
      }
      if (parsed && typeof parsed === "object" && !Array.isArray(parsed)) {
        for (const [n, h] of Object.entries(parsed)) if (typeof h === "string" && /^[0-9a-f]{64}$/.test(h)) this.hashes.set(n, h);
      }
    }
  }

  /** A fresh credential for a node; the one before it no longer verifies. */
  async issue(node: string): Promise<string> {
    const token = randomBytes(32).toString("base64url");
    this.hashes.set(node, sha256hex(token));
    await this.persist();
    return token;
  }

  verify(node: string, presented: string | undefined): boolean {
    const want = this.hashes.get(node);
    if (!want || !presented) return false;
    return timingSafeEqual(Buffer.from(sha256hex(presented), "hex"), Buffer.from(want, "hex"));
  }

  private persist(): Promise<void> {
    const file = this.file;
    if (!file) return Promise.resolve();
    const text = JSON.stringify(Object.fromEntries(this.hashes), null, 1) + "\n";
    // One write at a time, each atomic (a crash leaves the old or the new file).
    this.writing = this.writing.then(async () => {
      await writeFile(`${file}.tmp`, text, { mode: 0o600 });
      await rename(`${file}.tmp`, file);
    });
    return this.writing;
  }
}
