// A metalform killed with SIGKILL must not leave its rsync daemon holding the port:
// the daemon gets SIGTERM when its parent dies (setpriv --pdeathsig).
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import net from "node:net";
import { describe, expect, it } from "vitest";

const DAEMON = new URL("../../../dist/services/rsync/daemon.js", import.meta.url).pathname;

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = net.createServer().listen(0, "127.0.0.1", () => {
      const p = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(p));
    });
  });
}

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

describe("rsync daemon of a killed metalform", () => {
  it("ends when its parent dies by SIGKILL", async () => {
    if (!existsSync(DAEMON)) throw new Error("dist/ is not built: run `npm run build` (scripts/test.sh does)");
    const port = await freePort();
    const code = `const { RsyncDaemon } = await import(${JSON.stringify(DAEMON)});
      const d = new RsyncDaemon({ address: "127.0.0.1", port: ${port}, modules: [{ name: "m", path: "/tmp" }] });
      await d.start(); console.log(d.pid); setInterval(() => {}, 1000);`;
    const parent = spawn(process.execPath, ["--input-type=module", "-e", code], { stdio: ["ignore", "pipe", "inherit"] });
    const pid = await new Promise<number>((resolve) => parent.stdout.once("data", (d) => resolve(Number(String(d).trim()))));
    expect(alive(pid)).toBe(true);
    parent.kill("SIGKILL");
    const deadline = Date.now() + 10_000;
    while (alive(pid) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    expect(alive(pid)).toBe(false);
  });
});
