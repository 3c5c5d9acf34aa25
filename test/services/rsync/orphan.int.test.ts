// A metalform killed with SIGKILL must not leave its rsync daemon holding the port:
// the daemon gets SIGTERM when its parent dies (setpriv --pdeathsig).
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { freePort } from "../../helpers/ports.js";
import { processAlive } from "../../helpers/process.js";
import { waitFor } from "../../helpers/wait.js";

const DAEMON = new URL("../../../dist/services/rsync/daemon.js", import.meta.url).pathname;

describe("rsync daemon of a killed metalform", () => {
  it("ends when its parent dies by SIGKILL", async () => {
    if (!existsSync(DAEMON)) throw new Error("dist/ is not built: run `npm run build` (scripts/test.sh does)");
    const port = await freePort();
    const code = `const { RsyncDaemon } = await import(${JSON.stringify(DAEMON)});
      const d = new RsyncDaemon({ address: "127.0.0.1", port: ${port}, modules: [{ name: "m", path: "/tmp" }] });
      await d.start(); console.log(d.pid); setInterval(() => {}, 1000);`;
    const parent = spawn(process.execPath, ["--input-type=module", "-e", code], { stdio: ["ignore", "pipe", "inherit"] });
    const pid = await new Promise<number>((resolve) => parent.stdout.once("data", (d) => resolve(Number(String(d).trim()))));
    expect(processAlive(pid)).toBe(true);
    parent.kill("SIGKILL");
    await waitFor(`rsync daemon ${pid} to end after its parent's SIGKILL`, () => !processAlive(pid), 10_000, 100);
    expect(processAlive(pid)).toBe(false);
  });
});
