// bench/debian runs under vitest only to reuse the test helpers (the cached Debian root,
// the Debian lab); it prints numbers and asserts no timing.
import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["bench/debian/*.run.ts"],
    maxWorkers: 1,
    testTimeout: 3_600_000,
    hookTimeout: 3_600_000,
  },
});
