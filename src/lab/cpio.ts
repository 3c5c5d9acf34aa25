// A minimal writer of the cpio "newc" format the Linux kernel unpacks as an
// initramfs. Deterministic: inode numbers count up, every mtime is the one given,
// owners are root. Used to boot the lab image straight from its kernel.
import { lstatSync, readFileSync, readdirSync, readlinkSync } from "node:fs";
import { join } from "node:path";

export interface CpioEntry {
  /** Path inside the archive, without a leading slash ("etc/inittab"). */
  path: string;
  /** Full st_mode: type bits and permissions (0o100755, 0o40755, 0o120777). */
  mode: number;
  /** File contents, or the target of a symlink. */
  data?: Buffer;
}

export const S_IFDIR = 0o040000;
export const S_IFREG = 0o100000;
export const S_IFLNK = 0o120000;

function hex8(n: number): string {
  return (n >>> 0).toString(16).padStart(8, "0");
}

function pad4(n: number): number {
  return (4 - (n % 4)) % 4;
}

export function writeCpio(entries: readonly CpioEntry[], mtime = 0): Buffer {
  const parts: Buffer[] = [];
  let ino = 1;
  const push = (name: string, mode: number, data: Buffer, nlink: number) => {
    const nameBuf = Buffer.from(name + "\0");
    const header =
      "070701" +
      hex8(ino++) +
      hex8(mode) +
      hex8(0) + // uid
      hex8(0) + // gid
      hex8(nlink) +
      hex8(mtime) +
      hex8(data.length) +
      hex8(0) + // devmajor
      hex8(0) + // devminor
      hex8(0) + // rdevmajor
      hex8(0) + // rdevminor
      hex8(nameBuf.length) +
      hex8(0); // check
    parts.push(Buffer.from(header, "ascii"), nameBuf, Buffer.alloc(pad4(110 + nameBuf.length)), data, Buffer.alloc(pad4(data.length)));
  };
  for (const e of entries) {
    const name = e.path.replace(/^\/+/, "");
    if (!name || name.split("/").includes("..")) throw new Error(`bad cpio path ${JSON.stringify(e.path)}`);
    push(name, e.mode, e.data ?? Buffer.alloc(0), (e.mode & 0o170000) === S_IFDIR ? 2 : 1);
  }
  push("TRAILER!!!", 0, Buffer.alloc(0), 1);
  return Buffer.concat(parts);
}

/**
 * The entries of a directory tree, parents before children, sorted by name. Paths
 * in `exclude` (relative, e.g. "boot") are left out with everything under them.
 */
export function treeEntries(root: string, exclude: readonly string[] = []): CpioEntry[] {
  const out: CpioEntry[] = [];
  const skip = new Set(exclude.map((p) => p.replace(/^\/+|\/+$/g, "")));
  const walk = (rel: string) => {
    const names = readdirSync(join(root, rel)).sort();
    for (const n of names) {
      const r = rel ? `${rel}/${n}` : n;
      if (skip.has(r)) continue;
      const abs = join(root, r);
      const st = lstatSync(abs);
      const perm = st.mode & 0o7777;
      if (st.isSymbolicLink()) out.push({ path: r, mode: S_IFLNK | 0o777, data: Buffer.from(readlinkSync(abs)) });
      else if (st.isDirectory()) {
        out.push({ path: r, mode: S_IFDIR | perm });
        walk(r);
      } else if (st.isFile()) out.push({ path: r, mode: S_IFREG | perm, data: readFileSync(abs) });
      // Devices, fifos and sockets are not part of an image: the kernel makes /dev.
    }
  };
  walk("");
  return out;
}
