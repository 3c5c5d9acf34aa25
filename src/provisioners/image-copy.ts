// A provisioner's own copy of an image, pulled with rsync from the apply's image
// source. Each digest gets its own directory (unchanged files hard-linked from the
// previous copy with --link-dest), so a copy in progress never changes what is
// being served; the copy only counts once its digest, computed here, matches.
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdir, readdir, rename, rm, stat, writeFile } from "node:fs/promises";
import { isAbsolute, join, relative } from "node:path";
import type { Image } from "../config/types.js";
import { computeImageDigest } from "../images/digest.js";

/** The image as served from a copy: root, and kernel/initrd when they live inside the root. */
export function imageAt(img: Image, copyRoot: string): Image {
  const inside = (p: string) => {
    const rel = relative(img.root, p);
    return rel && !rel.startsWith("..") && !isAbsolute(rel) ? join(copyRoot, rel) : p;
  };
  return { ...img, root: copyRoot, kernel: inside(img.kernel), ...(img.initrd ? { initrd: inside(img.initrd) } : {}) };
}

export function copyDirName(image: string, digest: string): string {
  return `${image}@${digest.replace(/^sha256:/, "").slice(0, 16)}`;
}

function run(cmd: string, args: string[], timeoutMs: number, o: { signal?: AbortSignal; env?: Record<string, string> } = {}): Promise<void> {
  const signal = o.signal;
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(new Error(`${cmd}: stopped`));
    const p = spawn(cmd, args, { stdio: ["ignore", "ignore", "pipe"], ...(o.env ? { env: { ...process.env, ...o.env } } : {}) });
    // A provisioner told to stop does not wait for a long copy to end.
    const onAbort = () => p.kill("SIGTERM");
    signal?.addEventListener("abort", onAbort, { once: true });
    p.once("close", () => signal?.removeEventListener("abort", onAbort));
    let err = "";
    p.stderr.on("data", (d) => (err = (err + d).slice(-2000)));
    const t = setTimeout(() => p.kill("SIGKILL"), timeoutMs);
    p.on("error", (e) => {
      clearTimeout(t);
      reject(new Error(`${cmd}: ${e.message}${(e as NodeJS.ErrnoException).code === "ENOENT" ? " (install the Debian package rsync)" : ""}`));
    });
    p.on("close", (code, sig) => {
      clearTimeout(t);
      if (code === 0) resolve();
      else reject(new Error(`${cmd} ${sig ? `killed by ${sig}` : `exited ${code}`}: ${err.trim().split("\n").slice(-3).join(" / ")}`));
    });
  });
}

const marker = (imagesDir: string, copy: string) => join(imagesDir, `.${copy}.done`);

/** The finished copies of an image other than `except`, the most recently made first. */
async function copiesNewestFirst(imagesDir: string, image: string, except: string): Promise<string[]> {
  const names = (await readdir(imagesDir)).filter((n) => n.startsWith(`${image}@`) && !n.endsWith(".partial") && n !== except);
  const made = await Promise.all(names.map(async (n) => (await stat(marker(imagesDir, n)).catch(() => undefined))?.mtimeMs ?? 0));
  return names
    .map((n, i) => ({ n, t: made[i]! }))
    .sort((a, b) => b.t - a.t || (a.n < b.n ? 1 : -1))
    .map((x) => x.n);
}

export interface CopiedImage {
  image: Image;
  digest: string;
  dir: string;
}

/**
 * Copies `img` (as the configuration describes it) from `url` into `imagesDir` and
 * checks its digest. Keeps the newest `keep` copies of the image.
 */
export async function copyImage(
  img: Image,
  url: string,
  digest: string,
  imagesDir: string,
  opts: { cacheDir: string; timeoutMs?: number; keep?: number; signal?: AbortSignal; auth?: { user: string; password: string } },
): Promise<CopiedImage> {
  await mkdir(imagesDir, { recursive: true, mode: 0o700 });
  const final = join(imagesDir, copyDirName(img.name, digest));
  const local = (dir: string) => imageAt(img, dir);
  if (existsSync(final)) {
    const have = await computeImageDigest(local(final), { cacheDir: opts.cacheDir });
    if (have.digest === digest) return { image: local(final), digest, dir: final };
  }
  const partial = `${final}.partial`;
  const others = await copiesNewestFirst(imagesDir, img.name, copyDirName(img.name, digest));
  const linkDest = others.length ? ["--link-dest", join(imagesDir, others[0]!)] : [];
  // Nanosecond times (--modify-window=-1): by default rsync compares whole seconds and
  // would keep (or hard-link from the previous copy) a file rewritten with the same size
  // within the same second.
  // The apply's image credential: the user in the URL, the password in rsync's environment (never argv).
  const source = opts.auth ? url.replace(/^rsync:\/\//, `rsync://${opts.auth.user}@`) : url;
  const args = ["-a", "--delete", "--numeric-ids", "--hard-links", "--modify-window=-1", "--timeout=120", ...linkDest, source, `${partial}/`];
  const how = { ...(opts.signal ? { signal: opts.signal } : {}), ...(opts.auth ? { env: { RSYNC_PASSWORD: opts.auth.password } } : {}) };
  await run("rsync", args, opts.timeoutMs ?? 60 * 60_000, how);
  let got = await computeImageDigest(local(partial), { cacheDir: opts.cacheDir });
  if (got.digest !== digest) {
    // Times can lie (a file restored with its old time): compare contents once before giving up.
    await run("rsync", ["--checksum", ...args], opts.timeoutMs ?? 60 * 60_000, how);
    got = await computeImageDigest(local(partial), { cacheDir: opts.cacheDir });
  }
  if (got.digest !== digest) {
    throw new Error(`the copy of image ${img.name} from ${url} has digest ${got.digest}, not ${digest}: the source changed during the copy, or the configurations differ`);
  }
  await rm(final, { recursive: true, force: true });
  await rename(partial, final);
  // When each copy was made, beside it (a file inside would change the image's digest).
  await writeFile(marker(imagesDir, copyDirName(img.name, digest)), new Date().toISOString() + "\n");
  for (const old of others.slice(Math.max(0, (opts.keep ?? 2) - 1))) {
    await rm(join(imagesDir, old), { recursive: true, force: true });
    await rm(marker(imagesDir, old), { force: true });
  }
  return { image: local(final), digest, dir: final };
}
