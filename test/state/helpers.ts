// Builds src/state into plain JavaScript in a temporary directory so that real child
// processes (which cannot load TypeScript) can run the real lock code.
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import ts from "typescript";

export function transpileStateModule(outDir: string): string {
  writeFileSync(join(outDir, "package.json"), JSON.stringify({ type: "module" }));
  // The state layer and the layers below it that it imports at run time (docs/architecture.md).
  for (const dir of ["state", "progress", "util"]) {
    const src = new URL(`../../src/${dir}/`, import.meta.url).pathname;
    const dest = join(outDir, dir);
    mkdirSync(dest, { recursive: true });
    for (const f of readdirSync(src).filter((n) => n.endsWith(".ts"))) {
      const out = ts.transpileModule(readFileSync(join(src, f), "utf8"), {
        compilerOptions: { module: ts.ModuleKind.ES2022, target: ts.ScriptTarget.ES2022, verbatimModuleSyntax: false },
        fileName: f,
      });
      writeFileSync(join(dest, f.replace(/\.ts$/, ".js")), out.outputText);
    }
  }
  return join(outDir, "state");
}
