// Shared by the config tests: configurations written to temporary directories,
// and a snapshot to prove that loading one writes nothing.
import { mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, relative } from "node:path";

export type Files = Record<string, string | Buffer>;

const made: string[] = [];

/** Writes `files` (relative paths) into a fresh temporary directory and returns it. */
export function writeConfig(files: Files): string {
  const dir = mkdtempSync(join(tmpdir(), "mf-config-test-"));
  made.push(dir);
  for (const [rel, content] of Object.entries(files)) {
    const p = join(dir, rel);
    mkdirSync(dirname(p), { recursive: true });
    writeFileSync(p, content);
  }
  return dir;
}

/** Removes every directory writeConfig made (call from afterAll). */
export function removeConfigs(): void {
  for (const d of made.splice(0)) rmSync(d, { recursive: true, force: true });
}

/** Every file and directory below `dir` with its size and modification time. */
export function snapshot(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      const st = statSync(p);
      out.push(`${relative(dir, p)} ${e.isDirectory() ? "dir" : st.size} ${st.mtimeMs}`);
      if (e.isDirectory()) walk(p);
    }
  };
  walk(dir);
  return out.sort();
}

/**
 * The head of most test configurations: 11 lines, so that the first node of a
 * case starts on line 12. Network 10.0.0.0/24, head .254, gateway .1, dynamic
 * range .200-.220; image "img"; layout "one"; category "compute".
 */
export const HEAD = `network: {interface: eth1, address: 10.0.0.254/24, gateway: 10.0.0.1, dhcp: {dynamicRange: {start: 10.0.0.200, end: 10.0.0.220}}}
images: {img: {root: /, kernel: /}}
diskLayouts:
  one:
    disks:
      - name: sda
        match: {device: /dev/sda, minSize: 10GiB}
        partitions:
          - {size: rest, fs: ext4, mount: /}
categories: {compute: {image: img, diskLayout: one}}
nodes:
`;

/** A valid node in block style (4 lines): name col 11, category col 15, mac col 10, ip col 9. */
export function node(name: string, mac: string, ip: string): string {
  return `  - name: ${name}\n    category: compute\n    mac: "${mac}"\n    ip: ${ip}\n`;
}
