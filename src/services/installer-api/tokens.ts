// Per-node tokens for the installer API. A token is HMAC-SHA256(key, scope, node):
// unguessable without the key (32 random bytes from crypto.randomBytes unless the
// caller passes a persisted one), different for every node and scope, and stable for a
// given key, so the UP reporter on an installed node keeps working after the head node
// restarts when the key is kept in state. Compared in constant time.
import { createHmac, randomBytes, timingSafeEqual } from "node:crypto";

/** `install`: plan, reports and BMC password during installation; `up`: the installed system's UP report only. */
export type TokenScope = "install" | "up";

export class NodeTokens {
  readonly key: Buffer;

  constructor(key?: Buffer) {
    if (key && key.length < 16) throw new Error("token key must be at least 16 bytes");
    this.key = key ?? randomBytes(32);
  }

  token(node: string, scope: TokenScope): string {
    return createHmac("sha256", this.key).update(`metalform-installer\0${scope}\0${node}`).digest("base64url");
  }

  verify(node: string, scope: TokenScope, presented: string | undefined): boolean {
    if (!presented) return false;
    const want = Buffer.from(this.token(node, scope));
    const got = Buffer.from(presented);
    // Length is not secret (all tokens are 43 characters); only the bytes are compared in constant time.
    return got.length === want.length && timingSafeEqual(got, want);
  }
}
