// A node's own files and scripts as the configuration names them: the `files:`
// folder (read once per folder, however many nodes share it), `vars:` merged key by
// key, and the `initialize`/`finalize` scripts (inline or from a file). Rendering the
// templates per node is boot's work (boot/node-files.ts); here the folder is only read
// and checked, so a bad file is reported once, where the folder is named.
import { lstatSync, readdirSync, readFileSync } from "node:fs";
import { join, relative } from "node:path";
import { errorAt, type Diagnostic } from "./diagnostics.js";
import { mergeMaps, pick, type Level } from "./inherit.js";
import { absPath, posOf, type RawScript } from "./merge.js";
import type { FileFolder, FileSource, Node, NodeScript, NodeVars, SourcePos } from "./types.js";

/** Limits that keep an install plan (which carries every file) small. */
export const FILE_LIMITS = { files: 500, fileBytes: 1 << 20, totalBytes: 4 << 20 };

/** A file's path in the installed system: plain characters only (the installer writes it unquoted). */
const SAFE_PATH = /^\/[A-Za-z0-9_.,:=/+@%-]+$/;

/** What the node gets besides its image: files, values, scripts. */
export interface NodeExtras {
  files?: FileFolder;
  vars?: NodeVars;
  initialize?: NodeScript;
  finalize?: NodeScript;
}

/** Folders and scripts read so far, by absolute path (undefined: unusable, already reported). */
export type ExtrasCache = Map<string, FileFolder | NodeScript | undefined>;

class FolderError extends Error {}

/** The node's inherited files, vars and scripts; undefined when one of them is unusable (reported once where written). */
export function nodeExtras(levels: Level[], ctx: { cache: ExtrasCache; diags: Diagnostic[] }): NodeExtras | undefined {
  const out: NodeExtras = {};
  let ok = true;
  const files = pick(levels, "files");
  if (files?.value !== undefined) {
    const folder = cached(ctx, absPath(files.level.where, files.value), posOf(files.level.where, "files"), readFolder);
    if (folder) out.files = folder as FileFolder;
    else ok = false;
  }
  const vars = mergeMaps<NodeVars>(levels, "vars");
  if (vars) out.vars = vars.value;
  for (const key of ["initialize", "finalize"] as const) {
    const s = pick(levels, key);
    if (s?.value === undefined) continue;
    const script = scriptOf(s.value, s.level, key, ctx);
    if (script) out[key] = script;
    else ok = false;
  }
  return ok ? out : undefined;
}

function scriptOf(raw: RawScript, level: Level, key: "initialize" | "finalize", ctx: { cache: ExtrasCache; diags: Diagnostic[] }): NodeScript | undefined {
  const pos = posOf(level.where, key);
  if (typeof raw === "string") return { content: raw, source: `${pos.file}:${pos.line}` };
  const path = absPath(level.where, raw.file);
  return cached(ctx, path, posOf(level.where, key, "file"), (p) => {
    const content = readText(p, p);
    return { content, source: p };
  }) as NodeScript | undefined;
}

/** Reads `path` once; an error is reported once, at the first place that names it. */
function cached(ctx: { cache: ExtrasCache; diags: Diagnostic[] }, path: string, pos: SourcePos, read: (path: string) => FileFolder | NodeScript) {
  if (ctx.cache.has(path)) return ctx.cache.get(path);
  let value: FileFolder | NodeScript | undefined;
  try {
    value = read(path);
  } catch (e) {
    const msg = e instanceof FolderError ? e.message : `cannot read ${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`;
    ctx.diags.push(errorAt("unusable-node-file", msg, pos));
  }
  ctx.cache.set(path, value);
  return value;
}

/** UTF-8 text without NUL bytes: the install plan carries files as text. */
function readText(path: string, shown: string): string {
  const bytes = readFileSync(path);
  if (bytes.length > FILE_LIMITS.fileBytes) throw new FolderError(`${shown} is larger than ${FILE_LIMITS.fileBytes} bytes`);
  const text = new TextDecoder("utf-8", { fatal: false }).decode(bytes);
  if (bytes.includes(0) || text.includes("\uFFFD")) throw new FolderError(`${shown} is not UTF-8 text (per-node files and scripts are text)`);
  return text;
}

/** Every regular file below `dir`, sorted by path; a symlink or special file is an error. */
function readFolder(dir: string): FileFolder {
  if (!lstatSync(dir).isDirectory()) throw new FolderError(`files: ${dir} is not a folder`);
  const entries: FileSource[] = [];
  let total = 0;
  const walk = (d: string) => {
    for (const name of readdirSync(d).sort()) {
      const p = join(d, name);
      const rel = relative(dir, p);
      const st = lstatSync(p);
      if (st.isDirectory()) {
        walk(p);
        continue;
      }
      if (!st.isFile()) throw new FolderError(`files: ${rel} in ${dir} is not a regular file (links and devices are not installed)`);
      const template = rel.endsWith(".liquid");
      const path = "/" + (template ? rel.slice(0, -".liquid".length) : rel);
      if (!SAFE_PATH.test(path)) throw new FolderError(`files: ${rel} in ${dir}: the path has characters other than letters, digits and _.,:=/+@%-`);
      const content = readText(p, `files: ${rel} in ${dir}`);
      total += content.length;
      if (entries.length >= FILE_LIMITS.files || total > FILE_LIMITS.totalBytes) {
        throw new FolderError(`files: ${dir} holds more than ${FILE_LIMITS.files} files or ${FILE_LIMITS.totalBytes} bytes`);
      }
      if (entries.some((e) => e.path === path)) throw new FolderError(`files: ${rel} in ${dir} is installed at ${path}, as another file of the folder is`);
      entries.push({ path, mode: (st.mode & 0o7777).toString(8).padStart(4, "0"), content, template, name: rel });
    }
  };
  walk(dir);
  return { dir, entries };
}

/**
 * What the nodes' folders and scripts add to the configuration's digest, each once and
 * in a stable order, so that a saved plan goes stale when a template changes.
 * Paths relative to the configuration's root, as for its YAML files.
 */
export function extrasDigestParts(nodes: readonly Node[], root: string): string[] {
  const seen = new Set<FileFolder | NodeScript>();
  const out: string[] = [];
  for (const n of nodes) {
    for (const x of [n.files, n.initialize, n.finalize]) {
      if (!x || seen.has(x)) continue;
      seen.add(x);
      if ("entries" in x) {
        out.push(`folder:${relative(root, x.dir)}\n`);
        for (const e of x.entries) out.push(`${e.name}\0${e.mode}\0${e.content.length}:${e.content}\n`);
      } else out.push(`script:${x.content.length}:${x.content}\n`);
    }
  }
  return out;
}
