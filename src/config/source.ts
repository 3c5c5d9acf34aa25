// Reading configuration files: find them, refuse hostile input (huge, non-UTF-8,
// alias bombs, absurd nesting) in bounded time and memory, parse YAML keeping
// source positions, and answer "where is this path?" for diagnostics.
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join, relative, resolve } from "node:path";
import { isAlias, isMap, isPair, isScalar, isSeq, LineCounter, parseDocument, type Document, type Node as YamlNode } from "yaml";
import type { Diagnostic } from "./diagnostics.js";
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

/** What the pre-scan refuses, and where. */
interface ScanProblem {
  offset: number;
  code: "yaml-too-deep" | "string-too-long";
}

/** Characters after which a value may start: line start, ":", "-", "?", "[", "{", ",". */
const VALUE_START = new Set([10, 58, 45, 63, 91, 123, 44]);

const BLOCK_SCALAR_HEADER = /(?:^|\s)[|>][1-9+-]{0,2}[ \t]*(?:#.*)?$/;

/**
 * One linear pass over the text before the YAML parser sees it (the parser
 * recurses per nesting level and copies quoted strings character by character):
 * refuses collections nested deeper than `maxDepth` (flow brackets, block
 * indentation and "- - -" sequences) and quoted strings longer than `maxString`.
 * It is an estimate on the safe side: block scalar text and multi-line plain
 * scalars are not collections, and are skipped or counted at most once.
 */
function prescan(text: string, maxDepth: number, maxString: number): ScanProblem | undefined {
  let flow = 0;
  let quote = 0; // char code of the open quote, or 0
  let quoteStart = 0;
  let comment = false;
  const indents: number[] = []; // columns of the block collections open at this line
  let blockScalarIndent = -1; // inside a `|` or `>` scalar: lines deeper than this are text
  const n = text.length;
  const isSpace = (c: number) => c === 32 || c === 9 || c === 10 || c === 13;
  let lastSig = 10; // last non-blank character on this line outside quotes (10: none yet)
  for (let i = 0; i < n; i++) {
    if ((i === 0 || text.charCodeAt(i - 1) === 10) && !quote && flow === 0) {
      let j = i;
      while (j < n && text.charCodeAt(j) === 32) j++;
      const c = text.charCodeAt(j);
      const blank = j >= n || c === 10 || c === 13 || c === 35; /* # */
      if (!blank) {
        const indent = j - i;
        if (blockScalarIndent >= 0 && indent > blockScalarIndent) {
          // Text of a block scalar: skip the line.
          const eol = text.indexOf("\n", j);
          i = eol < 0 ? n : eol;
          continue;
        }
        blockScalarIndent = -1;
        while (indents.length && indents[indents.length - 1]! >= indent) indents.pop();
        indents.push(indent);
        // "- - x" and "? ? x" open one collection per marker on the same line.
        for (;;) {
          const m = text.charCodeAt(j);
          const next = text.charCodeAt(j + 1);
          if (!((m === 45 || m === 63) && (j + 1 >= n || next === 32 || next === 10 || next === 13))) break;
          j++;
          while (j < n && text.charCodeAt(j) === 32) j++;
          indents.push(j - i);
          if (indents.length > maxDepth) return { offset: j, code: "yaml-too-deep" };
        }
        if (indents.length > maxDepth) return { offset: j, code: "yaml-too-deep" };
        let eol = text.indexOf("\n", j);
        if (eol < 0) eol = n;
        if (eol - j < 4096 && BLOCK_SCALAR_HEADER.test(text.slice(j, eol).replace(/\r$/, ""))) blockScalarIndent = indent;
      }
    }
    const c = text.charCodeAt(i);
    if (c === 10) {
      comment = false;
      lastSig = 10;
      continue;
    }
    if (comment) continue;
    if (quote) {
      if (i - quoteStart > maxString) return { offset: quoteStart, code: "string-too-long" };
      if (quote === 34 && c === 92) i++; // backslash escape in "..."
      else if (c === quote) {
        quote = 0;
        lastSig = c;
      }
      continue;
    }
    const prev = i === 0 ? 10 : text.charCodeAt(i - 1);
    // Quotes and brackets open something only where a value starts (after "key: ",
    // "- ", "[", "{" or ","), not inside a plain scalar such as node[001-128] or it's.
    const valueStart = (isSpace(prev) || prev === 91 || prev === 123 || prev === 44) && VALUE_START.has(lastSig);
    if (c === 35 && (i === 0 || isSpace(prev))) comment = true;
    else if ((c === 34 || c === 39) && valueStart) {
      quote = c;
      quoteStart = i;
    } else if ((c === 91 || c === 123) && valueStart) {
      if (++flow + indents.length > maxDepth) return { offset: i, code: "yaml-too-deep" };
    } else if ((c === 93 || c === 125) && flow > 0) flow--;
    if (!isSpace(c)) lastSig = c;
  }
  return undefined;
}

export function readSource(path: string, budget: { bytes: number }): { source?: SourceFile; diagnostics: Diagnostic[] } {
  const err = (code: string, message: string, line?: number, col?: number): { diagnostics: Diagnostic[] } => ({
    diagnostics: [{ severity: "error", code, message, file: path, ...(line ? { line, col } : {}) }],
  });
  let size: number;
  try {
    size = statSync(path).size;
  } catch (e) {
    return err("config-unreadable", `cannot read: ${(e as Error).message}`);
  }
  if (size > LIMITS.maxFileBytes) {
    return err("file-too-large", `file is ${(size / 1048576).toFixed(1)} MiB; the limit is ${LIMITS.maxFileBytes / 1048576} MiB per file`);
  }
  budget.bytes += size;
  if (budget.bytes > LIMITS.maxTotalBytes) {
    return err("config-too-large", `configuration exceeds ${LIMITS.maxTotalBytes / 1048576} MiB in total`);
  }
  const bytes = readFileSync(path);
  let text: string;
  try {
    text = new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch {
    const bad = firstInvalidUtf8(bytes);
    const before = bytes.subarray(0, bad).toString("utf8");
    const p = posOfOffset(before, before.length);
    return err("not-utf8", `file is not valid UTF-8 (first bad byte at offset ${bad}); save it as UTF-8`, p.line, p.col);
  }
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
  const problem = prescan(text, LIMITS.maxDepth, LIMITS.maxStringChars);
  if (problem) {
    const p = posOfOffset(text, problem.offset);
    return problem.code === "yaml-too-deep"
      ? err("yaml-too-deep", `collections nested deeper than ${LIMITS.maxDepth} levels`, p.line, p.col)
      : err("string-too-long", `quoted string longer than ${LIMITS.maxStringChars.toLocaleString("en")} characters`, p.line, p.col);
  }
  const lineCounter = new LineCounter();
  let doc: Document.Parsed;
  try {
    // Duplicate keys are found by duplicateKeyOffsets below: the parser's own check
    // (uniqueKeys) compares each key with every earlier one, quadratic in the keys of a
    // mapping (a 31 MB file of 300,000 keys took over ten minutes).
    doc = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: false, strict: true });
  } catch (e) {
    if (e instanceof RangeError) return err("yaml-too-deep", "document is nested too deeply");
    return err("yaml-syntax", `cannot parse YAML: ${(e as Error).message}`);
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
    if (/call stack/i.test(msg)) return err("yaml-too-deep", "document is nested too deeply", p.line, p.col);
    if (/multiple documents/.test(msg)) {
      diagnostics.push({ severity: "error", code: "yaml-syntax", message: 'a configuration file holds one YAML document; this one has a second ("---")', file: path, line: p.line, col: p.col });
      continue;
    }
    diagnostics.push({ severity: "error", code: "yaml-syntax", message: msg, file: path, line: p.line, col: p.col });
  }
  if (diagnostics.length) return { diagnostics };
  let data: unknown;
  try {
    data = doc.toJS({ maxAliasCount: LIMITS.maxAliasCount });
  } catch (e) {
    const m = (e as Error).message;
    if (/alias/i.test(m)) {
      return err("yaml-alias-bomb", `too many alias expansions (limit ${LIMITS.maxAliasCount}): refusing a possible "billion laughs" document`);
    }
    if (e instanceof RangeError) return err("yaml-too-deep", "document is nested too deeply");
    return err("yaml-syntax", m);
  }
  return { source: { path, doc, lineCounter, data: data ?? {} }, diagnostics };
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
  const target = which === "key" && keyNode ? keyNode : node ?? keyNode;
  return posOfNode(src, target as YamlNode);
}
