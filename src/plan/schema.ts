// Validation of plan documents (saved plan files, and the tests of `--json`) against
// schemas/plan.schema.json, the user-facing contract.
import { readFileSync } from "node:fs";
import { Ajv2020 } from "ajv/dist/2020.js";
import addFormatsModule from "ajv-formats";
import type { ValidateFunction } from "ajv";

// ajv-formats is CommonJS: its default export arrives as module.exports under NodeNext.
const addFormats = ((addFormatsModule as unknown as { default?: unknown }).default ?? addFormatsModule) as unknown as (ajv: Ajv2020) => Ajv2020;

/** The schema file; two levels up from src/plan and dist/plan alike. */
export const PLAN_SCHEMA_URL = new URL("../../schemas/plan.schema.json", import.meta.url);

let validator: ValidateFunction | undefined;

export function planValidator(): ValidateFunction {
  if (!validator) {
    const ajv = new Ajv2020({ strict: true, allErrors: true });
    addFormats(ajv);
    validator = ajv.compile(JSON.parse(readFileSync(PLAN_SCHEMA_URL, "utf8")) as object);
  }
  return validator;
}

/** Problems of a plan document, as "path: message" lines; empty when it is valid. */
export function validatePlanJson(doc: unknown): string[] {
  const v = planValidator();
  if (v(doc)) return [];
  return (v.errors ?? []).map((e) => `${e.instancePath || "/"}: ${e.message ?? "invalid"}`);
}
