// Reads the .modinfo section of a kernel module (an ELF relocatable object): the
// NUL-separated key=value strings modinfo(8) prints. Only what we need to resolve
// dependencies ourselves (no host modprobe/depmod involved). Bounds-checked: a
// malformed file gives an error, never an out-of-range read.

export class ModinfoError extends Error {}

function u16(b: Buffer, off: number, le: boolean): number {
  if (off + 2 > b.length) throw new ModinfoError("truncated ELF header");
  return le ? b.readUInt16LE(off) : b.readUInt16BE(off);
}
function u32(b: Buffer, off: number, le: boolean): number {
  if (off + 4 > b.length) throw new ModinfoError("truncated ELF header");
  return le ? b.readUInt32LE(off) : b.readUInt32BE(off);
}
function u64(b: Buffer, off: number, le: boolean): number {
  if (off + 8 > b.length) throw new ModinfoError("truncated ELF header");
  const v = le ? b.readBigUInt64LE(off) : b.readBigUInt64BE(off);
  if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw new ModinfoError("ELF offset too large");
  return Number(v);
}

/** Returns the .modinfo entries as [key, value] pairs, in file order. */
export function readModinfo(elf: Buffer): Array<[string, string]> {
  if (elf.length < 0x40 || elf.readUInt32BE(0) !== 0x7f454c46) throw new ModinfoError("not an ELF file");
  const is64 = elf[4] === 2;
  const le = elf[5] === 1;
  const shoff = is64 ? u64(elf, 0x28, le) : u32(elf, 0x20, le);
  const shentsize = u16(elf, is64 ? 0x3a : 0x2e, le);
  const shnum = u16(elf, is64 ? 0x3c : 0x30, le);
  const shstrndx = u16(elf, is64 ? 0x3e : 0x32, le);
  if (shstrndx >= shnum || shentsize < (is64 ? 0x40 : 0x28)) throw new ModinfoError("bad section table");
  const section = (i: number) => {
    const base = shoff + i * shentsize;
    if (base + shentsize > elf.length) throw new ModinfoError("section header out of range");
    const name = u32(elf, base, le);
    const offset = is64 ? u64(elf, base + 0x18, le) : u32(elf, base + 0x10, le);
    const size = is64 ? u64(elf, base + 0x20, le) : u32(elf, base + 0x14, le);
    if (offset + size > elf.length) throw new ModinfoError("section out of range");
    return { name, offset, size };
  };
  const strtab = section(shstrndx);
  const nameAt = (off: number) => {
    const start = strtab.offset + off;
    const end = elf.indexOf(0, start);
    if (start >= strtab.offset + strtab.size || end < 0 || end > strtab.offset + strtab.size) throw new ModinfoError("bad section name");
    return elf.toString("latin1", start, end);
  };
  for (let i = 0; i < shnum; i++) {
    const s = section(i);
    if (nameAt(s.name) !== ".modinfo") continue;
    return elf
      .toString("latin1", s.offset, s.offset + s.size)
      .split("\0")
      .filter((kv) => kv.includes("="))
      .map((kv) => [kv.slice(0, kv.indexOf("=")), kv.slice(kv.indexOf("=") + 1)] as [string, string]);
  }
  throw new ModinfoError("no .modinfo section");
}

/** The modules a module depends on (its `depends=` entry), as module names. */
export function moduleDepends(elf: Buffer): string[] {
  const dep = readModinfo(elf).find(([k]) => k === "depends")?.[1] ?? "";
  return dep.split(",").filter(Boolean);
}

export interface ModuleInfo {
  /** Modules it needs loaded first (`depends=`). */
  depends: string[];
  /** Device patterns it drives (`alias=`: pci:v…, virtio:d…), for modules.alias. */
  aliases: string[];
  /** Firmware files it may request (`firmware=`), relative to /lib/firmware. */
  firmware: string[];
}

/** What the installer needs from one module's .modinfo. */
export function moduleInfo(elf: Buffer): ModuleInfo {
  const info: ModuleInfo = { depends: [], aliases: [], firmware: [] };
  for (const [k, v] of readModinfo(elf)) {
    if (k === "depends") info.depends.push(...v.split(",").filter(Boolean));
    else if (k === "alias" && v && !/\s/.test(v)) info.aliases.push(v);
    else if (k === "firmware" && v && !v.includes("..") && !v.startsWith("/")) info.firmware.push(v);
  }
  return info;
}
