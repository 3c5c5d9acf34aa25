import { describe, expect, it } from "vitest";
import { negotiate } from "../../../src/services/tftp/options.js";

const limits = { maxBlockSize: 1468, maxWindowSize: 64 };
const o = (pairs: [string, string][]) => pairs.map(([name, value]) => ({ name, value }));

describe("tftp option negotiation", () => {
  it("grants requested values within limits and answers tsize with the real size", () => {
    const n = negotiate(
      o([
        ["tsize", "0"],
        ["blksize", "1024"],
        ["windowsize", "16"],
        ["timeout", "3"],
      ]),
      limits,
      12345,
    );
    expect(n).toEqual({
      blksize: 1024,
      windowsize: 16,
      timeoutMs: 3000,
      reply: o([
        ["tsize", "12345"],
        ["blksize", "1024"],
        ["windowsize", "16"],
        ["timeout", "3"],
      ]),
    });
  });

  it("caps blksize and windowsize at the server's limits", () => {
    const n = negotiate(
      o([
        ["BLKSIZE", "65464"],
        ["WindowSize", "65535"],
      ]),
      limits,
      1,
    );
    expect(n.blksize).toBe(1468);
    expect(n.windowsize).toBe(64);
    expect(n.reply).toEqual(
      o([
        ["BLKSIZE", "1468"],
        ["WindowSize", "64"],
      ]),
    );
  });

  it("leaves out invalid, unknown and repeated options", () => {
    const n = negotiate(
      o([
        ["blksize", "7"],
        ["blksize", "1000"],
        ["windowsize", "0"],
        ["timeout", "256"],
        ["timeout", "x"],
        ["foo", "1"],
        ["tsize", "-1"],
        ["blksize", "0x10"],
      ]),
      limits,
      5,
    );
    expect(n).toEqual({ blksize: 512, windowsize: 1, timeoutMs: undefined, reply: [] });
  });

  it("answers with no OACK when nothing was requested", () => {
    expect(negotiate([], limits, 5).reply).toEqual([]);
  });
});
