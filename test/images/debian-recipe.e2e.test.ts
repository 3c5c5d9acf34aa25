// The Debian 12 recipe of `lab up --image debian`, built for real with mmdebstrap from
// Debian's packages. The build is shared: it lives in the recipe cache every test and
// `lab up` agree on ($METALFORM_RECIPE_CACHE, else ~/.cache/metalform/recipes, keyed by
// the recipe's digest), so only the first run on a machine pays the 2–3 minutes.
// Also: the lab configuration that declares the recipe plans and snapshots it (hard
// links into the cache), and a recipe naming a package that does not exist is refused
// with apt's words, the image and its config position, and leaves nothing behind.
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { buildRecipe } from "../../src/images/recipe-build.js";
import { DEBIAN_LAB_RECIPE, defaultRecipeCache } from "../../src/images/recipe.js";
import { renderLabConfig } from "../../src/lab/cluster-config.js";
import { loadPlanInputs } from "../../src/plan/inputs.js";

const dir = mkdtempSync(join(tmpdir(), "mf-debian-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function labYaml(recipe = DEBIAN_LAB_RECIPE): string {
  return renderLabConfig({
    clusterName: "deb",
    bridge: "mfbr0",
    headAddress: "10.77.0.1",
    prefixLength: 24,
    imageRoot: "",
    kernel: "",
    initrd: "",
    imageName: "debian",
    recipe,
    bmcPasswordFile: join(dir, "pw"),
    bmcUser: "admin",
    bmcPort: 623,
    bmcNetmask: "255.255.255.0",
    ports: {},
    nodes: [{ name: "lab1", mac: "52:54:00:4d:46:01", ip: "10.77.0.11", bmcAddress: "10.78.0.11" }],
  });
}

describe("the Debian 12 lab recipe", () => {
  it(
    "builds (or comes from the shared cache) with its own kernel, initrd and modules",
    async () => {
      const b = await buildRecipe(DEBIAN_LAB_RECIPE, { cacheDir: defaultRecipeCache(), label: "debian" });
      expect(b.boot.kernel).toMatch(/^boot\/vmlinuz-6\.1\.0-\d+-amd64$/);
      expect(b.boot.initrd).toBe(`boot/initrd.img-${b.boot.version}`);
      expect(existsSync(join(b.root, "lib/modules", b.boot.version!, "modules.dep"))).toBe(true);
      expect(readFileSync(join(b.root, "etc/os-release"), "utf8")).toMatch(/VERSION_CODENAME=bookworm/);
      expect(existsSync(join(b.root, "usr/sbin/sshd"))).toBe(true);
      const again = await buildRecipe(DEBIAN_LAB_RECIPE, { cacheDir: defaultRecipeCache() });
      expect(again).toMatchObject({ cached: true, root: b.root, digest: b.digest });
    },
    30 * 60_000,
  );

  it(
    "the lab's configuration declares the recipe; plan snapshots it with hard links into the cache",
    async () => {
      writeFileSync(join(dir, "pw"), "x\n");
      writeFileSync(join(dir, "cluster.yaml"), labYaml());
      const first = await loadPlanInputs({ config: join(dir, "cluster.yaml") });
      if (!first.inputs) throw new Error(JSON.stringify(first.diagnostics));
      const img = first.inputs.cluster.images.get("debian")!;
      expect(img.kernel).toMatch(/\/root\/boot\/vmlinuz-6\.1\.0-\d+-amd64$/);
      expect(img.initrd).toMatch(/\/root\/boot\/initrd\.img-6\.1\.0-\d+-amd64$/);
      const cached = (await buildRecipe(DEBIAN_LAB_RECIPE, { cacheDir: defaultRecipeCache() })).root;
      expect(statSync(img.kernel).ino).toBe(statSync(join(cached, img.kernel.split("/root/")[1]!)).ino);
      expect(first.inputs.imageDigests.get("debian")!.size).toBeGreaterThan(300 * 1024 ** 2);
      // The second plan finds the snapshot by the recipe's digest: same digest, nothing copied.
      const second = await loadPlanInputs({ config: join(dir, "cluster.yaml") });
      expect(second.inputs!.imageDigests.get("debian")!.digest).toBe(first.inputs.imageDigests.get("debian")!.digest);
      expect(readdirSync(join(dir, ".metalform/images/debian")).filter((n) => /^[0-9a-f]{64}$/.test(n))).toHaveLength(1);
    },
    10 * 60_000,
  );

  it(
    "a recipe naming a package that does not exist is refused, naming the image and where it is declared",
    async () => {
      const cache = join(dir, "recipes");
      mkdirSync(cache);
      const saved = process.env.METALFORM_RECIPE_CACHE;
      process.env.METALFORM_RECIPE_CACHE = cache;
      try {
        const bad = { ...DEBIAN_LAB_RECIPE, packages: ["no-such-package-mfi"], variant: "essential" };
        mkdirSync(join(dir, "bad"));
        writeFileSync(join(dir, "bad", "cluster.yaml"), labYaml(bad));
        await expect(loadPlanInputs({ config: join(dir, "bad", "cluster.yaml") })).rejects.toThrow(
          /image debian: the recipe did not build \(mmdebstrap exited \d+\): .*no-such-package-mfi.* \(.*bad\/cluster\.yaml:\d+:\d+\)/,
        );
        expect(readdirSync(cache).filter((n) => !n.endsWith(".build.log"))).toEqual([]);
        expect(existsSync(join(dir, "bad", ".metalform/images/debian")) ? readdirSync(join(dir, "bad", ".metalform/images/debian")) : []).toEqual([]);
      } finally {
        if (saved === undefined) delete process.env.METALFORM_RECIPE_CACHE;
        else process.env.METALFORM_RECIPE_CACHE = saved;
      }
    },
    10 * 60_000,
  );
});
