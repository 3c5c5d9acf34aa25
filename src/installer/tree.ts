// The installer initramfs being assembled: cpio entries by path, parents created as
// needed (a symlinked parent such as lib64 -> lib serves as the directory).
import { cpioPath, type CpioEntry } from "./cpio.js";

export class Tree {
  readonly entries = new Map<string, CpioEntry>();

  dir(path: string): void {
    const p = cpioPath(path);
    const parts = p.split("/");
    for (let i = 1; i <= parts.length; i++) {
      const d = parts.slice(0, i).join("/");
      const e = this.entries.get(d);
      if (!e) this.entries.set(d, { path: d, type: "dir", mode: 0o755 });
      else if (e.type === "symlink") return; // e.g. lib64 -> lib: the link serves as the parent
    }
  }

  private parent(p: string): void {
    const i = p.lastIndexOf("/");
    if (i > 0) this.dir(p.slice(0, i));
  }

  file(path: string, data: Buffer, mode: number): void {
    const p = cpioPath(path);
    this.parent(p);
    this.entries.set(p, { path: p, type: "file", data, mode });
  }

  symlink(path: string, target: string): void {
    const p = cpioPath(path);
    if (this.entries.has(p)) return;
    this.parent(p);
    this.entries.set(p, { path: p, type: "symlink", target });
  }

  char(path: string, major: number, minor: number, mode: number): void {
    const p = cpioPath(path);
    this.parent(p);
    this.entries.set(p, { path: p, type: "char", mode, major, minor });
  }
}
