// Validation against schemas/cluster.schema.json, the user-facing contract.
// ajv's errors are turned into diagnostics at the offending key or value, with
// the noise of `oneOf` branches folded into one message and a "did you mean" for
// misspelt fields.
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { createRequire } from "node:module";
import type { ErrorObject, ValidateFunction } from "ajv";
import type { Diagnostic } from "./diagnostics.js";
import { locate, type PathSeg, type SourceFile } from "./source.js";

const require = createRequire(import.meta.url);
export const CLUSTER_SCHEMA_PATH = fileURLToPath(new URL("../../schemas/cluster.schema.json", import.meta.url));

let validator: ValidateFunction | undefined;
let schemaJson: Record<string, unknown> | undefined;

export function clusterSchema(): Record<string, unknown> {
  schemaJson ??= JSON.parse(readFileSync(CLUSTER_SCHEMA_PATH, "utf8")) as Record<string, unknown>;
  return schemaJson;
}

function getValidator(): ValidateFunction {
  if (validator) return validator;
  // CommonJS packages: loaded through require to keep their default exports simple under NodeNext.
  const Ajv2020 = require("ajv/dist/2020.js") as typeof import("ajv/dist/2020.js").default;
  const addFormats = require("ajv-formats") as typeof import("ajv-formats").default;
  const ajv = new Ajv2020({ strict: true, allErrors: true, verbose: true });
  addFormats(ajv, ["ipv4"]);
  validator = ajv.compile(clusterSchema());
  return validator;
}

function pointerToPath(pointer: string): PathSeg[] {
  if (!pointer) return [];
  return pointer
    .slice(1)
    .split("/")
    .map((s) => s.replace(/~1/g, "/").replace(/~0/g, "~"))
    .map((s) => (/^\d+$/.test(s) ? Number(s) : s));
}

/** Human path: nodes[3].bmc.password */
export function formatPath(path: readonly PathSeg[]): string {
  let out = "";
  for (const s of path) out += typeof s === "number" ? `[${s}]` : out ? `.${s}` : s;
  return out || "(top level)";
}

function editDistance(a: string, b: string): number {
  const d = Array.from({ length: a.length + 1 }, (_, i) => [i, ...Array<number>(b.length).fill(0)]);
  for (let j = 1; j <= b.length; j++) d[0]![j] = j;
  for (let i = 1; i <= a.length; i++)
    for (let j = 1; j <= b.length; j++)
      d[i]![j] = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + (a[i - 1]!.toLowerCase() === b[j - 1]!.toLowerCase() ? 0 : 1));
  return d[a.length]![b.length]!;
}

/** Closest known name within a small edit distance, for "did you mean". */
export function suggest(word: string, candidates: Iterable<string>): string | undefined {
  let best: string | undefined;
  let bestD = Infinity;
  for (const c of candidates) {
    const dist = editDistance(word, c);
    if (dist < bestD) {
      bestD = dist;
      best = c;
    }
  }
  return best !== undefined && bestD <= Math.max(2, Math.floor(word.length / 3)) ? best : undefined;
}

/** How a path is named in messages: `node "web1" field mac` reads better than nodes[3].mac. */
function subject(data: unknown, path: readonly PathSeg[]): string {
  if (path[0] === "nodes" && typeof path[1] === "number" && path.length > 2) {
    const name = (data as { nodes?: Array<{ name?: unknown }> }).nodes?.[path[1]]?.name;
    if (typeof name === "string") return `${formatPath(path.slice(2))}" of node "${name}`;
  }
  return formatPath(path);
}

/** Known property names of the schema object an error sits in (for suggestions). */
function knownProps(err: ErrorObject): string[] {
  const s = err.parentSchema as { properties?: Record<string, unknown> } | undefined;
  return s?.properties ? Object.keys(s.properties) : [];
}

function describe(err: ErrorObject): string {
  const p = err.params as Record<string, unknown>;
  const desc = (err.parentSchema as { description?: string } | undefined)?.description;
  switch (err.keyword) {
    case "type":
      return `must be ${p.type === "integer" ? "an integer" : p.type === "array" ? "a list" : p.type === "object" ? "a mapping" : `a ${String(p.type)}`}`;
    case "enum":
      return `must be one of ${(p.allowedValues as unknown[]).map((v) => JSON.stringify(v)).join(", ")}`;
    case "pattern":
    case "format": {
      const shown = typeof err.data === "string" ? ` (${JSON.stringify(err.data.length > 60 ? err.data.slice(0, 60) + "…" : err.data)})` : "";
      return `is not valid${shown}${desc ? `: expected ${desc.charAt(0).toLowerCase()}${desc.slice(1).replace(/\.$/, "")}` : ""}`;
    }
    case "minimum":
    case "maximum":
      return `must be ${err.keyword === "minimum" ? ">=" : "<="} ${String(p.limit)}`;
    case "minItems":
      return `must have at least ${String(p.limit)} item${p.limit === 1 ? "" : "s"}`;
    case "minLength":
      return "must not be empty";
    case "maxLength":
      return `must be at most ${String(p.limit)} characters`;
    case "minProperties":
      return `must set at least ${String(p.limit)} field${p.limit === 1 ? "" : "s"}`;
    default:
      return err.message ?? "is invalid";
  }
}

/** What a schema error spoils: just an unknown field (dropped), or a whole entity. */
export interface SchemaDamage {
  unknownFields: PathSeg[][];
  brokenPaths: PathSeg[][];
}

export function validateAgainstSchema(src: SourceFile, damage?: SchemaDamage): Diagnostic[] {
  const validate = getValidator();
  if (validate(src.data)) return [];
  const errors = validate.errors ?? [];
  // A failed oneOf reports every branch's complaints; keep only the oneOf itself.
  const oneOfPaths = errors.filter((e) => e.keyword === "oneOf").map((e) => e.instancePath);
  const diags: Diagnostic[] = [];
  const seen = new Set<string>();
  for (const e of errors) {
    if (e.keyword !== "oneOf" && oneOfPaths.some((p) => e.instancePath === p || e.instancePath.startsWith(p + "/"))) continue;
    if (e.keyword === "if" || e.keyword === "propertyNames") continue;
    const path = pointerToPath(e.instancePath);
    let code = "schema";
    let message: string;
    let pos = locate(src, path);
    const field = subject(src.data, path);
    if (e.keyword === "additionalProperties") {
      const prop = String((e.params as { additionalProperty: string }).additionalProperty);
      const fullPath = [...path, prop];
      // Names in maps (images, categories...) are validated by propertyNames, so this is a real unknown field.
      const hint = suggest(prop, knownProps(e));
      code = "unknown-field";
      message = `unknown field "${formatPath(fullPath)}"${hint ? `; did you mean "${hint}"?` : ""}`;
      pos = locate(src, fullPath, "key");
      damage?.unknownFields.push(fullPath);
    } else if (e.keyword === "required") {
      code = "missing-field";
      const prop = String((e.params as { missingProperty: string }).missingProperty);
      message = `${path.length ? `"${field}"` : "top level"} is missing required field "${prop}"`;
      pos = locate(src, path, path.length ? "key" : "value");
    } else if (e.keyword === "oneOf") {
      code = "invalid-secret";
      message = `"${field}" must be {env: VARIABLE}, {file: PATH}, or (discouraged) an inline string`;
    } else if (e.keyword === "propertyNames" || (e.keyword === "pattern" && e.propertyName)) {
      code = "invalid-name";
      message = `name "${e.propertyName}" in "${field}" is not valid (letters, digits, ".", "_" and "-", starting with a letter or digit)`;
      pos = locate(src, [...path, e.propertyName ?? ""], "key");
    } else {
      code = e.keyword === "enum" ? "invalid-value" : e.keyword === "type" ? "wrong-type" : "invalid-value";
      message = `"${field}" ${describe(e)}`;
    }
    if (code !== "unknown-field") damage?.brokenPaths.push(path);
    const key = `${pos.line}:${pos.col}:${message}`;
    if (seen.has(key)) continue;
    seen.add(key);
    diags.push({ severity: "error", code, message, file: pos.file, line: pos.line, col: pos.col });
  }
  return diags;
}
