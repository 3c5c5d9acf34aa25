// Loading a configuration: files → YAML with positions → schema → merge →
// resolve → semantic checks → DesiredCluster. Every problem found is reported in
// one run; the model is returned only when there is no error.
import { createHash } from "node:crypto";
import { existsSync, readFileSync, statSync } from "node:fs";
import { basename, dirname, relative, resolve } from "node:path";
import { hasErrors, sortDiagnostics, type Diagnostic } from "./diagnostics.js";
import { emptyBroken, repairData, type Broken } from "./damage.js";
import { mergeSources } from "./merge.js";
import { extrasDigestParts } from "./node-files.js";
import { resolveConfig } from "./resolve.js";
import { validateAgainstSchema, type SchemaDamage } from "./schema.js";
import { checkSemantics } from "./semantic.js";
import { listConfigFiles, readSource, type SourceFile } from "./source.js";
import type { DesiredCluster } from "./types.js";

export interface LoadOptions {
  /** Warnings count as errors. */
  strict?: boolean;
  /** Image paths must exist (apply) rather than warn (validate). */
  requirePaths?: boolean;
  /** Most nodes after range expansion. */
  maxNodes?: number;
}

export interface LoadResult {
  cluster?: DesiredCluster;
  diagnostics: Diagnostic[];
  /** Inline secrets by id (never serialized; see config/secrets.ts). */
  inlineSecrets: Map<string, string>;
  /** The state backend, known even when other parts of the configuration have errors. */
  backend?: DesiredCluster["backend"];
  /** A `backend:` section is written but has errors: the state's location is unknown. */
  backendBroken?: boolean;
}

export const DEFAULT_MAX_NODES = 100_000;

/** The configuration path to use: --config, $METALFORM_CONFIG, ./cluster.yaml, ./cluster/. */
export function defaultConfigPath(explicit?: string, cwd = process.cwd()): string {
  if (explicit) return explicit;
  if (process.env.METALFORM_CONFIG) return process.env.METALFORM_CONFIG;
  for (const c of ["cluster.yaml", "cluster.yml", "cluster"]) if (existsSync(resolve(cwd, c))) return resolve(cwd, c);
  return resolve(cwd, "cluster.yaml");
}

export async function loadCluster(path: string, opts: LoadOptions = {}): Promise<LoadResult> {
  return loadClusterSync(path, opts);
}

export function loadClusterSync(path: string, opts: LoadOptions = {}): LoadResult {
  const diagnostics: Diagnostic[] = [];
  const inlineSecrets = new Map<string, string>();
  const listed = listConfigFiles(path);
  diagnostics.push(...listed.diagnostics);
  const broken = emptyBroken();
  const sources = readSources(listed.files, { broken, diagnostics });
  if (sources.length < listed.files.length) broken.partial = true;
  // Files with schema errors go on, repaired, so that semantic problems are reported in the same run.
  if (!sources.length) return { diagnostics: sortDiagnostics(diagnostics), inlineSecrets };
  const { merged, diagnostics: mergeDiags } = mergeSources(sources, broken);
  diagnostics.push(...mergeDiags);
  const root = configRoot(path);
  const resolved = resolveConfig(merged, basename(root), { maxNodes: opts.maxNodes ?? DEFAULT_MAX_NODES }, diagnostics);
  for (const [k, v] of resolved.inlineSecrets) inlineSecrets.set(k, v);
  const backend = resolved.backend;
  diagnostics.push(...checkSemantics(merged, resolved, { requirePaths: opts.requirePaths ?? false, priorErrors: hasErrors(diagnostics) }));
  const failed = hasErrors(diagnostics) || (opts.strict && diagnostics.length > 0);
  if (!failed && resolved.network) {
    const cluster: DesiredCluster = {
      name: resolved.name,
      ...(backend ? { backend } : {}),
      network: resolved.network,
      ...(resolved.networks.size ? { networks: resolved.networks } : {}),
      images: resolved.images,
      diskLayouts: resolved.diskLayouts,
      categories: resolved.categories,
      nodes: resolved.nodes.slice().sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0)),
      files: listed.files,
      digest: configDigest(root, listed.files, extrasDigestParts(resolved.nodes, root)),
    };
    return { cluster, diagnostics: sortDiagnostics(diagnostics), inlineSecrets, ...(backend ? { backend } : {}) };
  }
  const backendBroken = resolved.backendBroken ?? false;
  return { diagnostics: sortDiagnostics(diagnostics), inlineSecrets, ...(backend ? { backend } : {}), ...(backendBroken ? { backendBroken } : {}) };
}

/** The files that parse, each checked against the schema; one with schema errors is repaired (see damage.ts) or left out. */
function readSources(files: string[], into: { broken: Broken; diagnostics: Diagnostic[] }): SourceFile[] {
  const sources: SourceFile[] = [];
  const budget = { bytes: 0 };
  for (const f of files) {
    const r = readSource(f, budget);
    into.diagnostics.push(...r.diagnostics);
    if (!r.source) continue;
    const damage: SchemaDamage = { unknownFields: [], brokenPaths: [] };
    const schemaDiags = validateAgainstSchema(r.source, damage);
    into.diagnostics.push(...schemaDiags);
    if (schemaDiags.length) {
      const repaired = repairData(r.source.data, damage, into.broken);
      if (!repaired) continue;
      r.source.data = repaired;
    }
    sources.push(r.source);
  }
  return sources;
}

/** The configuration's directory: the path itself, or the directory of a single file (its name is the default cluster name). */
function configRoot(path: string): string {
  const abs = resolve(path);
  return statSafeIsFile(abs) ? dirname(abs) : abs;
}

/** Digest of the configuration's files and the nodes' files and scripts. Paths relative to its root, so a clone elsewhere has the same digest. */
function configDigest(root: string, files: string[], extras: string[]): string {
  const digest = createHash("sha256");
  for (const f of files) {
    const rel = relative(root, f);
    digest.update(rel.length + ":" + rel + "\n");
    digest.update(readFileSync(f));
  }
  for (const part of extras) digest.update(part);
  return "sha256:" + digest.digest("hex");
}

function statSafeIsFile(p: string): boolean {
  try {
    return statSync(p).isFile();
  } catch {
    return false;
  }
}
