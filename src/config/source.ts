// Reading configuration files: find them, refuse hostile input (huge, non-UTF-8,
// alias bombs, absurd nesting) in bounded time and memory, parse YAML keeping
// source positions, and answer "where is this path?" for diagnostics.
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join, relative, resolve } from "node:path";
import { isAlias, isMap, isPair, isScalar, isSeq, LineCounter, parseDocument, type Document, type Node as YamlNode } from "yaml";
import type { Diagnostic } from "./diagnostics.js";
import { prescan } from "./prescan.js";
import type { SourcePos } from "./types.js";

export const LIMITS = {
  /** One file: a 10,000-node cluster is a few MiB. */
  // The YAML syntax tree takes ~20x the text: these bound a load to well under 1 GiB.
  maxFileBytes: 16 * 1024 * 1024,
  maxTotalBytes: 32 * 1024 * 1024,
  maxFiles: 10_000,
  /** Aliases resolved per document (the yaml library counts expansion work). */
  maxAliasCount: 1000,
  maxDepth: 64,
  /** Characters in one quoted string (paths and names are short; the parser copies these slowly). */
  maxStringChars: 64 * 1024,
};

export type PathSeg = string | number;

export interface SourceFile {
  path: string;
  doc: Document.Parsed;
  lineCounter: LineCounter;
  /** Plain data (undefined when the file could not be parsed). */
  data: unknown;
}

/** Files of a configuration: a file, or every *.yaml / *.yml below a directory (sorted, hidden skipped). */
export function listConfigFiles(path: string): { files: string[]; diagnostics: Diagnostic[] } {
  const abs = resolve(path);
  let st;
  try {
    st = statSync(abs);
  } catch {
    return { files: [], diagnostics: [{ severity: "error", code: "config-not-found", message: `configuration "${path}" does not exist`, file: abs }] };
  }
  if (st.isFile()) return { files: [abs], diagnostics: [] };
  const files: string[] = [];
  const walk = (dir: string) => {
    for (const e of readdirSync(dir, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
      if (e.name.startsWith(".")) continue;
      const p = join(dir, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.isFile() && /\.ya?ml$/.test(e.name)) files.push(p);
      if (files.length > LIMITS.maxFiles) return;
    }
  };
  walk(abs);
  if (files.length > LIMITS.maxFiles) {
    return { files: [], diagnostics: [{ severity: "error", code: "too-many-files", message: `more than ${LIMITS.maxFiles} YAML files under "${path}"`, file: abs }] };
  }
  files.sort((a, b) => relative(abs, a).localeCompare(relative(abs, b)));
  if (files.length === 0) {
    return { files, diagnostics: [{ severity: "error", code: "config-not-found", message: `no *.yaml or *.yml files in directory "${path}"`, file: abs }] };
  }
  return { files, diagnostics: [] };
}

/** Line and column (1-based) of a byte offset's character in text. */
function posOfOffset(text: string, offset: number): { line: number; col: number } {
  let line = 1;
  let last = -1;
  for (let i = 0; i < offset && i < text.length; i++) {
    if (text.charCodeAt(i) === 10) {
      line++;
      last = i;
    }
  }
  return { line, col: offset - last };
}

/** Offset of the first byte that breaks UTF-8 (linear, for the error message). */
function firstInvalidUtf8(b: Uint8Array): number {
  let i = 0;
  while (i < b.length) {
    const c = b[i]!;
    const n = c < 0x80 ? 0 : c >= 0xc2 && c <= 0xdf ? 1 : c >= 0xe0 && c <= 0xef ? 2 : c >= 0xf0 && c <= 0xf4 ? 3 : -1;
    if (n < 0) return i;
    for (let k = 1; k <= n; k++) if (i + k >= b.length || (b[i + k]! & 0xc0) !== 0x80) return i;
    i += n + 1;
  }
  return i;
}

type Read<T> = { ok: T; diagnostics?: undefined } | { ok?: undefined; diagnostics: Diagnostic[] };

/** One configuration file parsed, or why not (errors only; the file is then left out). */
export function readSource(path: string, budget: { bytes: number }): { source?: SourceFile; diagnostics: Diagnostic[] } {
  const text = readText(path, budget);
  if (text.diagnostics) return { diagnostics: text.diagnostics };
  const problem = prescan(text.ok, LIMITS.maxDepth, LIMITS.maxStringChars);
  if (problem) {
    const p = posOfOffset(text.ok, problem.offset);
    return problem.code === "yaml-too-deep"
      ? fileError(path, "yaml-too-deep", `collections nested deeper than ${LIMITS.maxDepth} levels`, p)
      : fileError(path, "string-too-long", `quoted string longer than ${LIMITS.maxStringChars.toLocaleString("en")} characters`, p);
  }
  const parsed = parseYaml(path, text.ok);
  if (parsed.diagnostics) return { diagnostics: parsed.diagnostics };
  const { doc, lineCounter } = parsed.ok;
  const data = plainData(path, doc);
  if (data.diagnostics) return { diagnostics: data.diagnostics };
  return { source: { path, doc, lineCounter, data: data.ok.value ?? {} }, diagnostics: [] };
}

function fileError(path: string, code: string, message: string, at?: { line: number; col: number }): { diagnostics: Diagnostic[] } {
  return { diagnostics: [{ severity: "error", code, message, file: path, ...(at?.line ? { line: at.line, col: at.col } : {}) }] };
}

/** The file's text, within the size limits and valid UTF-8, without a byte-order mark. */
function readText(path: string, budget: { bytes: number }): Read<string> {
  let size: number;
  try {
    size = statSync(path).size;
  } catch (e) {
    return fileError(path, "config-unreadable", `cannot read: ${(e as Error).message}`);
  }
  if (size > LIMITS.maxFileBytes) {
    return fileError(path, "file-too-large", `file is ${(size / 1048576).toFixed(1)} MiB; the limit is ${LIMITS.maxFileBytes / 1048576} MiB per file`);
  }
  budget.bytes += size;
  if (budget.bytes > LIMITS.maxTotalBytes) {
    return fileError(path, "config-too-large", `configuration exceeds ${LIMITS.maxTotalBytes / 1048576} MiB in total`);
  }
  const bytes = readFileSync(path);
  let text: string;
  try {
    text = new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch {
    const bad = firstInvalidUtf8(bytes);
    const before = bytes.subarray(0, bad).toString("utf8");
    return fileError(path, "not-utf8", `file is not valid UTF-8 (first bad byte at offset ${bad}); save it as UTF-8`, posOfOffset(before, before.length));
  }
  return { ok: text.charCodeAt(0) === 0xfeff ? text.slice(1) : text };
}

/** The YAML document with its positions; its syntax errors and duplicate keys as diagnostics. */
function parseYaml(path: string, text: string): Read<{ doc: Document.Parsed; lineCounter: LineCounter }> {
  const lineCounter = new LineCounter();
  let doc: Document.Parsed;
  try {
    // Duplicate keys are found by duplicateKeyOffsets below: the parser's own check
    // (uniqueKeys) compares each key with every earlier one, quadratic in the keys of a
    // mapping (a 31 MB file of 300,000 keys took over ten minutes).
    doc = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: false, strict: true });
  } catch (e) {
    if (e instanceof RangeError) return fileError(path, "yaml-too-deep", "document is nested too deeply");
    return fileError(path, "yaml-syntax", `cannot parse YAML: ${(e as Error).message}`);
  }
  const diagnostics: Diagnostic[] = [];
  const problems = [
    ...doc.errors.map((e) => ({ offset: e.pos[0], message: e.message })),
    ...duplicateKeyOffsets(doc).map((offset) => ({ offset, message: "Map keys must be unique" })),
  ].sort((a, b) => a.offset - b.offset);
  for (const e of problems) {
    const p = lineCounter.linePos(e.offset);
    const msg = e.message.split("\n")[0]!.replace(/ at line \d+, column \d+:?$/, "");
    // The parser turns its own stack overflow into an error: nesting the pre-scan did not see.
    if (/call stack/i.test(msg)) return fileError(path, "yaml-too-deep", "document is nested too deeply", p);
    const message = /multiple documents/.test(msg) ? 'a configuration file holds one YAML document; this one has a second ("---")' : msg;
    diagnostics.push({ severity: "error", code: "yaml-syntax", message, file: path, line: p.line, col: p.col });
  }
  return diagnostics.length ? { diagnostics } : { ok: { doc, lineCounter } };
}

/** The document as plain data, with aliases expanded up to the limit. */
function plainData(path: string, doc: Document.Parsed): Read<{ value: unknown }> {
  try {
    return { ok: { value: doc.toJS({ maxAliasCount: LIMITS.maxAliasCount }) } };
  } catch (e) {
    const m = (e as Error).message;
    if (/alias/i.test(m)) {
      return fileError(path, "yaml-alias-bomb", `too many alias expansions (limit ${LIMITS.maxAliasCount}): refusing a possible "billion laughs" document`);
    }
    if (e instanceof RangeError) return fileError(path, "yaml-too-deep", "document is nested too deeply");
    return fileError(path, "yaml-syntax", m);
  }
}

/** Offsets of keys that repeat an earlier key of the same mapping (scalar keys by value, others by node). */
function duplicateKeyOffsets(doc: Document.Parsed): number[] {
  const found: number[] = [];
  const seen = new Set<unknown>();
  // Iterative walk: nesting is bounded by the pre-scan, but aliases may point anywhere.
  const stack: unknown[] = [doc.contents];
  const visited = new Set<unknown>();
  while (stack.length) {
    const node = stack.pop();
    if (!node || typeof node !== "object" || visited.has(node)) continue;
    visited.add(node);
    if (isMap(node)) {
      seen.clear();
      for (const pair of node.items) {
        if (!isPair(pair)) continue;
        const k = pair.key;
        const id = isScalar(k) ? `${typeof k.value}:${String(k.value)}` : k;
        if (seen.has(id)) found.push((k as YamlNode | null)?.range?.[0] ?? 0);
        else seen.add(id);
        stack.push(pair.key, pair.value);
      }
    } else if (isSeq(node)) {
      for (const item of node.items) stack.push(item);
    }
  }
  return found;
}

function posOfNode(src: SourceFile, node: YamlNode | undefined | null): SourcePos {
  const offset = node?.range?.[0] ?? 0;
  const p = src.lineCounter.linePos(offset);
  return { file: src.path, line: p.line, col: p.col };
}

/**
 * Position of `path` in a file: the value's position, or with `key` the key's.
 * When the path does not fully exist, the deepest existing part is used.
 */
export function locate(src: SourceFile, path: readonly PathSeg[], which: "key" | "value" = "value"): SourcePos {
  let node: unknown = src.doc.contents;
  let keyNode: unknown = undefined;
  for (const seg of path) {
    if (isAlias(node)) node = node.resolve(src.doc);
    if (isMap(node)) {
      const pair = node.items.find((p) => isPair(p) && (isScalar(p.key) ? p.key.value : p.key) === seg);
      if (!pair) break;
      keyNode = pair.key;
      node = pair.value;
    } else if (isSeq(node) && typeof seg === "number") {
      const item = node.items[seg];
      if (item === undefined) break;
      keyNode = item;
      node = item;
    } else break;
  }
  const target = which === "key" && keyNode ? keyNode : (node ?? keyNode);
  return posOfNode(src, target as YamlNode);
}
