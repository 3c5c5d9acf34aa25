import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { installerInitPath, installerInitScript } from "../../src/boot/installer-init.js";
import { renderInstallPlan } from "../../src/boot/install-plan.js";
import { renderPlanShell } from "../../src/boot/plan-shell.js";
import { apiUrlFor, layouts, node, planInputBase } from "./fixtures.js";

function need(tool: string, pkg: string): void {
  if (spawnSync("sh", ["-c", `command -v ${tool}`]).status !== 0) throw new Error(`${tool} missing: apt-get install ${pkg}`);
}

describe("installer /init script", () => {
  it("passes shellcheck as POSIX sh", () => {
    need("shellcheck", "shellcheck");
    const r = spawnSync("shellcheck", ["-s", "sh", installerInitPath()], { encoding: "utf8" });
    expect(r.stdout + r.stderr).toBe("");
    expect(r.status).toBe(0);
  });

  it("is a POSIX sh script that busybox ash parses", () => {
    need("busybox", "busybox-static");
    const text = installerInitScript();
    expect(text.startsWith("#!/bin/sh\n")).toBe(true);
    const r = spawnSync("busybox", ["sh", "-n", installerInitPath()], { encoding: "utf8" });
    expect(r.status, r.stderr).toBe(0);
  });

  it("reads every rendered plan back into the same values (busybox sh)", () => {
    need("busybox", "busybox-static");
    const dir = mkdtempSync(join(tmpdir(), "mfin-sh-"));
    try {
      for (const [name, layout] of Object.entries(layouts)) {
        const n = node({ hostname: `h'ost"$(x)\`y\``, diskLayout: name });
        const plan = renderInstallPlan({ ...planInputBase, node: n, layout, apiUrl: apiUrlFor(n.name) });
        const f = join(dir, `${name}.sh`);
        writeFileSync(f, renderPlanShell(plan));
        const r = spawnSync("busybox", ["sh", "-c", `. "$0"; printf '%s\\n---\\n%s\\n---\\n%s' "$MF_HOSTNAME" "$MF_DISK_0_SFDISK" "$MF_FILE_4_CONTENT"`, f], { encoding: "utf8" });
        expect(r.status, r.stderr).toBe(0);
        expect(r.stdout).toBe(`${n.hostname}\n---\n${plan.disks[0]!.sfdisk}\n---\n${plan.files[4]!.content}`);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
