// bench/scale runs under vitest only to reuse the test harness (SimLab, the
// throwaway PostgreSQL); it prints numbers and asserts no timing.
import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["bench/scale/*.run.ts"],
    maxWorkers: 1,
    testTimeout: 3_600_000,
    hookTimeout: 600_000,
  },
});
