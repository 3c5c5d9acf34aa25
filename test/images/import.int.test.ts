// Images from where users keep them, against the real tools: a directory, a tarball
// (GNU tar, zstd), an OCI archive and a `docker save` archive (made here with umoci and
// skopeo from the same tree, no registry), each turned into a snapshot in the store;
// hostile and broken archives refused with the image and its config position named and
// nothing left behind; snapshots immutable while the source changes, unchanged files
// hard-linked, retention and pinning (rollback) through plan's own inputs.
import { execFileSync } from "node:child_process";
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadClusterSync } from "../../src/config/load.js";
import { loadPlanInputs } from "../../src/plan/inputs.js";
import { planChanges } from "../../src/plan/planner.js";
import { recordApplied } from "../../src/plan/record.js";
import { LocalStateStore } from "../../src/state/local.js";
import { makeSnapshot } from "../../src/images/snapshot.js";
import { SnapshotStore } from "../../src/images/store.js";
import { newState } from "../../src/state/codec.js";

const dir = mkdtempSync(join(tmpdir(), "mf-images-"));
const cfg = join(dir, "cluster.yaml");
const storeDir = join(dir, ".metalform", "images");
const sh = (cmd: string, args: string[], cwd = dir) => execFileSync(cmd, args, { cwd, stdio: ["ignore", "pipe", "pipe"] }).toString();

function makeTree(root: string): void {
  mkdirSync(join(root, "boot"), { recursive: true });
  mkdirSync(join(root, "etc"), { recursive: true });
  mkdirSync(join(root, "usr/bin"), { recursive: true });
  writeFileSync(join(root, "boot/vmlinuz-6.1.0-9-amd64"), "kernel bytes\n");
  writeFileSync(join(root, "boot/initrd.img-6.1.0-9-amd64"), "initrd bytes\n");
  writeFileSync(join(root, "etc/hostname"), "image\n");
  writeFileSync(join(root, "etc/big"), Buffer.alloc(256 * 1024, 7));
  writeFileSync(join(root, "usr/bin/tool"), "#!/bin/sh\necho tool\n");
  chmodSync(join(root, "usr/bin/tool"), 0o755);
  symlinkSync("usr/bin", join(root, "bin"));
}

function config(images: string, node = "dir"): string {
  return `cluster: { name: imgtest }
network: { interface: eth1, address: 10.77.0.1/24 }
images:
${images}
diskLayouts:
  one:
    disks:
      - { name: vda, match: { device: /dev/vda }, partitions: [{ size: rest, fs: ext4, mount: / }] }
nodes:
  - { name: n1, image: ${node}, diskLayout: one, mac: "52:54:00:00:00:01", ip: 10.77.0.11 }
`;
}

const DIR_IMAGE = `  dir:
    root: src
    kernel: src/boot/vmlinuz-6.1.0-9-amd64
    initrd: src/boot/initrd.img-6.1.0-9-amd64
`;

async function inputs(yaml: string, snapshot = false) {
  writeFileSync(cfg, yaml);
  const r = await loadPlanInputs({ config: cfg, snapshot });
  if (!r.inputs) throw new Error(JSON.stringify(r.diagnostics));
  return r.inputs;
}

const storeEntries = (image: string) => (existsSync(join(storeDir, image)) ? readdirSync(join(storeDir, image)) : []);

beforeAll(() => {
  makeTree(join(dir, "src"));
  sh("tar", ["--zstd", "-cf", "img.tar.zst", "-C", "src", "."]);
  sh("umoci", ["init", "--layout", "layout"]);
  sh("umoci", ["new", "--image", "layout:v1"]);
  sh("umoci", ["insert", "--image", "layout:v1", "src", "/"]);
  sh("skopeo", ["copy", "--quiet", "oci:layout:v1", "oci-archive:img.oci.tar:v1"]);
  sh("skopeo", ["copy", "--quiet", "oci:layout:v1", "docker-archive:img.docker.tar:mf/img:v1"]);
}, 120_000);
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("importing images", () => {
  it("the same tree as a directory, a tarball, an OCI archive, a docker archive and an OCI layout has one digest", async () => {
    const i = await inputs(
      config(
        DIR_IMAGE +
          `  tar: { root: img.tar.zst, kernel: /boot/vmlinuz-6.1.0-9-amd64, initrd: /boot/initrd.img-6.1.0-9-amd64 }
  oci: { oci: img.oci.tar }
  docker: { oci: img.docker.tar }
  layout: { oci: layout, ref: v1 }
`,
      ),
    );
    const d = Object.fromEntries([...i.imageDigests].map(([k, v]) => [k, v.digest]));
    expect(new Set(Object.values(d)).size).toBe(1);
    // Plan unpacked the archives (it must, to know what they hold) but left the directory in place.
    for (const n of ["tar", "oci", "docker", "layout"]) {
      const img = i.cluster.images.get(n)!;
      expect(img.root).toBe(join(storeDir, n, d[n]!.slice(7), "root"));
      expect(readFileSync(img.kernel, "utf8")).toBe("kernel bytes\n");
      expect(readFileSync(img.initrd!, "utf8")).toBe("initrd bytes\n");
      expect(statSync(join(img.root, "usr/bin/tool")).mode & 0o777).toBe(0o755);
    }
    expect(i.cluster.images.get("dir")!.root).toBe(join(dir, "src"));
    expect(storeEntries("dir")).toEqual([]);
  }, 120_000);

  it("a second plan reuses the unpacked snapshots (no second copy)", async () => {
    const before = storeEntries("oci");
    await inputs(config(DIR_IMAGE + "  oci: { oci: img.oci.tar }\n"));
    expect(storeEntries("oci")).toEqual(before);
  }, 60_000);
});

describe("bad archives change nothing and say which image", () => {
  const refused = async (name: string, yamlImage: string, re: RegExp) => {
    await expect(inputs(config(DIR_IMAGE + yamlImage))).rejects.toThrow(re);
    expect(storeEntries(name).filter((e) => e !== "sources.json")).toEqual([]);
  };
  it("a '..' member", async () => {
    sh("tar", ["-cf", "evil.tar", "--transform", "s,^x,../escape,", "-C", "src", "."]);
    sh("tar", ["-cf", "dotdot.tar", "-C", join(dir, "src"), "etc", "-C", dir, "--transform", "s,^evil,../../evil,", "evil.tar"]);
    await refused(
      "evil",
      "  evil: { root: dotdot.tar, kernel: /boot/vmlinuz }\n",
      /image evil: .*dotdot\.tar holds "\.\.\/\.\.\/evil\.tar", a '\.\.' component.*\(.*cluster\.yaml:\d+:\d+\)/,
    );
    expect(existsSync(join(dir, "..", "evil.tar"))).toBe(false);
  });
  it("an absolute member", async () => {
    sh("tar", ["-cPf", "abs.tar", join(dir, "src", "etc", "hostname")]);
    await refused("abs", "  abs: { root: abs.tar, kernel: /boot/vmlinuz }\n", /image abs: .*abs\.tar holds ".*etc\/hostname", an absolute path/);
  });
  it("a corrupt archive", async () => {
    writeFileSync(join(dir, "corrupt.tar.gz"), Buffer.concat([Buffer.from([0x1f, 0x8b, 8, 0]), Buffer.alloc(100, 3)]));
    await refused(
      "corrupt",
      "  corrupt: { root: corrupt.tar.gz, kernel: /boot/vmlinuz }\n",
      /image corrupt: .*corrupt\.tar\.gz is not a readable tar archive: .*\(.*cluster\.yaml:\d+:\d+\)/,
    );
    writeFileSync(join(dir, "junk.oci.tar"), "not an archive at all");
    await refused("junk", "  junk: { oci: junk.oci.tar }\n", /image junk: .*junk\.oci\.tar is not a readable tar archive/);
  });
  it("an OCI image without a kernel", async () => {
    mkdirSync(join(dir, "nokernel/etc"), { recursive: true });
    writeFileSync(join(dir, "nokernel/etc/hostname"), "x\n");
    sh("umoci", ["new", "--image", "layout:nokernel"]);
    sh("umoci", ["insert", "--image", "layout:nokernel", "nokernel", "/"]);
    await refused("nok", "  nok: { oci: layout, ref: nokernel }\n", /image nok: the image has no kernel \(no \/boot\/vmlinuz-\* or \/boot\/vmlinuz\).*\(.*cluster\.yaml:\d+:\d+\)/);
  });
  it("an OCI reference that is not there", async () => {
    await refused("noref", "  noref: { oci: img.oci.tar, ref: nosuch }\n", /image noref: .*skopeo could not read the image nosuch: .*nosuch/);
  });
});

describe("snapshots", () => {
  it("apply serves a snapshot; editing the source changes nothing it serves; unchanged files are hard-linked", async () => {
    const a = await inputs(config(DIR_IMAGE), true);
    const first = a.cluster.images.get("dir")!;
    expect(first.root).toBe(join(storeDir, "dir", a.imageDigests.get("dir")!.digest.slice(7), "root"));
    writeFileSync(join(dir, "src/etc/hostname"), "edited\n");
    expect(readFileSync(join(first.root, "etc/hostname"), "utf8")).toBe("image\n");
    const b = await inputs(config(DIR_IMAGE), true);
    const second = b.cluster.images.get("dir")!;
    expect(b.imageDigests.get("dir")!.digest).not.toBe(a.imageDigests.get("dir")!.digest);
    expect(readFileSync(join(second.root, "etc/hostname"), "utf8")).toBe("edited\n");
    expect(statSync(join(second.root, "etc/big")).ino).toBe(statSync(join(first.root, "etc/big")).ino);
    expect(statSync(join(second.root, "etc/hostname")).ino).not.toBe(statSync(join(first.root, "etc/hostname")).ino);
  }, 60_000);

  it("a new snapshot reads only the files that changed (the others are hard links to the previous one)", async () => {
    writeFileSync(cfg, config(DIR_IMAGE));
    const img = loadClusterSync(cfg).cluster!.images.get("dir")!;
    writeFileSync(join(dir, "src/etc/hostname"), "one file changed\n");
    const made = await makeSnapshot(img, { store: new SnapshotStore(storeDir), cacheDir: join(dir, ".metalform/cache"), recipeCache: join(dir, "recipes") });
    expect(made.digest.read).toBe(1);
    expect(made.digest.files).toBeGreaterThan(4);
  }, 60_000);

  it("keeps the newest N, and any a node runs; a pin rolls back and the plan says so", async () => {
    const store = new SnapshotStore(storeDir);
    const oldest = store.list("dir").at(-1)!;
    // The state says n1 runs the oldest snapshot.
    writeFileSync(cfg, config(DIR_IMAGE));
    let i = await inputs(config(DIR_IMAGE), true);
    const plan0 = planChanges(i.cluster, i.state, { imageDigests: new Map([["dir", { digest: oldest.digest, size: oldest.size }]]) });
    const state = newState("imgtest");
    for (const c of [...plan0.imageChanges, ...plan0.nodeChanges]) recordApplied(state, c, i.cluster);
    const st = new LocalStateStore(join(dir, ".metalform", "state.json"));
    const lock = await st.lock({ operation: "test" }, 0);
    await st.write(state, 0);
    await lock.release();
    for (const v of ["v3\n", "v4\n", "v5\n"]) {
      writeFileSync(join(dir, "src/etc/hostname"), v);
      i = await inputs(config(DIR_IMAGE.replace("    root: src\n", "    root: src\n    keep: 2\n")), true);
    }
    // keep: 2 → the two newest (v5, v4) and the one n1 runs; "edited" and v3 are gone.
    const left = store.list("dir");
    const hostnameOf = (m: { digest: string }) => readFileSync(join(store.snapshotDir("dir", m.digest), "root/etc/hostname"), "utf8");
    expect(left.map(hostnameOf)).toEqual(["v5\n", "v4\n", "image\n"]);
    expect(left[2]!.digest).toBe(oldest.digest);

    const pinned = await inputs(config(DIR_IMAGE.replace("    root: src\n", `    root: src\n    pin: "${oldest.digest.slice(7, 13)}"\n`)));
    expect(pinned.imageDigests.get("dir")).toMatchObject({ digest: oldest.digest, pinned: true });
    expect(pinned.cluster.images.get("dir")!.root).toBe(join(storeDir, "dir", oldest.digest.slice(7), "root"));
    // A state where n1 runs the newest snapshot: pinning the oldest is a rollback.
    const newest = store.list("dir")[0]!;
    const moved = newState("imgtest");
    const plan1 = planChanges(i.cluster, undefined, { imageDigests: new Map([["dir", { digest: newest.digest, size: newest.size }]]) });
    for (const c of [...plan1.imageChanges, ...plan1.nodeChanges]) recordApplied(moved, c, i.cluster);
    const back = planChanges(pinned.cluster, moved, { imageDigests: pinned.imageDigests });
    const short = oldest.digest.slice(7, 13);
    expect(back.imageChanges[0]!.reasons[0]!.message).toMatch(new RegExp(`^rollback to ${short} \\(snapshot of \\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\d UTC\\)$`));
    expect(back.nodeChanges[0]!.reasons.map((r) => r.code)).toEqual(expect.arrayContaining(["image-changed", "image-rollback"]));
  }, 120_000);
});
