import { afterAll, beforeAll, describe, expect, it } from "vitest";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { randomBytes } from "node:crypto";
import { BufferSource, FileSource, toNetascii } from "../../../src/services/tftp/source.js";

let dir: string;
const content = randomBytes(10_000);

beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), "mftf-src-"));
  fs.writeFileSync(path.join(dir, "f"), content);
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

const slots = (...lens: number[]) => lens.map((n) => Buffer.alloc(n, 0xee));

describe("tftp byte sources", () => {
  it("FileSource.readInto fills scattered slots from an offset", async () => {
    const src = new FileSource(await fs.promises.open(path.join(dir, "f")), content.length);
    try {
      const s = slots(512, 512, 100);
      expect(await src.readInto(s, 1000)).toBe(1124);
      expect(Buffer.concat(s)).toEqual(content.subarray(1000, 2124));
      // Past the end: only what exists is filled, and the count says so.
      const t = slots(512, 512);
      expect(await src.readInto(t, 9500)).toBe(500);
      expect(t[0]!.subarray(0, 500)).toEqual(content.subarray(9500));
      expect(await src.readInto([], 0)).toBe(0);
      expect(await src.read(9990, 100)).toEqual(content.subarray(9990));
    } finally {
      await src.close();
    }
  });

  it("BufferSource.readInto behaves the same", async () => {
    const src = new BufferSource(content);
    const s = slots(512, 512, 100);
    expect(await src.readInto(s, 1000)).toBe(1124);
    expect(Buffer.concat(s)).toEqual(content.subarray(1000, 2124));
    expect(await src.readInto(slots(512, 512), 9500)).toBe(500);
  });

  it("converts to netascii", () => {
    expect(toNetascii(Buffer.from("a\nb\r\nc\r", "latin1"))).toEqual(Buffer.from("a\r\nb\r\0\r\nc\r\0", "latin1"));
    expect(toNetascii(Buffer.alloc(0))).toEqual(Buffer.alloc(0));
  });
});
