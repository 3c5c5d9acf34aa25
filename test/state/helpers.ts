// Builds src/state into plain JavaScript in a temporary directory so that real child
// processes (which cannot load TypeScript) can run the real lock code.
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import ts from "typescript";

export function transpileStateModule(outDir: string): string {
  const src = new URL("../../src/state/", import.meta.url).pathname;
  const dest = join(outDir, "state");
  mkdirSync(dest, { recursive: true });
  writeFileSync(join(outDir, "package.json"), JSON.stringify({ type: "module" }));
  for (const f of readdirSync(src).filter((n) => n.endsWith(".ts"))) {
    const out = ts.transpileModule(readFileSync(join(src, f), "utf8"), {
      compilerOptions: { module: ts.ModuleKind.ES2022, target: ts.ScriptTarget.ES2022, verbatimModuleSyntax: false },
      fileName: f,
    });
    writeFileSync(join(dest, f.replace(/\.ts$/, ".js")), out.outputText);
  }
  return dest;
}
