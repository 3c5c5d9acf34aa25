// Builds the native bind-to-device helper when a test needs it and it isn't built.
import { execFileSync } from "node:child_process";
import { existsSync } from "node:fs";
import { resolve } from "node:path";
import { nativeAddonPath } from "../../../../src/services/dhcp/socket.js";

export function ensureAddon(): void {
  if (existsSync(nativeAddonPath)) return;
  const script = resolve(nativeAddonPath, "../../../build.sh");
  try {
    execFileSync("bash", [script], { stdio: ["ignore", "pipe", "pipe"] });
  } catch (e) {
    const err = e as { stderr?: Buffer };
    throw new Error(`building ${nativeAddonPath} failed (needs Debian packages build-essential and python3): ${err.stderr?.toString() ?? String(e)}`, { cause: e });
  }
}
