// Golden files: a rendering compared byte for byte with a reviewed file beside the
// test. UPDATE_GOLDEN=1 rewrites them (then review the diff); without it a missing
// file is an error, never silently created, so CI cannot pass on an empty baseline.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { expect } from "vitest";

/** Whether this run rewrites golden files (UPDATE_GOLDEN=1). */
export const updatingGolden = (): boolean => process.env.UPDATE_GOLDEN === "1";

/**
 * A comparer for the golden files in `dir` (a URL such as `new URL("./golden/",
 * import.meta.url)`, or a path): `golden(name, actual)` expects `actual` to equal the file.
 */
export function goldenDir(dir: URL | string): (name: string, actual: string) => void {
  const root = dir instanceof URL ? fileURLToPath(dir) : dir;
  return (name, actual) => {
    const file = join(root, name);
    if (updatingGolden()) {
      mkdirSync(root, { recursive: true });
      writeFileSync(file, actual);
    }
    if (!existsSync(file)) throw new Error(`golden file ${file} is missing: run with UPDATE_GOLDEN=1 and review the diff`);
    expect(actual).toBe(readFileSync(file, "utf8"));
  };
}
