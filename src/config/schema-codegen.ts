// Generates src/config/cluster-validator.generated.ts: ajv's standalone code for
// schemas/cluster.schema.json (strict mode, all errors, verbose), so that loading a
// configuration does not import ajv's compiler and compile the schema at run time —
// that was about a quarter of a cold `metalform validate` of 10,000 nodes.
// After editing the schema, regenerate (test/config/schema.test.ts fails until then):
//   npm run build && node -e 'import("./dist/config/schema-codegen.js").then((m) => m.writeClusterValidator())'
import { readFileSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { fileURLToPath } from "node:url";

const require = createRequire(import.meta.url);

export const CLUSTER_SCHEMA_FILE = fileURLToPath(new URL("../../schemas/cluster.schema.json", import.meta.url));
export const GENERATED_VALIDATOR_FILE = fileURLToPath(new URL("../../src/config/cluster-validator.generated.ts", import.meta.url));

/** The generated module's text for the schema as it is now. */
export function clusterValidatorSource(): string {
  // CommonJS packages: loaded through require to keep their default exports simple under NodeNext.
  const Ajv2020 = require("ajv/dist/2020.js") as typeof import("ajv/dist/2020.js").default;
  const addFormats = require("ajv-formats") as typeof import("ajv-formats").default;
  const standaloneCode = require("ajv/dist/standalone/index.js") as typeof import("ajv/dist/standalone/index.js").default;
  const ajv = new Ajv2020({ strict: true, allErrors: true, verbose: true, code: { source: true, esm: true } });
  addFormats(ajv, ["ipv4"]);
  const schema = JSON.parse(readFileSync(CLUSTER_SCHEMA_FILE, "utf8")) as object;
  const code = standaloneCode(ajv, ajv.compile(schema)).replace(/^"use strict";/, "");
  return [
    "// GENERATED from schemas/cluster.schema.json by src/config/schema-codegen.ts: do not edit.",
    "// @ts-nocheck",
    'import { createRequire } from "node:module";',
    "const require = createRequire(import.meta.url);",
    code,
    "",
  ].join("\n");
}

export function writeClusterValidator(): void {
  writeFileSync(GENERATED_VALIDATOR_FILE, clusterValidatorSource());
}
