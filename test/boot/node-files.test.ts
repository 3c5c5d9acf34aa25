// Rendering a node's files from its `files:` folder: values, strictness, what a
// template can reach, errors that name file, line and node, and digests.
import { describe, expect, it } from "vitest";
import { fileDigest, nodeValues, renderNodeFiles, scriptEnv, TemplateError } from "../../src/boot/node-files.js";
import type { FileFolder, FileSource } from "../../src/config/types.js";
import { cluster, node } from "../plan/fixtures.js";

const NET = cluster([]).network;

function folder(files: Record<string, string>, mode = "0644"): FileFolder {
  const entries: FileSource[] = Object.entries(files).map(([name, content]) => {
    const template = name.endsWith(".liquid");
    return { name, path: "/" + (template ? name.slice(0, -7) : name), mode, content, template };
  });
  return { dir: "/cfg/files", entries };
}

function errorOf(f: () => unknown): TemplateError {
  try {
    f();
  } catch (e) {
    if (e instanceof TemplateError) return e;
    throw e;
  }
  throw new Error("no error");
}

describe("per-node files", () => {
  it("renders templates with the node's values and vars, copies plain files as they are", () => {
    const files = folder({
      "etc/motd.liquid": "{{ node.name }} {{ node.ip }} {{ node.mac }} {{ node.category }} rack {{ vars.rack }} via {{ head.address }}/{{ node.prefix }}\n",
      "etc/plain": "{{ kept }}\n",
    });
    const out = renderNodeFiles(node(7, { files, vars: { rack: 3 } }), NET);
    expect(out.map((f) => [f.path, f.content])).toEqual([
      ["/etc/motd", "node007 10.0.0.7 52:54:00:00:00:07 compute rack 3 via 10.0.0.1/16\n"],
      ["/etc/plain", "{{ kept }}\n"],
    ]);
    expect(out[0]!.digest).toBe(fileDigest("0644", out[0]!.content));
    // Each node gets its own rendering from the one parsed folder.
    expect(renderNodeFiles(node(8, { files, vars: { rack: 4 } }), NET)[0]!.content).toMatch(/^node008 10\.0\.0\.8 .* rack 4 /);
  });

  it("a mode change alone changes the digest", () => {
    expect(fileDigest("0644", "x")).not.toBe(fileDigest("0755", "x"));
  });

  it("an unknown variable or filter is an error naming the file, line, column and node", () => {
    const e = errorOf(() => renderNodeFiles(node(1, { files: folder({ "etc/a.liquid": "ok\n  {{ vars.missing }}\n" }) }), NET));
    expect([e.file, e.line, e.col, e.node]).toEqual(["/cfg/files/etc/a.liquid", 2, 6, "node001"]);
    expect(e.message).toBe("/cfg/files/etc/a.liquid:2:6: template error for node node001: undefined variable: vars.missing");
    const f = errorOf(() => renderNodeFiles(node(1, { files: folder({ "b.liquid": "{{ node.name | shout }}" }) }), NET));
    expect(f.message).toMatch(/b\.liquid:1:1: template error for node node001: undefined filter: shout/);
    const g = errorOf(() => renderNodeFiles(node(1, { files: folder({ "c.liquid": "x\n{% if %}" }) }), NET));
    expect([g.line, g.file]).toEqual([2, "/cfg/files/c.liquid"]);
  });

  it("a template reaches only its folder and the values handed in: no files elsewhere, no secrets, no prototypes", () => {
    const files = folder({ "inc.liquid": "from {{ node.name }}", "etc/x.liquid": "{% include 'inc.liquid' %}!" });
    expect(renderNodeFiles(node(1, { files }), NET).find((f) => f.path === "/etc/x")!.content).toBe("from node001!");
    expect(() => renderNodeFiles(node(1, { files: folder({ "y.liquid": "{% include '/etc/passwd' %}" }) }), NET)).toThrow(TemplateError);
    expect(() => renderNodeFiles(node(1, { files: folder({ "z.liquid": "{{ node.constructor }}" }) }), NET)).toThrow(/undefined variable/);
    // The BMC (and its password reference) is not among the values at all.
    expect(() => renderNodeFiles(node(1, { files: folder({ "p.liquid": "{{ node.bmc.password }}" }) }), NET)).toThrow(/undefined variable/);
    expect(JSON.stringify(nodeValues(node(1), NET))).not.toMatch(/BMC_PASSWORD|bmc/);
  });

  it("a node without a folder gets no files", () => {
    expect(renderNodeFiles(node(1), NET)).toEqual([]);
  });

  it("scripts get the node's values as MF_* variables, vars as MF_VAR_<name>", () => {
    const env = scriptEnv(nodeValues(node(2, { vars: { rack: 5, role: "gpu" } }), NET));
    expect(env).toEqual([
      { name: "MF_NODE", value: "node002" },
      { name: "MF_HOSTNAME", value: "node002.lab" },
      { name: "MF_IP", value: "10.0.0.2" },
      { name: "MF_MAC", value: "52:54:00:00:00:02" },
      { name: "MF_CATEGORY", value: "compute" },
      { name: "MF_IMAGE", value: "compute" },
      { name: "MF_HEAD", value: "10.0.0.1" },
      { name: "MF_VAR_rack", value: "5" },
      { name: "MF_VAR_role", value: "gpu" },
    ]);
  });
});
