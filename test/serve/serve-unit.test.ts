// The systemd unit that runs `metalform serve` as the head's service: systemd's own
// checker accepts it (with ExecStart pointed at this checkout's launcher), reload is
// SIGHUP (what serve reloads its configuration on) and nothing is ordered before it.
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, describe, expect, it } from "vitest";

const UNIT = resolve(import.meta.dirname, "../../systemd/metalform-serve.service");
const LAUNCHER = resolve(import.meta.dirname, "../../bin/metalform");
const dir = mkdtempSync(join(tmpdir(), "mf-unit-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe("systemd/metalform-serve.service", () => {
  const text = readFileSync(UNIT, "utf8");

  it("passes systemd-analyze verify", () => {
    if (spawnSync("sh", ["-c", "command -v systemd-analyze"]).status !== 0) throw new Error("systemd-analyze missing: apt-get install systemd");
    const file = join(dir, "metalform-serve.service");
    writeFileSync(file, text.replace("/usr/bin/metalform", LAUNCHER));
    const r = spawnSync("systemd-analyze", ["verify", file], { encoding: "utf8" });
    expect(r.stderr).toBe("");
    expect(r.status).toBe(0);
  });

  it("reloads with SIGHUP, stops serve alone with SIGTERM, logs JSON", () => {
    expect(text).toMatch(/^ExecReload=\/bin\/kill -HUP \$MAINPID$/m);
    expect(text).toMatch(/^KillMode=mixed$/m);
    expect(text).toMatch(/^ExecStart=\/usr\/bin\/metalform serve --json /m);
    expect(text).not.toMatch(/^Before=/m);
  });
});
