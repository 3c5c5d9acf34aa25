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

  /** Old entries by inode, size and time: set for snapshots, whose files are hard-linked between directories. */
  private readonly byInode?: Map<string, Entry>;

  private constructor(
    private readonly file: string,
    old: Map<string, Entry>,
    byInode: boolean,
  ) {
    this.old = old;
    if (byInode) this.byInode = new Map([...old.values()].map((e) => [`${e[2]} ${e[0]} ${e[1]}`, e]));
  }

  /**
   * `byInode`: a file is also known by its inode, size and time under another path.
   * Only for the snapshot store, where files never change once written and a new
   * snapshot hard-links the unchanged files of the previous one (nothing to read again).
   */
  static async open(cacheDir: string, imageName: string, opts: { byInode?: boolean } = {}): Promise<DigestCache> {
    const file = join(cacheDir, "images", `${encodeURIComponent(imageName)}.json`);
    let old = new Map<string, Entry>();
    try {
      const doc = JSON.parse(await readFile(file, "utf8")) as { version?: number; files?: Record<string, Entry> };
      if (doc.version === CACHE_VERSION && doc.files && typeof doc.files === "object") old = new Map(Object.entries(doc.files));
    } catch {
      // Missing or damaged cache: start empty; it is only an optimisation.
    }
    return new DigestCache(file, old, opts.byInode ?? false);
  }

  /** The cached sha256 of `path` if its stat matches. */
  lookup(path: string, size: bigint, mtimeNs: bigint, ino: bigint): string | undefined {
    // A file seen earlier in this run (a kernel inside the root tree) counts too.
    const fits = (x: Entry | undefined): x is Entry => x !== undefined && x[0] === String(size) && x[1] === String(mtimeNs) && x[2] === String(ino);
    const e = [this.next.get(path), this.old.get(path), this.byInode?.get(`${ino} ${size} ${mtimeNs}`)].find(fits);
    if (e) {
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
