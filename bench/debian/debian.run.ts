// bench/debian: install time and bytes of a real Debian 12 image on one lab node, and of
// the sync after one package was added to its recipe, beside `rsync -aHAX` of the same
// trees from a local rsync daemon into a plain directory (same run, same machine); and
// the installer built for the image's kernel (size, build time). No assertion on time:
// the numbers are the output. Start with bench/debian/run.sh.
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, it } from "vitest";
import { buildInstaller } from "../../src/installer/build.js";
import { DebianLab } from "../../test/helpers/debian-lab.js";
import { DEBIAN_NODE_RECIPE, debianRoot, treeBytes, withPackages, type DebianRoot } from "../../test/helpers/debian-root.js";
import { startRsyncDaemon, type RsyncDaemon } from "../../test/installer/harness.js";

const lab = new DebianLab(`mfDbench${process.pid % 10000}`);
let base: DebianRoot;
let plus: DebianRoot;
let dir: string;
let rsyncd: RsyncDaemon;
const rows: string[][] = [];

beforeAll(async () => {
  base = await debianRoot(DEBIAN_NODE_RECIPE);
  plus = await debianRoot(withPackages(DEBIAN_NODE_RECIPE, "tree"));
  dir = mkdtempSync(join(tmpdir(), "mfDbench-"));
  rsyncd = await startRsyncDaemon(dir, { base: base.root, plus: plus.root });
  await lab.up(base);
}, 3_600_000);

afterAll(async () => {
  await lab.down();
  await rsyncd?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  process.stdout.write("\n" + rows.map((r) => r.map((c, i) => c.padEnd(widths[i]!)).join("  ")).join("\n") + "\n");
}, 600_000);

/** rsync by hand, as the installer runs it, from the daemon into `dest`: seconds and bytes received. */
function rsyncByHand(module: string, dest: string): { seconds: number; bytes: number } {
  const t0 = Date.now();
  const out = execFileSync("rsync", ["-aHAX", "--numeric-ids", "--delete", "--stats", rsyncd.url(module), `${dest}/`], { encoding: "utf8", maxBuffer: 64 << 20 });
  const bytes = Number(/Total bytes received: ([\d,]+)/.exec(out)![1]!.replace(/,/g, ""));
  return { seconds: (Date.now() - t0) / 1000, bytes };
}

it("Debian 12: install and one-package sync, metalform vs rsync by hand", async () => {
  rows.push(["case", "metalform s", "metalform bytes", "node s (power→UP)", "rsync -aHAX s", "rsync bytes", "tree bytes"]);
  const copy = join(dir, "copy");
  const install = await lab.apply();
  if (install.run.code !== 0) throw new Error(install.run.stderr.slice(-3000));
  const di = install.events.find((e) => e.type === "node_complete")!;
  const ri = rsyncByHand("base", copy);
  rows.push(["install", install.seconds.toFixed(1), String(di.bytes), String(di.elapsed_s), ri.seconds.toFixed(1), String(ri.bytes), String(treeBytes(base.root))]);

  lab.useImage(plus);
  const sync = await lab.apply();
  if (sync.run.code !== 0) throw new Error(sync.run.stderr.slice(-3000));
  const ds = sync.events.find((e) => e.type === "node_complete")!;
  const rs = rsyncByHand("plus", copy);
  rows.push([
    `sync (+tree, ${String(ds.change)})`,
    sync.seconds.toFixed(1),
    String(ds.bytes),
    String(ds.elapsed_s),
    rs.seconds.toFixed(1),
    String(rs.bytes),
    String(treeBytes(plus.root)),
  ]);

  // The installer for this image's kernel, built cold (no cache), and its size.
  const built = await buildInstaller({ outDir: join(dir, "installer"), kernelTree: base.root, kernelFile: base.kernel });
  rows.push([
    "installer",
    (built.buildMs / 1000).toFixed(1) + " build",
    `${built.bytes} gz`,
    `${built.uncompressedBytes} cpio`,
    `${built.shippedModules.length} modules`,
    `${built.modules.length} always`,
    `${built.firmware.length} firmware`,
  ]);
});
