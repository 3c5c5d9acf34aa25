// `metalform image list|show|build|rm`: the snapshots nodes are served, with their
// sizes, dates and the nodes that run them; building or importing an image's
// snapshot ahead of an apply; removing one nobody runs.
import type { ArgumentsCamelCase, Argv, CommandModule } from "yargs";
import type { GlobalArgs } from "../globals.js";
import { reportError } from "./plan.js";

interface ImageArgs extends GlobalArgs {
  state?: string;
  imageStore?: string;
  image?: string;
  images?: string[];
  snapshot?: string;
  force?: boolean;
}

function common<T>(y: Argv<T>) {
  return y
    .option("state", { type: "string", describe: "State: a file, or a postgres:// URL (which nodes run which snapshot)" })
    .option("image-store", { type: "string", describe: "The snapshot store (default $METALFORM_IMAGE_STORE, else images/ beside the local state)" });
}

async function context(argv: ImageArgs) {
  const { openImageContext } = await import("../../plan/image-context.js");
  return openImageContext({
    ...(argv.config ? { config: argv.config } : {}),
    ...(argv.state ? { state: argv.state } : {}),
    ...(argv.imageStore ? { imageStore: argv.imageStore } : {}),
  });
}

const list: CommandModule<GlobalArgs, ImageArgs> = {
  command: "list",
  describe: "List the snapshots of every image: size, date, which nodes run each",
  builder: (y) => common(y).example("$0 image list", "Snapshots with the nodes running them"),
  handler: async (argv: ArgumentsCamelCase<ImageArgs>) => {
    try {
      const c = await context(argv);
      const { contextRows } = await import("../../plan/image-context.js");
      const { renderCatalog } = await import("../../images/catalog.js");
      const rows = contextRows(c);
      process.stdout.write(argv.json ? JSON.stringify({ store: c.store.dir, snapshots: rows }, null, 2) + "\n" : renderCatalog(rows, c.store.dir));
    } catch (e) {
      reportError(e);
    }
  },
};

const show: CommandModule<GlobalArgs, ImageArgs> = {
  command: "show <image> [snapshot]",
  describe: "Show an image's snapshots (or one of them, by digest prefix) in detail",
  builder: (y) =>
    common(y)
      .positional("image", { type: "string" })
      .positional("snapshot", { type: "string", describe: "Digest or its first hex digits" })
      .example("$0 image show compute 3f2a1c", "One snapshot: source, kernel, path, nodes"),
  handler: async (argv: ArgumentsCamelCase<ImageArgs>) => {
    try {
      const c = await context(argv);
      const { contextRows } = await import("../../plan/image-context.js");
      const { renderSnapshot } = await import("../../images/catalog.js");
      const metas = argv.snapshot ? [c.store.find(argv.image!, argv.snapshot)] : c.store.list(argv.image!);
      if (!metas.length) {
        process.stderr.write(`metalform: image ${argv.image} has no snapshots in ${c.store.dir}\n`);
        process.exitCode = 1;
        return;
      }
      const rows = contextRows(c, argv.image).filter((r) => metas.some((m) => m.digest === r.digest));
      if (argv.json)
        return void process.stdout.write(
          JSON.stringify(
            rows.map((r, i) => ({ ...r, ...metas[i], path: c.store.snapshotDir(r.image, r.digest) })),
            null,
            2,
          ) + "\n",
        );
      process.stdout.write(rows.map((r, i) => renderSnapshot(r, metas[i]!, c.store.snapshotDir(r.image, r.digest))).join("\n"));
    } catch (e) {
      reportError(e);
    }
  },
};

const build: CommandModule<GlobalArgs, ImageArgs> = {
  command: "build [images..]",
  describe: "Make the snapshots of the configuration's images now: build recipes, unpack tarballs and OCI images, copy directories",
  builder: (y) =>
    common(y)
      .positional("images", { type: "string", array: true, describe: "Image names (default: all)" })
      .example("$0 image build debian", "Build the recipe of image debian (cached by its digest)"),
  handler: async (argv: ArgumentsCamelCase<ImageArgs>) => {
    try {
      const c = await context(argv);
      const { buildImages } = await import("../../plan/image-build.js");
      const out = await buildImages(c, { images: argv.images ?? [], ...(argv.json ? {} : { say: (l: string) => process.stderr.write(l + "\n") }) });
      if (!out.ok) {
        process.stderr.write(out.lines.join("\n") + "\n");
        process.exitCode = 1;
        return;
      }
      process.stdout.write(argv.json ? JSON.stringify(out, null, 2) + "\n" : out.lines.join("\n") + "\n");
    } catch (e) {
      reportError(e);
    }
  },
};

const rm: CommandModule<GlobalArgs, ImageArgs> = {
  command: "rm <image> <snapshot>",
  describe: "Remove a snapshot (refused while nodes run it or the configuration pins it, unless --force)",
  builder: (y) =>
    common(y)
      .positional("image", { type: "string" })
      .positional("snapshot", { type: "string", describe: "Digest or its first hex digits" })
      .option("force", { type: "boolean", default: false, describe: "Remove it even though nodes run it" })
      .example("$0 image rm compute 3f2a1c", "Remove an old snapshot of compute"),
  handler: async (argv: ArgumentsCamelCase<ImageArgs>) => {
    try {
      const c = await context(argv);
      const { contextRows } = await import("../../plan/image-context.js");
      const { removalBlocker } = await import("../../images/catalog.js");
      const meta = c.store.find(argv.image!, argv.snapshot!);
      const row = contextRows(c, argv.image).find((r) => r.digest === meta.digest)!;
      const blocker = removalBlocker(row);
      if (blocker && !argv.force) {
        process.stderr.write(`metalform: not removing ${argv.image} ${meta.digest.slice(7, 19)}: ${blocker}; --force removes it anyway\n`);
        process.exitCode = 1;
        return;
      }
      await c.store.remove(argv.image!, meta.digest);
      process.stdout.write(`Removed snapshot ${meta.digest.slice(7, 19)} of image ${argv.image}.\n`);
    } catch (e) {
      reportError(e);
    }
  },
};

export const imageCommand: CommandModule<GlobalArgs, GlobalArgs> = {
  command: "image <command>",
  describe: "Image snapshots: list, show, build (recipes, tarballs, OCI), rm",
  builder: (y) =>
    y
      .command(list)
      .command(show)
      .command(build)
      .command(rm)
      .demandCommand(1, "Name an image command: list, show, build, rm.")
      .example("$0 image build && $0 image list", "Make every image's snapshot, then list them"),
  handler: () => undefined,
};
