// The installer's /init is a plain POSIX sh file (installer-init.sh, shellcheck-clean)
// kept beside this module; the plan is fetched at run time, so the script is the same
// for every node. From dist/ (tsc does not copy .sh files) it is found in src/.
import { existsSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";

export function installerInitPath(): string {
  const candidates = [new URL("./installer-init.sh", import.meta.url), new URL("../../src/boot/installer-init.sh", import.meta.url)];
  for (const u of candidates) {
    const p = fileURLToPath(u);
    if (existsSync(p)) return p;
  }
  throw new Error("installer-init.sh not found beside src/boot/installer-init.ts");
}

export function installerInitScript(): string {
  return readFileSync(installerInitPath(), "utf8");
}
