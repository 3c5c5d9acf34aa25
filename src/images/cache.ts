// The digest cache: per image, the sha256 of each file keyed by path, size, mtime
// and inode. A file whose stat did not change is not read again, so re-planning an
// unchanged image costs one lstat per file.
import { mkdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { writeFileAtomic } from "../util/fs.js";

const CACHE_VERSION = 1;

/** [size, mtimeNs, ino, sha256 hex] */
type Entry = [string, string, string, string];

export class DigestCache {
  private readonly old: Map<string, Entry>;
  private readonly next = new Map<string, Entry>();
  hits = 0;
  misses = 0;

  private constructor(
    private readonly file: string,
    old: Map<string, Entry>,
  ) {
    this.old = old;
  }

  static async open(cacheDir: string, imageName: string): Promise<DigestCache> {
    const file = join(cacheDir, "images", `${encodeURIComponent(imageName)}.json`);
    let old = new Map<string, Entry>();
    try {
      const doc = JSON.parse(await readFile(file, "utf8")) as { version?: number; files?: Record<string, Entry> };
      if (doc.version === CACHE_VERSION && doc.files && typeof doc.files === "object") old = new Map(Object.entries(doc.files));
    } catch {
      // Missing or damaged cache: start empty; it is only an optimisation.
    }
    return new DigestCache(file, old);
  }

  /** The cached sha256 of `path` if its stat matches. */
  lookup(path: string, size: bigint, mtimeNs: bigint, ino: bigint): string | undefined {
    // A file seen earlier in this run (a kernel inside the root tree) counts too.
    const e = this.next.get(path) ?? this.old.get(path);
    if (e && e[0] === String(size) && e[1] === String(mtimeNs) && e[2] === String(ino)) {
      this.next.set(path, e);
      this.hits++;
      return e[3];
    }
    return undefined;
  }

  store(path: string, size: bigint, mtimeNs: bigint, ino: bigint, sha: string): void {
    this.misses++;
    this.next.set(path, [String(size), String(mtimeNs), String(ino), sha]);
  }

  /** Writes the cache when anything changed (entries added, changed or gone). */
  async save(): Promise<void> {
    if (this.misses === 0 && this.next.size === this.old.size) return;
    await mkdir(join(this.file, ".."), { recursive: true, mode: 0o700 });
    const files: Record<string, Entry> = {};
    for (const [k, v] of this.next) files[k] = v;
    await writeFileAtomic(this.file, JSON.stringify({ version: CACHE_VERSION, files }), 0o600);
  }
}
