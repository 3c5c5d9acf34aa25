// The shared state store contract against the local file backend.
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll } from "vitest";
import { LocalStateStore } from "../../src/state/local.js";
import { stateStoreContract } from "./contract.js";

const root = mkdtempSync(join(tmpdir(), "mf-contract-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));
let n = 0;

stateStoreContract("local file", () => ({
  fresh() {
    const path = join(root, `case${++n}`, "state.json");
    return {
      make: () => new LocalStateStore(path),
      tamper: async (text) => writeFileSync(path, text),
      raw: async () => (existsSync(path) ? readFileSync(path, "utf8") : undefined),
    };
  },
}));
