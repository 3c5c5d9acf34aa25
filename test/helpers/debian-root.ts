// A real Debian 12 root for tests and benchmarks, built with mmdebstrap from the
// machine's apt sources (FACTS.md: 65–120 s, ~700 MB) and cached under
// /var/cache/metalform-test/debian/<recipe digest>: the same package list is built
// once per machine, not once per test. Until the image recipe builder (src/images,
// `metalform image build`) is on this branch, this is the recipe.
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";

const CACHE = process.env.MF_DEBIAN_CACHE ?? "/var/cache/metalform-test/debian";

export interface DebianRecipe {
  suite: string;
  variant: "minbase" | "essential" | "apt" | "important" | "standard";
  packages: string[];
}

/** What a node needs to boot, be reached and report UP (FACTS.md's measured list). */
export const DEBIAN_NODE_RECIPE: DebianRecipe = {
  suite: "bookworm",
  variant: "minbase",
  packages: ["systemd-sysv", "linux-image-amd64", "udev", "iproute2", "openssh-server", "ifupdown", "isc-dhcp-client", "curl", "wget", "kmod"],
};

export interface DebianRoot {
  /** The root tree (a directory). */
  root: string;
  /** The root's own kernel and initramfs-tools initrd (real files under root/boot). */
  kernel: string;
  initrd: string;
  kernelVersion: string;
  recipeDigest: string;
  /** True when this call built it (false: from the cache). */
  built: boolean;
  seconds: number;
}

export function recipeDigest(r: DebianRecipe): string {
  const canonical = JSON.stringify({ suite: r.suite, variant: r.variant, packages: [...new Set(r.packages)].sort() });
  return createHash("sha256").update(canonical).digest("hex").slice(0, 16);
}

function locate(root: string, digest: string, built: boolean, seconds: number): DebianRoot {
  const boot = join(root, "boot");
  const vmlinuz = readdirSync(boot).filter((f) => f.startsWith("vmlinuz-")).sort();
  if (vmlinuz.length === 0) throw new Error(`${boot}: no vmlinuz-* (is linux-image-amd64 in the recipe?)`);
  const kernelVersion = vmlinuz[vmlinuz.length - 1]!.slice("vmlinuz-".length);
  const initrd = join(boot, `initrd.img-${kernelVersion}`);
  if (!existsSync(initrd)) throw new Error(`${initrd} is missing`);
  return { root, kernel: join(boot, `vmlinuz-${kernelVersion}`), initrd, kernelVersion, recipeDigest: digest, built, seconds };
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "EPERM";
  }
}

/** One builder per recipe on the machine: a lock directory holding the builder's pid. */
async function withLock<T>(lock: string, fn: () => T): Promise<T> {
  for (;;) {
    try {
      mkdirSync(lock);
      writeFileSync(join(lock, "pid"), String(process.pid));
      break;
    } catch {
      let pid = 0;
      try {
        pid = Number(readFileSync(join(lock, "pid"), "utf8"));
      } catch {
        // being created or removed right now
      }
      if (pid && !pidAlive(pid)) rmSync(lock, { recursive: true, force: true });
      else await new Promise((r) => setTimeout(r, 2000));
    }
  }
  try {
    return fn();
  } finally {
    rmSync(lock, { recursive: true, force: true });
  }
}

/** The recipe's root, built now unless the cache has it. Fails (never skips) without mmdebstrap. */
export async function debianRoot(recipe: DebianRecipe = DEBIAN_NODE_RECIPE): Promise<DebianRoot> {
  const digest = recipeDigest(recipe);
  const dir = join(CACHE, digest);
  const root = join(dir, "root");
  if (existsSync(join(root, "etc/debian_version"))) return locate(root, digest, false, 0);
  mkdirSync(dir, { recursive: true });
  return withLock(join(dir, "lock"), () => {
    if (existsSync(join(root, "etc/debian_version"))) return locate(root, digest, false, 0);
    const tmp = join(dir, `root.tmp-${process.pid}`);
    rmSync(tmp, { recursive: true, force: true });
    const t0 = Date.now();
    const args = [`--variant=${recipe.variant}`, `--include=${recipe.packages.join(",")}`, "--quiet", recipe.suite, tmp];
    const r = spawnSync("mmdebstrap", args, { encoding: "utf8", maxBuffer: 64 << 20 });
    if (r.error) throw new Error(`mmdebstrap: ${r.error.message} (apt-get install -y mmdebstrap)`);
    if (r.status !== 0) {
      rmSync(tmp, { recursive: true, force: true });
      throw new Error(`mmdebstrap ${args.join(" ")} exited ${r.status}: ${(r.stderr || r.stdout).slice(-3000)}`);
    }
    writeFileSync(join(dir, "recipe.json"), JSON.stringify(recipe, null, 2) + "\n");
    renameSync(tmp, root);
    return locate(root, digest, true, (Date.now() - t0) / 1000);
  });
}

/** Bytes of regular files in a tree (what a full sync moves, before rsync's protocol). */
export function treeBytes(dir: string): number {
  let total = 0;
  const walk = (d: string) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.isFile()) total += statSync(p).size;
    }
  };
  walk(dir);
  return total;
}

