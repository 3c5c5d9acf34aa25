// The snapshot store's pure parts: which member names an archive may not hold,
// which snapshots retention removes, finding a snapshot by digest prefix, and what
// `image list` says about each snapshot (nodes from the state, applied, pinned).
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { catalogRows, removalBlocker, renderCatalog } from "../../src/images/catalog.js";
import { ArchiveError, checkMemberNames, unsafeMemberName } from "../../src/images/import-tar.js";
import { SnapshotStore, snapshotsToPrune, type SnapshotMeta } from "../../src/images/store.js";
import { appliedImages, digestsInUse, nodeImageRecords } from "../../src/plan/images-in-use.js";
import { newState } from "../../src/state/codec.js";

const hex = (c: string) => c.repeat(64);
const meta = (c: string, createdAt: string): SnapshotMeta => ({
  image: "compute",
  digest: `sha256:${hex(c)}`,
  size: 1024 ** 2 * 3,
  files: 10,
  createdAt,
  source: "directory /srv/compute",
  kernel: "root/boot/vmlinuz",
});

describe("archive member names", () => {
  it.each([
    ["/etc/passwd", "an absolute path"],
    ["../etc/passwd", "a '..' component"],
    ["./usr/../../x", "a '..' component"],
    ["usr/..", "a '..' component"],
  ])("%s is refused (%s)", (name, why) => {
    expect(unsafeMemberName(name)).toBe(why);
  });
  it.each(["./", "./etc/passwd", "usr/lib/..foo", "a/b..c/d", "x/.../y"])("%s is fine", (name) => {
    expect(unsafeMemberName(name)).toBeUndefined();
  });
  it("a listing with one bad name refuses the whole archive, naming the member", () => {
    expect(() => checkMemberNames("./\n./etc/\n./etc/../../root/.ssh/authorized_keys\n", "img.tar")).toThrow(ArchiveError);
    expect(() => checkMemberNames("./\n./etc/\n./etc/../../root/.ssh/authorized_keys\n", "img.tar")).toThrow(
      "img.tar holds \"./etc/../../root/.ssh/authorized_keys\", a '..' component: refusing the archive",
    );
    expect(() => checkMemberNames("./\n./etc/hostname\n", "img.tar")).not.toThrow();
  });
});

describe("retention", () => {
  const s = [meta("a", "2026-12-01T00:00:00Z"), meta("b", "2026-12-02T00:00:00Z"), meta("c", "2026-12-03T00:00:00Z"), meta("d", "2026-12-04T00:00:00Z")];
  it("keeps the newest N", () => {
    expect(snapshotsToPrune(s, 2, new Set()).map((m) => m.digest[7])).toEqual(["b", "a"]);
    expect(snapshotsToPrune(s, 10, new Set())).toEqual([]);
  });
  it("never removes a protected one (a node runs it, it is pinned or served)", () => {
    expect(snapshotsToPrune(s, 1, new Set([`sha256:${hex("a")}`, `sha256:${hex("c")}`])).map((m) => m.digest[7])).toEqual(["b"]);
  });
});

describe("the store", () => {
  const dir = mkdtempSync(join(tmpdir(), "mf-store-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const store = new SnapshotStore(dir);
  for (const [c, t] of [
    ["3f2a1c", "2026-12-01T00:00:00Z"],
    ["3f2b00", "2026-12-02T00:00:00Z"],
  ] as const) {
    const d = `${c}${"0".repeat(58)}`;
    mkdirSync(join(dir, "compute", d, "root"), { recursive: true });
    writeFileSync(join(dir, "compute", `${d}.json`), JSON.stringify({ ...meta("0", t), digest: `sha256:${d}` }));
  }
  it("lists newest first and finds a snapshot by a unique prefix", () => {
    expect(store.list("compute").map((m) => m.digest.slice(7, 13))).toEqual(["3f2b00", "3f2a1c"]);
    expect(store.find("compute", "3f2a1c").createdAt).toBe("2026-12-01T00:00:00Z");
    expect(store.find("compute", "sha256:3f2b").createdAt).toBe("2026-12-02T00:00:00Z");
  });
  it("an ambiguous or unknown prefix is refused with what there is", () => {
    expect(() => store.find("compute", "3f2")).toThrow(/3f2 matches 2 snapshots \(3f2b00000000, 3f2a1c000000\): give more digits/);
    expect(() => store.find("compute", "abcdef")).toThrow(/image compute has no snapshot abcdef in .* \(it has: 3f2b00000000, 3f2a1c000000\)/);
  });
  it("serves the image from inside the snapshot", () => {
    const m = store.list("compute")[0]!;
    const img = store.imageOf(
      {
        name: "compute",
        root: "/src",
        rootType: "directory",
        kernel: "/src/boot/vmlinuz",
        initrd: "/src/boot/initrd.img",
        kernelArgs: [],
        excludeSync: [],
        excludeFull: [],
        pos: { file: "c.yaml", line: 1, col: 1 },
      },
      m,
    );
    expect(img.root).toBe(join(dir, "compute", m.digest.slice(7), "root"));
    expect(img.kernel).toBe(join(dir, "compute", m.digest.slice(7), "root/boot/vmlinuz"));
    expect(img.initrd).toBeUndefined();
  });
});

describe("image list", () => {
  const state = newState("c");
  const applied = (digest: string) => ({
    image: { name: "compute", digest },
    diskLayout: { name: "l", digest: "sha256:1" },
    network: { ip: "10.0.0.1", mac: "m", hostname: "h" },
    boot: "pxe" as const,
    installMode: "auto" as const,
    kernelArgs: [],
    excludeSync: [],
    excludeFull: [],
  });
  state.nodes["n01"] = { applied: applied(`sha256:${hex("b")}`) };
  // n02 was applied b but reports it runs a (it did not sync yet): it runs a.
  state.nodes["n02"] = { applied: applied(`sha256:${hex("b")}`), reported: { imageDigest: `sha256:${hex("a")}`, phase: "up", time: "2026-12-04T00:00:00Z" } };
  state.images["compute"] = { digest: `sha256:${hex("b")}`, size: 1 };
  const rows = catalogRows({
    snapshots: new Map([["compute", [meta("b", "2026-12-02T10:00:00Z"), meta("a", "2026-12-01T09:30:00Z")]]]),
    nodes: nodeImageRecords(state),
    applied: appliedImages(state),
    pins: new Map([["compute", "aaaaaa"]]),
  });
  it("says which nodes run each snapshot, which one was applied and which is pinned", () => {
    expect(rows.map((r) => [r.digest[7], r.nodes, r.applied, r.pinned])).toEqual([
      ["b", ["n01"], true, false],
      ["a", ["n02"], false, true],
    ]);
    expect(renderCatalog(rows, "/store")).toBe(
      [
        "IMAGE    SNAPSHOT      SIZE  CREATED (UTC)     STATUS   NODES",
        "compute  bbbbbbbbbbbb  3MiB  2026-12-02 10:00  applied  n01",
        "compute  aaaaaaaaaaaa  3MiB  2026-12-01 09:30  pinned   n02",
        "",
        "2 snapshots in /store",
        "",
      ].join("\n"),
    );
  });
  it("retention keeps what nodes run, applied or reported", () => {
    expect(digestsInUse(state)).toEqual(new Map([["compute", new Set([`sha256:${hex("b")}`, `sha256:${hex("a")}`])]]));
  });
  it("refuses to remove a snapshot nodes run or the configuration pins", () => {
    expect(removalBlocker(rows[0]!)).toBe("nodes run it (n01)");
    expect(removalBlocker({ ...rows[1]!, nodes: [] })).toBe("the configuration pins it");
    expect(removalBlocker({ ...rows[1]!, nodes: [], pinned: false })).toBeUndefined();
  });
});
