// A real kernel tree for module tests: an unpacked Debian linux-image package. Taken
// from MF_KERNEL_TREE, else unpacked once (cached under /var/cache/metalform-test) from a
// linux-image .deb in apt's cache or fetched with `apt-get download`. The cloud and rt
// flavours are passed over: the cloud kernel lacks the hardware drivers the tests look for.
import { execFileSync, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readdirSync } from "node:fs";
import { join } from "node:path";

const CACHE = "/var/cache/metalform-test";

export function kernelTree(): string {
  const env = process.env.MF_KERNEL_TREE;
  if (env) return env;
  // "kernel-generic": an earlier cache ("kernel") may hold a cloud flavour.
  const tree = join(CACHE, "kernel-generic");
  if (existsSync(join(tree, "lib/modules"))) return tree;
  mkdirSync(CACHE, { recursive: true });
  const archives = "/var/cache/apt/archives";
  let deb = existsSync(archives) ? readdirSync(archives).find((f) => /^linux-image-\d.*\.deb$/.test(f) && !/-(cloud|rt)-/.test(f)) : undefined;
  let path = deb ? join(archives, deb) : undefined;
  if (!path) {
    const dep = execFileSync("apt-cache", ["depends", "linux-image-amd64"], { encoding: "utf8" }).match(/Depends: (linux-image-\S+)/)?.[1];
    if (!dep) throw new Error("cannot find a linux-image package: set MF_KERNEL_TREE to an unpacked linux-image .deb");
    const r = spawnSync("apt-get", ["download", dep], { cwd: CACHE, encoding: "utf8" });
    if (r.status !== 0) throw new Error(`apt-get download ${dep} failed: ${r.stderr}`);
    deb = readdirSync(CACHE).find((f) => f.startsWith(dep) && f.endsWith(".deb"));
    path = join(CACHE, deb!);
  }
  mkdirSync(tree, { recursive: true });
  execFileSync("dpkg-deb", ["-x", path, tree]);
  return tree;
}
