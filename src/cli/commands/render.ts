// `metalform render NODE [PATH]`: what a node's `files:` folder gives it — the list of
// its files (mode, digest, path) and scripts, or one file's rendered content. It reads
// the configuration only: a template error names the file, line and node, changes nothing.
import type { ArgumentsCamelCase, Argv, CommandModule } from "yargs";
import { useColor, type GlobalArgs } from "../globals.js";

interface RenderArgs extends GlobalArgs {
  node: string;
  path?: string;
}

export const renderCommand: CommandModule<GlobalArgs, RenderArgs> = {
  command: "render <node> [path]",
  describe: "Print the files a node gets from its files: folder (rendered templates), or one of them",
  builder: (y: Argv<GlobalArgs>) =>
    y
      .positional("node", { type: "string", demandOption: true, describe: "Node name" })
      .positional("path", { type: "string", describe: "A file's path on the node, e.g. /etc/motd: print its content" })
      .example("$0 render node001", "List node001's files and scripts")
      .example("$0 render node001 /etc/motd", "Print /etc/motd as node001 gets it"),
  handler: async (argv: ArgumentsCamelCase<RenderArgs>) => {
    const { loadCluster, defaultConfigPath } = await import("../../config/load.js");
    const { formatDiagnostics, summarizeDiagnostics } = await import("../../config/diagnostics.js");
    const { renderNodeFiles, TemplateError } = await import("../../boot/node-files.js");
    const path = defaultConfigPath(argv.config);
    const result = await loadCluster(path);
    const fail = (msg: string) => {
      process.stderr.write(`metalform: ${msg}\n`);
      process.exitCode = 1;
    };
    if (!result.cluster) {
      process.stderr.write(formatDiagnostics(result.diagnostics, { color: useColor(argv, process.stderr) }) + "\n");
      return fail(`${path}: ${summarizeDiagnostics(result.diagnostics)}`);
    }
    const node = result.cluster.nodes.find((n) => n.name === argv.node);
    if (!node) return fail(`no node "${argv.node}" in ${path}`);
    let files;
    try {
      files = renderNodeFiles(node, result.cluster.network);
    } catch (e) {
      if (e instanceof TemplateError) return fail(e.message);
      throw e;
    }
    if (argv.path !== undefined) {
      const f = files.find((x) => x.path === argv.path);
      if (!f) return fail(`node ${node.name} gets no file ${argv.path} from its files: folder${files.length ? ` (it gets ${files.map((x) => x.path).join(", ")})` : ""}`);
      process.stdout.write(argv.json ? JSON.stringify({ node: node.name, ...f }, null, 2) + "\n" : f.content);
      return;
    }
    const scripts = { initialize: node.initialize?.source, finalize: node.finalize?.source };
    if (argv.json) {
      process.stdout.write(JSON.stringify({ node: node.name, folder: node.files?.dir ?? null, files, scripts }, null, 2) + "\n");
      return;
    }
    const lines = files.map((f) => `${f.mode}  ${f.digest.slice(7, 19)}  ${f.path}`);
    if (!node.files) lines.push(`node ${node.name} has no files: folder`);
    for (const [k, src] of Object.entries(scripts)) if (src) lines.push(`${k} script: ${src}`);
    process.stdout.write(lines.join("\n") + "\n");
  },
};
