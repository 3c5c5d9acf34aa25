// `firmware:` at defaults, category and node: merged key by key (nearest wins), BIOS
// by default, and what cannot boot refused at the place it is written: Secure Boot
// without UEFI, and arm64 (Debian ships no arm64 EFI network loader for this head).
import { afterAll, describe, expect, it } from "vitest";
import { join } from "node:path";
import { loadClusterSync } from "../../src/config/load.js";
import { HEAD, node, removeConfigs, snapshot, writeConfig } from "./helpers.js";

afterAll(removeConfigs);

function load(yaml: string) {
  const dir = writeConfig({ "c.yaml": yaml });
  const before = snapshot(dir);
  const r = loadClusterSync(join(dir, "c.yaml"));
  expect(snapshot(dir)).toEqual(before);
  const errors = r.diagnostics
    .filter((d) => d.severity === "error")
    .map((d) => ({ code: d.code, at: `${(d.file ?? "").slice(dir.length + 1)}:${d.line}:${d.col}`, message: d.message }));
  return { cluster: r.cluster, errors };
}

describe("firmware settings", () => {
  it("default to BIOS without Secure Boot; a category's and a node's merge key by key", () => {
    const yaml =
      HEAD.replace(
        "categories: {compute: {image: img, diskLayout: one}}",
        "categories: {compute: {image: img, diskLayout: one, firmware: {mode: uefi}}, plain: {image: img, diskLayout: one}}",
      ) +
      node("n1", "52:54:00:00:00:01", "10.0.0.10") +
      `  - name: n2\n    category: compute\n    mac: "52:54:00:00:00:02"\n    ip: 10.0.0.11\n    firmware: {secureBoot: true, persistentBootDevice: true}\n` +
      `  - {name: n3, category: plain, mac: "52:54:00:00:00:03", ip: 10.0.0.12}\n`;
    const { cluster, errors } = load(yaml);
    expect(errors).toEqual([]);
    const fw = Object.fromEntries(cluster!.nodes.map((n) => [n.name, n.firmware]));
    expect(fw.n1).toEqual({ mode: "uefi", secureBoot: false, arch: "x86_64", persistentBootDevice: false });
    expect(fw.n2).toEqual({ mode: "uefi", secureBoot: true, arch: "x86_64", persistentBootDevice: true });
    expect(fw.n3).toEqual({ mode: "bios", secureBoot: false, arch: "x86_64", persistentBootDevice: false });
  });

  it("refuses Secure Boot without UEFI, at the secureBoot key, once for a category's many nodes", () => {
    const yaml =
      HEAD.replace("categories: {compute: {image: img, diskLayout: one}}", "categories: {compute: {image: img, diskLayout: one, firmware: {secureBoot: true}}}") +
      node("n1", "52:54:00:00:00:01", "10.0.0.10") +
      node("n2", "52:54:00:00:00:02", "10.0.0.11");
    const { errors } = load(yaml);
    expect(errors).toEqual([{ code: "secure-boot-without-uefi", at: "c.yaml:10:76", message: expect.stringMatching(/firmware\.secureBoot needs firmware\.mode uefi/) }]);
  });

  it("a node's mode: bios under a Secure Boot category is refused at the node's mode, naming the category's secureBoot", () => {
    const yaml =
      HEAD.replace("categories: {compute: {image: img, diskLayout: one}}", "categories: {compute: {image: img, diskLayout: one, firmware: {mode: uefi, secureBoot: true}}}") +
      `  - {name: b1, category: compute, mac: "52:54:00:00:00:03", ip: 10.0.0.12, firmware: {mode: bios}}\n`;
    const dir = writeConfig({ "c.yaml": yaml });
    const d = loadClusterSync(join(dir, "c.yaml")).diagnostics.filter((x) => x.severity === "error");
    expect(d).toHaveLength(1);
    expect(d[0]).toMatchObject({ code: "secure-boot-without-uefi", line: 12, col: 93, related: { message: "firmware.secureBoot set", line: 10, col: 88 } });
  });

  it("refuses arm64 nodes with a clear reason at their arch key", () => {
    const yaml = HEAD + `  - name: n1\n    category: compute\n    mac: "52:54:00:00:00:01"\n    ip: 10.0.0.10\n    firmware: {mode: uefi, arch: arm64}\n`;
    const { cluster, errors } = load(yaml);
    expect(cluster).toBeUndefined();
    expect(errors).toEqual([
      { code: "firmware-arch-unsupported", at: "c.yaml:16:34", message: expect.stringMatching(/arm64 cannot be network-booted: Debian ships no arm64 EFI network loader/) },
    ]);
  });

  it("refuses an unknown firmware mode through the schema, naming the field", () => {
    const yaml = HEAD + `  - name: n1\n    category: compute\n    mac: "52:54:00:00:00:01"\n    ip: 10.0.0.10\n    firmware: {mode: efi}\n`;
    const { errors } = load(yaml);
    expect(errors.length).toBeGreaterThan(0);
    expect(errors[0]!.at).toMatch(/^c\.yaml:16:/);
    expect(errors[0]!.message).toMatch(/firmware\.mode/);
  });
});
