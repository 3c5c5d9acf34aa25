// The schema is the contract: it compiles in ajv's strict mode, and the
// validator the loader uses is generated from it and kept in sync.
import { describe, expect, it } from "vitest";
import { readFileSync } from "node:fs";
import { clusterValidatorSource, GENERATED_VALIDATOR_FILE } from "../../src/config/schema-codegen.js";

describe("cluster schema", () => {
  it("the generated validator is up to date with schemas/cluster.schema.json (strict mode compile)", () => {
    const fresh = clusterValidatorSource();
    expect(fresh).toContain("export default validate");
    const onDisk = readFileSync(GENERATED_VALIDATOR_FILE, "utf8");
    expect(
      onDisk === fresh,
      "src/config/cluster-validator.generated.ts is stale: npm run build && node -e 'import(\"./dist/config/schema-codegen.js\").then((m) => m.writeClusterValidator())'",
    ).toBe(true);
  });
});
