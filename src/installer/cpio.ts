// A writer for the "newc" cpio format the Linux kernel unpacks as an initramfs
// (Documentation/driver-api/early-userspace/buffer-format.rst). Deterministic by
// construction: entries sorted by path, owner root, mtime 0, inode numbers in order.

export type CpioEntry =
  | { path: string; type: "dir"; mode: number }
  | { path: string; type: "file"; mode: number; data: Buffer }
  | { path: string; type: "symlink"; target: string }
  | { path: string; type: "char"; mode: number; major: number; minor: number };

const S_IFDIR = 0o040000;
const S_IFREG = 0o100000;
const S_IFLNK = 0o120000;
const S_IFCHR = 0o020000;

function hex8(n: number): string {
  if (!Number.isInteger(n) || n < 0 || n > 0xffffffff) throw new RangeError(`cpio field out of range: ${n}`);
  return n.toString(16).padStart(8, "0");
}

function pad4(len: number): Buffer {
  return Buffer.alloc((4 - (len % 4)) % 4);
}

function header(ino: number, mode: number, nlink: number, size: number, rdevMajor: number, rdevMinor: number, name: string): Buffer {
  const nameBuf = Buffer.from(name + "\0", "utf8");
  const fields = [ino, mode, 0, 0, nlink, 0, size, 0, 0, rdevMajor, rdevMinor, nameBuf.length, 0];
  const h = Buffer.from("070701" + fields.map(hex8).join(""), "ascii");
  return Buffer.concat([h, nameBuf, pad4(h.length + nameBuf.length)]);
}

/** Normalizes an archive path: relative, no leading "./" or "/", no "..". */
export function cpioPath(p: string): string {
  const parts = p.split("/").filter((s) => s !== "" && s !== ".");
  if (parts.length === 0 || parts.includes("..")) throw new Error(`bad archive path: ${p}`);
  return parts.join("/");
}

/** Serializes entries (sorted by path; duplicates refused) followed by the trailer. */
export function writeCpio(entries: readonly CpioEntry[]): Buffer {
  const sorted = [...entries].map((e) => ({ ...e, path: cpioPath(e.path) })).sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  const out: Buffer[] = [];
  let ino = 1;
  let prev = "";
  for (const e of sorted) {
    if (e.path === prev) throw new Error(`duplicate archive path: ${e.path}`);
    prev = e.path;
    switch (e.type) {
      case "dir":
        out.push(header(ino++, S_IFDIR | (e.mode & 0o7777), 2, 0, 0, 0, e.path));
        break;
      case "file":
        out.push(header(ino++, S_IFREG | (e.mode & 0o7777), 1, e.data.length, 0, 0, e.path), e.data, pad4(e.data.length));
        break;
      case "symlink": {
        const t = Buffer.from(e.target, "utf8");
        out.push(header(ino++, S_IFLNK | 0o777, 1, t.length, 0, 0, e.path), t, pad4(t.length));
        break;
      }
      case "char":
        out.push(header(ino++, S_IFCHR | (e.mode & 0o7777), 1, 0, e.major, e.minor, e.path));
        break;
    }
  }
  out.push(header(0, 0, 1, 0, 0, 0, "TRAILER!!!"));
  return Buffer.concat(out);
}
