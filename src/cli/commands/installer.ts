// `metalform installer build [--image NAME]`: build the installer initramfs ahead of
// time (apply builds it when missing or stale).
import type { ArgumentsCamelCase, CommandModule } from "yargs";
import { useColor, type GlobalArgs } from "../globals.js";

interface InstallerArgs extends GlobalArgs {
  image?: string;
}

const build: CommandModule<GlobalArgs, InstallerArgs> = {
  command: "build",
  describe: "Build the installer initramfs for the configuration's images (busybox, disk tools, rsync, ipmitool, the image kernel's modules)",
  builder: (y) =>
    y
      .option("image", { type: "string", describe: "Only for this image" })
      .example("$0 installer build", "Build (or find cached) the installer of every image")
      .example("$0 installer build --image compute --json", "One image; path, digest and modules as JSON"),
  handler: async (argv: ArgumentsCamelCase<InstallerArgs>) => {
    const { loadCluster, defaultConfigPath } = await import("../../config/load.js");
    const { formatDiagnostics } = await import("../../config/diagnostics.js");
    const { defaultCacheDir } = await import("../../state/paths.js");
    const { buildImageInstaller } = await import("../../installer/for-image.js");
    const configPath = defaultConfigPath(argv.config);
    const loaded = await loadCluster(configPath, { requirePaths: true });
    if (!loaded.cluster) {
      process.stderr.write(formatDiagnostics(loaded.diagnostics, { color: useColor(argv, process.stderr) }) + "\n");
      process.exitCode = 1;
      return;
    }
    // Tarball, OCI and recipe images: their root (and kernel modules) is their snapshot.
    const { resolveImages } = await import("../../images/resolve.js");
    const { SnapshotStore } = await import("../../images/store.js");
    const { imageStoreDir } = await import("../../images/store-location.js");
    const { defaultRecipeCache } = await import("../../images/recipe.js");
    const path = await import("node:path");
    const { defaultStatePath } = await import("../../state/paths.js");
    const wanted = new Map([...loaded.cluster.images].filter(([n, i]) => (!argv.image || n === argv.image) && i.source && i.source.kind !== "directory"));
    const store = new SnapshotStore(imageStoreDir({ localDir: path.dirname(defaultStatePath(configPath)) }));
    const resolved = await resolveImages(
      { ...loaded.cluster, images: wanted },
      { store, cacheDir: defaultCacheDir(configPath), recipeCache: defaultRecipeCache(), snapshot: false },
    );
    const images = [...loaded.cluster.images.values()].map((i) => resolved.cluster.images.get(i.name) ?? i).filter((i) => !argv.image || i.name === argv.image);
    if (argv.image && images.length === 0) throw new Error(`no image "${argv.image}" in the configuration`);
    const results = [];
    for (const img of images) {
      const r = await buildImageInstaller(img, defaultCacheDir(configPath));
      results.push({ image: img.name, ...r });
      if (!argv.json) {
        process.stdout.write(
          `${img.name}: ${r.path} (${(r.bytes / 1048576).toFixed(1)} MiB, sha256 ${r.digest.slice(0, 12)}${r.cached ? ", cached" : ""}), ` +
            `${r.modules.length} kernel modules${r.kernelVersion ? ` for ${r.kernelVersion}` : ""}` +
            `${r.missingModules.length ? `; not in this kernel: ${r.missingModules.join(", ")}` : ""}\n`,
        );
      }
    }
    if (argv.json) process.stdout.write(JSON.stringify(results, null, 2) + "\n");
  },
};

export const installerCommand: CommandModule<GlobalArgs, GlobalArgs> = {
  command: "installer <command>",
  describe: "The installer environment nodes boot into",
  builder: (y) => y.command(build).demandCommand(1, "Name an installer command: build.").example("$0 installer build", "Build the installer ahead of apply"),
  handler: () => undefined,
};
