// Building a recipe with mmdebstrap into the recipe cache, once per recipe digest:
// <cache>/<hex>/root is the built tree, <cache>/<hex>/recipe.json what was built and
// when. The build goes into a temporary directory and is renamed into place when it
// succeeded, so a cache entry is always complete; concurrent builds of one recipe wait
// for each other through a lock directory.
import { spawn } from "node:child_process";
import { createWriteStream, readFileSync } from "node:fs";
import { mkdir, rename, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { nullLogger, type Logger } from "../util/log.js";
import { findBootFiles, type BootFiles } from "./boot-files.js";
import { lockDir } from "./dir-lock.js";
import { mmdebstrapArgs, normalizeRecipe, recipeDigest, type Recipe } from "./recipe.js";

export class RecipeBuildError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "RecipeBuildError";
  }
}

export interface RecipeBuild {
  digest: string;
  /** The built root tree. */
  root: string;
  boot: BootFiles;
  builtAt: string;
  /** How long mmdebstrap ran (0 when the build came from the cache). */
  ms: number;
  cached: boolean;
}

export interface BuildRecipeOptions {
  cacheDir: string;
  logger?: Logger;
  /** Build again even when the cache holds this recipe. */
  rebuild?: boolean;
  /** Name used in messages (the image). */
  label?: string;
  /** How long a build may take (default 30 min). */
  timeoutMs?: number;
}

const hexOf = (digest: string) => digest.replace(/^sha256:/, "");

/** The cached build of a recipe, if complete. */
export function cachedRecipeBuild(r: Recipe, cacheDir: string): RecipeBuild | undefined {
  const digest = recipeDigest(r);
  const dir = join(cacheDir, hexOf(digest));
  try {
    const meta = JSON.parse(readFileSync(join(dir, "recipe.json"), "utf8")) as { builtAt: string; ms: number };
    const boot = findBootFiles(join(dir, "root"));
    if (!boot) return undefined;
    return { digest, root: join(dir, "root"), boot, builtAt: meta.builtAt, ms: 0, cached: true };
  } catch {
    return undefined;
  }
}

/** The lines of mmdebstrap's output that say what went wrong ("E: Unable to locate package nosuch"). */
export function buildErrorLines(output: string): string[] {
  const lines = output.split("\n").map((l) => l.trim());
  const errors = lines.filter((l) => /^E: /.test(l) && !/^E: (mmdebstrap|apt-get|run_chroot|setup) .*failed/i.test(l) && !/^E: exiting/.test(l));
  return [...new Set(errors.length ? errors : lines.filter(Boolean).slice(-3))].slice(0, 5);
}

function runMmdebstrap(args: string[], logFile: string, timeoutMs: number): Promise<{ code: number; output: string }> {
  return new Promise((resolve) => {
    const log = createWriteStream(logFile);
    // stdin is not a terminal and empty: mmdebstrap then uses its default mirror.
    const p = spawn("mmdebstrap", args, { stdio: ["ignore", "pipe", "pipe"] });
    let tail = "";
    const keep = (d: Buffer) => {
      log.write(d);
      tail = (tail + d.toString()).slice(-20_000);
    };
    p.stdout.on("data", keep);
    p.stderr.on("data", keep);
    const t = setTimeout(() => p.kill("SIGTERM"), timeoutMs);
    p.on("error", (e) => {
      clearTimeout(t);
      log.end();
      resolve({ code: 127, output: `E: mmdebstrap: ${e.message} (install the Debian package mmdebstrap)` });
    });
    p.on("close", (code, sig) => {
      clearTimeout(t);
      log.end();
      resolve({ code: code ?? 128, output: tail + (sig ? `\nE: mmdebstrap killed by ${sig}` : "") });
    });
  });
}

/** Builds `r` (or takes it from the cache) and returns where its root is. */
export async function buildRecipe(r: Recipe, o: BuildRecipeOptions): Promise<RecipeBuild> {
  const log = o.logger ?? nullLogger;
  const label = o.label ? `image ${o.label}` : "recipe";
  if (!o.rebuild) {
    const hit = cachedRecipeBuild(r, o.cacheDir);
    if (hit) return hit;
  }
  const digest = recipeDigest(r);
  const dir = join(o.cacheDir, hexOf(digest));
  await mkdir(o.cacheDir, { recursive: true, mode: 0o755 });
  const unlock = await lockDir(`${dir}.lock`, log);
  try {
    // Someone else may have built it while we waited for the lock.
    const hit = o.rebuild ? undefined : cachedRecipeBuild(r, o.cacheDir);
    if (hit) return hit;
    const tmp = `${dir}.tmp-${process.pid}`;
    await rm(tmp, { recursive: true, force: true });
    await mkdir(tmp, { recursive: true });
    const args = mmdebstrapArgs(r, join(tmp, "root"));
    const logFile = join(o.cacheDir, `${hexOf(digest)}.build.log`);
    log.info("recipe.building", { image: o.label, recipe: digest.slice(0, 19), suite: r.suite, packages: r.packages.length, log: logFile });
    const t0 = Date.now();
    const res = await runMmdebstrap(args, logFile, o.timeoutMs ?? 30 * 60_000);
    const ms = Date.now() - t0;
    if (res.code !== 0) {
      await rm(tmp, { recursive: true, force: true });
      throw new RecipeBuildError(`${label}: the recipe did not build (mmdebstrap exited ${res.code}): ${buildErrorLines(res.output).join(" / ")} (full output: ${logFile})`);
    }
    const boot = findBootFiles(join(tmp, "root"));
    if (!boot) {
      await rm(tmp, { recursive: true, force: true });
      throw new RecipeBuildError(`${label}: the recipe built a root without a kernel (no /boot/vmlinuz-*): add a kernel package such as linux-image-amd64`);
    }
    const builtAt = new Date().toISOString();
    await writeFile(join(tmp, "recipe.json"), JSON.stringify({ digest, recipe: normalizeRecipe(r), builtAt, ms }, null, 2) + "\n");
    await rm(dir, { recursive: true, force: true });
    await rename(tmp, dir);
    log.info("recipe.built", { image: o.label, recipe: digest.slice(0, 19), ms });
    return { digest, root: join(dir, "root"), boot: { ...boot }, builtAt, ms, cached: false };
  } finally {
    await unlock();
  }
}
