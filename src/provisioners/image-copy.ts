// A provisioner's own copy of an image, pulled with rsync from the apply's image
// source. Each digest gets its own directory (unchanged files hard-linked from the
// previous copy with --link-dest), so a copy in progress never changes what is
// being served; the copy only counts once its digest, computed here, matches.
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdir, readdir, rename, rm } from "node:fs/promises";
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

function run(cmd: string, args: string[], timeoutMs: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const p = spawn(cmd, args, { stdio: ["ignore", "ignore", "pipe"] });
    let err = "";
    p.stderr!.on("data", (d) => (err = (err + d).slice(-2000)));
    const t = setTimeout(() => p.kill("SIGKILL"), timeoutMs);
    p.on("error", (e) => {
      clearTimeout(t);
      reject(new Error(`${cmd}: ${e.message}${(e as NodeJS.ErrnoException).code === "ENOENT" ? " (install the Debian package rsync)" : ""}`));
    });
    p.on("close", (code, signal) => {
      clearTimeout(t);
      if (code === 0) resolve();
      else reject(new Error(`${cmd} ${signal ? `killed by ${signal}` : `exited ${code}`}: ${err.trim().split("\n").slice(-3).join(" / ")}`));
    });
  });
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
export async function copyImage(img: Image, url: string, digest: string, imagesDir: string, opts: { cacheDir: string; timeoutMs?: number; keep?: number }): Promise<CopiedImage> {
  await mkdir(imagesDir, { recursive: true, mode: 0o700 });
  const final = join(imagesDir, copyDirName(img.name, digest));
  const local = (dir: string) => imageAt(img, dir);
  if (existsSync(final)) {
    const have = await computeImageDigest(local(final), { cacheDir: opts.cacheDir });
    if (have.digest === digest) return { image: local(final), digest, dir: final };
  }
  const partial = `${final}.partial`;
  const others = (await readdir(imagesDir)).filter((n) => n.startsWith(`${img.name}@`) && !n.endsWith(".partial")).sort();
  const linkDest = others.length ? ["--link-dest", join(imagesDir, others[others.length - 1]!)] : [];
  await run("rsync", ["-a", "--delete", "--numeric-ids", "--hard-links", "--timeout=120", ...linkDest, url, `${partial}/`], opts.timeoutMs ?? 60 * 60_000);
  const got = await computeImageDigest(local(partial), { cacheDir: opts.cacheDir });
  if (got.digest !== digest) {
    throw new Error(`the copy of image ${img.name} from ${url} has digest ${got.digest}, not ${digest}: the source changed during the copy, or the configurations differ`);
  }
  await rm(final, { recursive: true, force: true });
  await rename(partial, final);
  const keep = opts.keep ?? 2;
  const all = (await readdir(imagesDir)).filter((n) => n.startsWith(`${img.name}@`) && !n.endsWith(".partial") && n !== copyDirName(img.name, digest)).sort();
  for (const old of all.slice(0, Math.max(0, all.length - (keep - 1)))) await rm(join(imagesDir, old), { recursive: true, force: true });
  return { image: local(final), digest, dir: final };
}
