// The built CLI, run as a user runs it: exit codes, diagnostics format, --json,
// colour control, help, version, completion, and start-up time.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { spawnSync, type SpawnSyncReturns } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync, mkdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
const bin = join(root, "bin/metalform");
const version = (JSON.parse(readFileSync(join(root, "package.json"), "utf8")) as { version: string }).version;

/** Newest modification time of the .ts files below `dir`. */
function newestSource(dir: string): number {
  let newest = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) newest = Math.max(newest, newestSource(p));
    else if (e.name.endsWith(".ts")) newest = Math.max(newest, statSync(p).mtimeMs);
  }
  return newest;
}

/** Builds dist/ when the CLI or config sources are newer than the build (a cheap check first). */
function ensureBuilt(): void {
  const built = [join(root, "dist/cli/main.js"), join(root, "dist/cli/commands/validate.js"), join(root, "dist/config/load.js")];
  const oldest = Math.min(...built.map((f) => (existsSync(f) ? statSync(f).mtimeMs : 0)));
  const newest = Math.max(newestSource(join(root, "src/cli")), newestSource(join(root, "src/config")));
  if (oldest >= newest) return;
  // tsc emits even when other engineers' in-progress files have type errors; what matters is a fresh dist/.
  const r = spawnSync(process.execPath, [join(root, "node_modules/typescript/bin/tsc"), "-p", join(root, "tsconfig.json")], { encoding: "utf8" });
  const after = Math.min(...built.map((f) => (existsSync(f) ? statSync(f).mtimeMs : 0)));
  if (after < newest) throw new Error(`build failed (npm run build):\n${r.stdout}${r.stderr}`);
}

let work: string;
let home: string;

beforeAll(() => {
  ensureBuilt();
  work = mkdtempSync(join(tmpdir(), "mf-cli-test-"));
  home = mkdtempSync(join(tmpdir(), "mf-cli-home-"));
}, 120_000);

afterAll(() => {
  rmSync(work, { recursive: true, force: true });
  rmSync(home, { recursive: true, force: true });
});

interface Run extends SpawnSyncReturns<string> {
  ms: number;
}

function run(args: string[], opts: { cwd?: string; env?: Record<string, string | undefined> } = {}): Run {
  const env: Record<string, string | undefined> = { ...process.env, HOME: home, NO_COLOR: undefined, FORCE_COLOR: undefined, METALFORM_CONFIG: undefined, ...opts.env };
  for (const k of Object.keys(env)) if (env[k] === undefined) delete env[k];
  const t0 = performance.now();
  const r = spawnSync(process.execPath, [bin, ...args], { cwd: opts.cwd ?? work, env: env, encoding: "utf8", timeout: 20_000 });
  return Object.assign(r, { ms: performance.now() - t0 });
}

/** Runs the CLI on a pseudo-terminal (util-linux `script`, Debian package bsdutils) so that colour would be on. */
function runOnTty(args: string[], env: Record<string, string> = {}, cwd = work): string {
  const cmd = [process.execPath, bin, ...args].map((a) => `'${a.replace(/'/g, "'\\''")}'`).join(" ");
  const r = spawnSync("script", ["-qec", cmd, "/dev/null"], { cwd, env: { ...process.env, HOME: home, NO_COLOR: "", TERM: "xterm", ...env }, encoding: "utf8", timeout: 20_000 });
  if (r.error) throw new Error(`script(1) is needed for the TTY tests: apt-get install bsdutils (${r.error.message})`);
  return r.stdout;
}

/** Writes a configuration directory under the work directory. */
function config(name: string, files: Record<string, string>): string {
  const dir = join(work, name);
  for (const [rel, text] of Object.entries(files)) {
    mkdirSync(dirname(join(dir, rel)), { recursive: true });
    writeFileSync(join(dir, rel), text);
  }
  return dir;
}

const BASE = `network: {interface: eth1, address: 10.0.0.254/24}
images: {img: {root: /, kernel: /}}
diskLayouts:
  one: {disks: [{name: sda, match: {device: /dev/sda}, partitions: [{size: rest, fs: ext4, mount: /}]}]}
categories: {c: {image: img, diskLayout: one}}
`;
const LINE = /^(\S+):(\d+):(\d+): (error|warning)\[([a-z0-9-]+)\]: (.+)$/;

describe("metalform validate", () => {
  it("exits 0 on a valid configuration and summarizes it", () => {
    const r = run(["validate", "-c", join(root, "examples/hpc")]);
    expect(r.stderr).toBe("");
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/examples\/hpc: valid — 262 nodes, 3 images, 3 disk layouts, 3 categories \(0 warnings\)/);
  });

  it("exits 1 on errors, one FILE:LINE:COL: error[CODE]: message line each, naming the other place of a conflict", () => {
    config("bad", {
      "base.yaml": BASE,
      "nodes/a.yaml": 'nodes:\n  - {name: n1, category: c, mac: "52:54:00:00:00:01", ip: 10.0.0.1}\n',
      "nodes/b.yaml": 'nodes:\n  - {name: n2, category: c, mac: "52:54:00:00:00:01", ip: 10.0.0.2, instalMode: full}\n',
    });
    const r = run(["validate", "-c", "bad"]);
    expect(r.status).toBe(1);
    expect(r.stdout).toBe("");
    const lines = r.stderr
      .trim()
      .split("\n")
      .filter((l) => l);
    const diags = lines.filter((l) => LINE.test(l));
    expect(diags).toEqual([
      'bad/nodes/b.yaml:2:34: error[duplicate-mac]: MAC 52:54:00:00:00:01 of node "n2" is already used (also used by node "n1" at bad/nodes/a.yaml:2:34)',
      'bad/nodes/b.yaml:2:69: error[unknown-field]: unknown field "nodes[0].instalMode"; did you mean "installMode"?',
    ]);
    expect(lines[lines.length - 1]).toBe("bad: 2 errors, 0 warnings");
  });

  it("warnings alone exit 0; --strict makes them errors", () => {
    config("warn", { "c.yaml": BASE + 'nodes:\n  - {name: n1, category: c, mac: "52:54:00:00:00:01", ip: 10.0.0.1, bmc: {address: 10.1.0.1, password: inline-pw}}\n' });
    const ok = run(["validate", "-c", "warn"]);
    expect(ok.status).toBe(0);
    expect(ok.stderr).toMatch(/^warn\/c\.yaml:7:104: warning\[inline-secret\]: BMC password written inline/m);
    expect(ok.stdout).toMatch(/warn: valid — 1 node, 1 image, 1 disk layout, 1 category \(1 warning\)/);
    expect(ok.stdout + ok.stderr).not.toContain("inline-pw");
    const strict = run(["validate", "-c", "warn", "--strict"]);
    expect(strict.status).toBe(1);
    expect(strict.stderr).toContain("warn: 0 errors, 1 warning (--strict: warnings are errors)");
  });

  it("--json gives the same diagnostics as JSON", () => {
    const bad = run(["validate", "-c", "bad", "--json"]);
    expect(bad.status).toBe(1);
    expect(bad.stderr).toBe("");
    const out = JSON.parse(bad.stdout) as Record<string, unknown>;
    expect(out).toEqual({
      valid: false,
      config: "bad",
      errors: 2,
      warnings: 0,
      diagnostics: [
        {
          severity: "error",
          code: "duplicate-mac",
          message: 'MAC 52:54:00:00:00:01 of node "n2" is already used',
          file: join(work, "bad/nodes/b.yaml"),
          line: 2,
          col: 34,
          related: { message: 'also used by node "n1"', file: join(work, "bad/nodes/a.yaml"), line: 2, col: 34 },
        },
        {
          severity: "error",
          code: "unknown-field",
          message: 'unknown field "nodes[0].instalMode"; did you mean "installMode"?',
          file: join(work, "bad/nodes/b.yaml"),
          line: 2,
          col: 69,
        },
      ],
    });
    const good = JSON.parse(run(["validate", "--json", "-c", join(root, "examples/lab")]).stdout) as { valid: boolean; summary: Record<string, unknown> };
    expect(good.valid).toBe(true);
    expect(good.summary).toMatchObject({ cluster: "lab", nodes: 3, images: 1, diskLayouts: 1, categories: 1 });
    expect(good.summary.digest).toMatch(/^sha256:[0-9a-f]{64}$/);
    const strict = JSON.parse(run(["validate", "--json", "--strict", "-c", "warn"]).stdout) as { valid: boolean; warnings: number };
    expect(strict).toMatchObject({ valid: false, warnings: 1 });
  });

  it("finds ./cluster.yaml, or $METALFORM_CONFIG, without --config", () => {
    const dir = config("default", { "cluster.yaml": BASE + 'nodes:\n  - {name: n1, category: c, mac: "52:54:00:00:00:01", ip: 10.0.0.1}\n' });
    const r = run(["validate"], { cwd: dir });
    expect(r.status).toBe(0);
    expect(r.stdout).toContain("valid — 1 node");
    const e = run(["validate"], { env: { METALFORM_CONFIG: join(root, "examples/lab") } });
    expect(e.status).toBe(0);
    expect(e.stdout).toContain("valid — 3 nodes");
  });

  it("a missing configuration is an error, not a crash", () => {
    const r = run(["validate", "-c", "no/such/path"]);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/error\[config-not-found\]: configuration "no\/such\/path" does not exist/);
    expect(r.stderr).not.toMatch(/at .*\.js:\d+/); // no stack trace
  });

  it("hostile input is refused quickly and nothing is written (cwd and HOME stay empty)", () => {
    const dir = mkdtempSync(join(tmpdir(), "mf-cli-hostile-"));
    try {
      writeFileSync(
        join(dir, "cluster.yaml"),
        'a: &a ["x","x","x","x","x","x","x","x","x","x"]\n' +
          "bcdefgh"
            .split("")
            .map(
              (c, i) =>
                `${c}: &${c} [${Array(10)
                  .fill("*" + "abcdefgh"[i])
                  .join(",")}]\n`,
            )
            .join(""),
      );
      const before = readdirSync(dir);
      const homeBefore = readdirSync(home);
      const r = run(["validate"], { cwd: dir });
      expect(r.status).toBe(1);
      expect(r.stderr).toContain("error[yaml-alias-bomb]");
      expect(r.ms).toBeLessThan(20_000); // bounded (an expanded bomb would not finish); speed is bench/validate's
      expect(readdirSync(dir)).toEqual(before);
      expect(readdirSync(home)).toEqual(homeBefore);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("colour", () => {
  const ESC = "\u001b[";
  it("is on for a terminal, with a code frame under each diagnostic", () => {
    const out = runOnTty(["validate", "-c", "bad"]);
    expect(out).toContain(ESC);
    expect(out).toMatch(/\n2 \|   - \{name: n2/);
  });
  it("NO_COLOR turns it off", () => {
    const out = runOnTty(["validate", "-c", "bad"], { NO_COLOR: "1" });
    expect(out).toContain("error[duplicate-mac]");
    expect(out).not.toContain(ESC);
  });
  it("--no-color turns it off", () => {
    const out = runOnTty(["validate", "--no-color", "-c", "bad"]);
    expect(out).toContain("error[duplicate-mac]");
    expect(out).not.toContain(ESC);
  });
  it("is off when the output is not a terminal", () => {
    const r = run(["validate", "-c", "bad"]);
    expect(r.stderr).toContain("error[duplicate-mac]");
    expect(r.stderr + r.stdout).not.toContain(ESC);
  });
});

describe("help, version, completion", () => {
  it("--help lists the commands and the global flags (its start-up time is printed; bench/validate measures it)", () => {
    run(["--help"]); // warm the file cache
    const times: number[] = [];
    let r: Run | undefined;
    for (let i = 0; i < 3; i++) {
      r = run(["--help"]);
      times.push(r.ms);
    }
    const ms = times.sort((a, b) => a - b)[1]!;
    console.log(`metalform --help: ${ms.toFixed(0)} ms (median of 3, process spawn included)`);
    expect(r!.status).toBe(0);
    expect(r!.stdout).toContain("metalform validate");
    expect(r!.stdout).toContain("metalform completion");
    for (const flag of ["--config", "--no-color", "--json", "--version", "--help"]) expect(r!.stdout).toContain(flag);
  });

  it("validate --help shows examples", () => {
    const r = run(["validate", "--help"]);
    expect(r.status).toBe(0);
    expect(r.stdout).toContain("Examples:");
    expect(r.stdout).toContain("metalform validate -c examples/hpc");
    expect(r.stdout).toContain("--strict");
  });

  it("--version prints the package version", () => {
    for (const flag of ["--version", "-V"]) {
      const r = run([flag]);
      expect(r.status).toBe(0);
      expect(r.stdout.trim()).toBe(version);
    }
  });

  it("completion prints a shell completion script", () => {
    const r = run(["completion"]);
    expect(r.status).toBe(0);
    expect(r.stdout).toContain("_metalform_yargs_completions");
    expect(r.stdout).toMatch(/complete -o bashdefault -o default -F _metalform_yargs_completions metalform/);
    const words = run(["--get-yargs-completions", "metalform", "val"]);
    expect(words.stdout.split("\n")).toContain("validate");
  });

  it("an unknown command or flag exits 1 with a hint", () => {
    const r = run(["valdate"]);
    expect(r.status).toBe(1);
    expect(r.stderr).toContain("Did you mean validate?");
    const f = run(["validate", "--strcit"]);
    expect(f.status).toBe(1);
    expect(f.stderr).toMatch(/Unknown argument: strcit/);
  });
});
