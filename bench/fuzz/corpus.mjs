// Seed packets and a mutation engine for fuzzing metalform's DHCP and TFTP servers.
// Deterministic from a seed (xorshift32), so a failing run can be replayed exactly.
// Built by hand (not with metalform's own encoder) so encoder bugs cannot hide.

export function rng(seed) {
  let s = seed >>> 0 || 0x9e3779b9;
  const next = () => {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return s;
  };
  return {
    u32: next,
    int: (n) => next() % n,
    pick: (a) => a[next() % a.length],
    chance: (p) => next() / 0x100000000 < p,
  };
}

// ---------- DHCP ----------
const COOKIE = 0x63825363;

/** A BOOTREQUEST with the given options ([code, Buffer|bytes] pairs, 255 appended). */
export function dhcpPacket({ mac, type, ciaddr = [0, 0, 0, 0], giaddr = [0, 0, 0, 0], flags = 0, options = [], file = "", sname = "" }) {
  const opts = [[53, [type]], ...options];
  const optLen = opts.reduce((n, [, v]) => n + 2 + v.length, 0) + 1;
  const buf = Buffer.alloc(Math.max(300, 240 + optLen));
  buf[0] = 1;
  buf[1] = 1;
  buf[2] = 6;
  buf.writeUInt32BE(0x1234abcd, 4);
  buf.writeUInt16BE(flags, 10);
  Buffer.from(ciaddr).copy(buf, 12);
  Buffer.from(giaddr).copy(buf, 24);
  Buffer.from(mac).copy(buf, 28);
  buf.write(sname, 44, 63, "latin1");
  buf.write(file, 108, 127, "latin1");
  buf.writeUInt32BE(COOKIE, 236);
  let off = 240;
  for (const [code, v] of opts) {
    buf[off++] = code;
    buf[off++] = v.length;
    Buffer.from(v).copy(buf, off);
    off += v.length;
  }
  buf[off] = 255;
  return buf;
}

const bytes = (s) => [...Buffer.from(s, "latin1")];
const PXE_OPTS = [
  [60, bytes("PXEClient:Arch:00007:UNDI:003016")],
  [93, [0, 7]],
  [94, [1, 3, 16]],
  [97, [0, ...Array.from({ length: 16 }, (_, i) => i)]],
  [55, [1, 3, 6, 12, 15, 43, 60, 66, 67, 93, 97, 128, 175]],
  [57, [5, 192]],
];

export function dhcpSeeds() {
  const mac = [0x52, 0x54, 0x00, 0x12, 0x34, 0x56];
  return [
    dhcpPacket({ mac, type: 1, options: PXE_OPTS }),
    dhcpPacket({
      mac,
      type: 1,
      flags: 0x8000,
      options: [
        [61, [1, ...mac]],
        [12, bytes("node001")],
      ],
    }),
    dhcpPacket({ mac, type: 3, options: [[50, [127, 0, 0, 2]], [54, [127, 0, 0, 1]], ...PXE_OPTS] }),
    dhcpPacket({ mac, type: 3, ciaddr: [127, 0, 0, 2] }),
    dhcpPacket({
      mac,
      type: 3,
      options: [
        [50, [127, 0, 0, 9]],
        [77, bytes("\x04iPXE")],
        [175, [176, 1, 1]],
      ],
    }),
    dhcpPacket({ mac, type: 8, ciaddr: [127, 0, 0, 2] }),
    dhcpPacket({ mac, type: 7, ciaddr: [127, 0, 0, 2], options: [[54, [127, 0, 0, 1]]] }),
    dhcpPacket({
      mac,
      type: 4,
      options: [
        [50, [127, 0, 0, 2]],
        [54, [127, 0, 0, 1]],
      ],
    }),
    dhcpPacket({ mac, type: 1, giaddr: [127, 0, 0, 1], options: [[82, [1, 4, 1, 2, 3, 4, 2, 2, 9, 9]], ...PXE_OPTS] }),
    // Option overload (52): options continue in file and sname.
    (() => {
      const p = dhcpPacket({ mac, type: 1, options: [[52, [3]]] });
      p.fill(0, 44, 236);
      p[108] = 12;
      p[109] = 3;
      p.write("abc", 110, "latin1");
      p[113] = 255;
      p[44] = 60;
      p[45] = 4;
      p.write("PXEC", 46, "latin1");
      p[50] = 255;
      return p;
    })(),
  ];
}

// ---------- TFTP ----------
const z = (s) => Buffer.concat([Buffer.from(s, "utf8"), Buffer.from([0])]);
const op = (n) => Buffer.from([0, n]);

export function tftpRrq(file, options = {}) {
  return Buffer.concat([op(1), z(file), z("octet"), ...Object.entries(options).flatMap(([k, v]) => [z(k), z(String(v))])]);
}

export function tftpSeeds() {
  return [
    tftpRrq("small.bin"),
    tftpRrq("medium.bin", { blksize: 1468, tsize: 0, windowsize: 8, timeout: 1 }),
    tftpRrq("sub/inner.bin", { blksize: 512 }),
    tftpRrq("virtual/hello.ipxe", { tsize: 0 }),
    tftpRrq("../../etc/passwd"),
    tftpRrq("escape/passwd"),
    Buffer.concat([op(1), z("small.bin"), z("netascii")]),
    Buffer.concat([op(2), z("upload.bin"), z("octet")]),
    Buffer.from([0, 4, 0, 1]),
    Buffer.from([0, 4, 0, 0]),
    Buffer.concat([op(3), Buffer.from([0, 1]), Buffer.alloc(512, 7)]),
    Buffer.concat([op(5), Buffer.from([0, 2]), z("nope")]),
    Buffer.concat([op(6), z("blksize"), z("1468")]),
  ];
}

/** Packets that matter to a running transfer (sent to its TID). */
export function tftpTransferSeeds() {
  return [Buffer.from([0, 4, 0, 1]), Buffer.from([0, 4, 0, 0]), Buffer.from([0, 4, 0xff, 0xff]), Buffer.concat([op(5), Buffer.from([0, 0]), z("stop")])];
}

// ---------- mutation ----------
const INTERESTING = [0, 1, 0x7f, 0x80, 0xff, 0xfe, 0x40, 0x20, 0x10];

/** One mutated packet from the seeds: 1–4 stacked mutations, sometimes pure noise. */
export function mutate(r, seeds, maxLen = 1500) {
  if (r.chance(0.03)) {
    const b = Buffer.alloc(r.int(maxLen));
    for (let i = 0; i < b.length; i++) b[i] = r.int(256);
    return b;
  }
  let b = Buffer.from(r.pick(seeds));
  const rounds = 1 + r.int(4);
  for (let k = 0; k < rounds; k++) {
    switch (r.int(9)) {
      case 0: // flip a bit
        if (b.length) b[r.int(b.length)] ^= 1 << r.int(8);
        break;
      case 1: // set a byte to an interesting value
        if (b.length) b[r.int(b.length)] = r.pick(INTERESTING);
        break;
      case 2: // random byte
        if (b.length) b[r.int(b.length)] = r.int(256);
        break;
      case 3: // truncate
        b = b.subarray(0, r.int(b.length + 1));
        break;
      case 4: {
        // insert random bytes
        const at = r.int(b.length + 1);
        const ins = Buffer.alloc(1 + r.int(64));
        for (let i = 0; i < ins.length; i++) ins[i] = r.int(256);
        b = Buffer.concat([b.subarray(0, at), ins, b.subarray(at)]);
        break;
      }
      case 5: {
        // delete a run
        const at = r.int(b.length + 1);
        b = Buffer.concat([b.subarray(0, at), b.subarray(at + 1 + r.int(32))]);
        break;
      }
      case 6: {
        // splice with another seed
        const o = r.pick(seeds);
        const at = r.int(Math.min(b.length, o.length) + 1);
        b = Buffer.concat([b.subarray(0, at), o.subarray(at)]);
        break;
      }
      case 7: {
        // duplicate a run (repeated options, long strings)
        const at = r.int(b.length + 1);
        const run = b.subarray(at, at + 1 + r.int(40));
        b = Buffer.concat([b.subarray(0, at), run, run, b.subarray(at)]);
        break;
      }
      case 8: // remove every NUL from the tail or add many
        b = r.chance(0.5) ? Buffer.concat([b, Buffer.alloc(r.int(600))]) : Buffer.from(b.filter((x, i) => i < 2 || x !== 0));
        break;
    }
  }
  return b.length > maxLen ? b.subarray(0, maxLen) : b;
}
