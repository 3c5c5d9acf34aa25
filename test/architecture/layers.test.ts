// The layer order of docs/architecture.md, enforced: every relative import in src/
// (static, `export … from`, dynamic `import()`, type-only) goes to the importer's own
// folder or to a folder in a lower layer. The order is read from the doc's table, so
// the doc and this test cannot disagree. Pure: reads files, no root.
import { readdirSync, readFileSync } from "node:fs";
import { dirname, join, relative, resolve, sep } from "node:path";
import ts from "typescript";
import { describe, expect, it } from "vitest";

const ROOT = resolve(import.meta.dirname, "../..");
const SRC = join(ROOT, "src");
const DOC = join(ROOT, "docs/architecture.md");

/** Folder → layer number (1 is the top), from the table between the layers markers. */
export function layersFromDoc(text: string): Map<string, number> {
  const start = text.indexOf("<!-- layers");
  const end = text.indexOf("<!-- /layers -->");
  if (start < 0 || end < start) throw new Error(`${DOC}: the table between <!-- layers … --> and <!-- /layers --> is missing`);
  const layers = new Map<string, number>();
  for (const line of text.slice(start, end).split("\n")) {
    const m = /^\|\s*(\d+)\s*\|([^|]+)\|/.exec(line);
    if (!m) continue;
    for (const f of m[2]!.matchAll(/`([^`]+)`/g)) layers.set(f[1]!, Number(m[1]));
  }
  return layers;
}

export interface SourceFile {
  /** Path relative to src/, with "/" separators. */
  path: string;
  text: string;
}

/** Relative import specifiers of a file, with their line numbers (TypeScript's own scanner). */
function importsOf(file: SourceFile): Array<{ spec: string; line: number }> {
  const info = ts.preProcessFile(file.text, true, true);
  const lineOf = (pos: number) => file.text.slice(0, pos).split("\n").length;
  return info.importedFiles.filter((i) => i.fileName.startsWith(".")).map((i) => ({ spec: i.fileName, line: lineOf(i.pos) }));
}

/** "file:line imports spec (folder, layer n) from layer m" for every import that goes up or sideways. */
export function violations(files: readonly SourceFile[], layers: ReadonlyMap<string, number>): string[] {
  const out: string[] = [];
  for (const f of files) {
    const from = f.path.split("/")[0]!;
    const mine = layers.get(from);
    if (mine === undefined) {
      out.push(`src/${f.path}: folder src/${from} is not in the layer table of docs/architecture.md`);
      continue;
    }
    for (const { spec, line } of importsOf(f)) {
      const target = relative(".", join(dirname(f.path), spec))
        .split(sep)
        .join("/");
      const to = target.split("/")[0]!;
      if (to === from || to === "..") continue;
      const theirs = layers.get(to);
      if (theirs === undefined) out.push(`src/${f.path}:${line} imports "${spec}": src/${to} is not in the layer table`);
      else if (theirs <= mine) {
        const how = theirs === mine ? "a peer in the same layer" : "a layer above";
        out.push(`src/${f.path}:${line} imports "${spec}": ${from} (layer ${mine}) may not import ${to} (layer ${theirs}, ${how})`);
      }
    }
  }
  return out;
}

function sourceFiles(): SourceFile[] {
  const out: SourceFile[] = [];
  const walk = (dir: string) => {
    for (const e of readdirSync(dir, { withFileTypes: true })) {
      const p = join(dir, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.name.endsWith(".ts")) out.push({ path: relative(SRC, p).split(sep).join("/"), text: readFileSync(p, "utf8") });
    }
  };
  walk(SRC);
  return out;
}

describe("layers (docs/architecture.md)", () => {
  const layers = layersFromDoc(readFileSync(DOC, "utf8"));

  it("the table places every folder of src/ and names only folders that exist", () => {
    const folders = readdirSync(SRC, { withFileTypes: true })
      .filter((e) => e.isDirectory())
      .map((e) => e.name)
      .sort();
    expect([...layers.keys()].sort()).toEqual(folders);
    expect(
      readdirSync(SRC).filter((n) => n.endsWith(".ts")),
      "files directly in src/ belong in a folder",
    ).toEqual([]);
  });

  it("no file imports from a layer above its own, or from a peer", () => {
    expect(violations(sourceFiles(), layers)).toEqual([]);
  });

  it("reports an upward import, a peer import and an unknown folder with file and line", () => {
    const table = new Map([
      ["apply", 1],
      ["serve", 2],
      ["boot", 3],
      ["plan", 3],
    ]);
    const files: SourceFile[] = [
      { path: "serve/tracker.ts", text: `// x\nimport type { Phase } from "../apply/phases.js";\nimport { a } from "./b.js";\n` },
      { path: "boot/x.ts", text: `export { y } from "../plan/y.js";\n` },
      { path: "serve/late.ts", text: `const m = await import("../lab/qemu.js");\n` },
      { path: "apply/ok.ts", text: `import { s } from "../serve/s.js";\nimport { p } from "../plan/p.js";\n` },
    ];
    expect(violations(files, table)).toEqual([
      `src/serve/tracker.ts:2 imports "../apply/phases.js": serve (layer 2) may not import apply (layer 1, a layer above)`,
      `src/boot/x.ts:1 imports "../plan/y.js": boot (layer 3) may not import plan (layer 3, a peer in the same layer)`,
      `src/serve/late.ts:1 imports "../lab/qemu.js": src/lab is not in the layer table`,
    ]);
  });
});
