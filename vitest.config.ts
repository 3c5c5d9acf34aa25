import { defineConfig } from "vitest/config";

// Three tiers, chosen by file name (see README "Tests"):
//   unit         test/**/NAME.test.ts      no root, namespaces, QEMU, PostgreSQL or real peers; `npm test`
//   integration  test/**/NAME.int.test.ts  root, network namespaces, real Debian peers, loop devices, PostgreSQL;
//                                          also the built CLI spawned against large hostile inputs (seconds each)
//   e2e          test/**/NAME.e2e.test.ts  QEMU virtual machines (TCG), real OS installs
// `npx vitest run FILE` finds the tier from the name; `--project NAME` runs one tier.
const INT = "test/**/*.int.test.ts";
const E2E = "test/**/*.e2e.test.ts";

export default defineConfig({
  test: {
    projects: [
      {
        extends: true,
        test: {
          name: "unit",
          include: ["test/**/*.test.ts"],
          exclude: [INT, E2E],
          // Pure and CPU-light: use every core.
          maxWorkers: "100%",
          testTimeout: 30_000,
          hookTimeout: 60_000,
        },
      },
      {
        extends: true,
        test: {
          name: "integration",
          include: [INT],
          // Namespaces and real servers; two at a time keeps them from starving each
          // other on a 2-core machine.
          maxWorkers: 2,
          testTimeout: 30_000,
          hookTimeout: 60_000,
        },
      },
      {
        extends: true,
        test: {
          name: "e2e",
          include: [E2E],
          // QEMU without KVM (TCG) is CPU bound: one VM file at a time, or each one's
          // boot timeouts measure the other's load.
          maxWorkers: 1,
          testTimeout: 600_000,
          hookTimeout: 1_200_000,
        },
      },
    ],
  },
});
