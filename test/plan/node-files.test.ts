// Per-node files and scripts in the plan and the install plan, and the table of what
// each field change needs (field-effects.ts).
import { describe, expect, it } from "vitest";
import { renderInstallPlan } from "../../src/boot/install-plan.js";
import { renderPlanShell } from "../../src/boot/plan-shell.js";
import type { FileFolder } from "../../src/config/types.js";
import { PlanError } from "../../src/plan/desired.js";
import { fieldEffect, FIELD_EFFECTS, needsNode } from "../../src/plan/field-effects.js";
import { diffApplied } from "../../src/plan/fields.js";
import { planChanges } from "../../src/plan/planner.js";
import { renderTerminal } from "../../src/plan/render/terminal.js";
import { apiUrlFor, layouts, node as bootNode, planInputBase } from "../boot/fixtures.js";
import { cluster, digests, node } from "./fixtures.js";
import { applyAll } from "./scenario.js";

const V1 = digests({ compute: "compute-v1" });

function folder(files: Record<string, string>): FileFolder {
  return {
    dir: "/cfg/files",
    entries: Object.entries(files).map(([name, content]) => ({ name, path: "/" + name.replace(/\.liquid$/, ""), mode: "0644", content, template: name.endsWith(".liquid") })),
  };
}

describe("per-node files in the plan", () => {
  const before = folder({ "etc/motd.liquid": "{{ node.name }}\n", "etc/old": "x\n", "etc/same": "s\n" });
  const after = folder({ "etc/motd.liquid": "hello {{ node.name }}\n", "etc/new": "n\n", "etc/same": "s\n" });

  it("a changed folder is a sync boot that lists the files added, changed and removed", () => {
    const state = applyAll(cluster([node(1, { files: before })]), V1);
    expect(state.nodes.node001!.applied!.files!.map((f) => f.path)).toEqual(["/etc/motd", "/etc/old", "/etc/same"]);
    const plan = planChanges(cluster([node(1, { files: after })]), state, { imageDigests: V1 });
    const c = plan.nodeChanges[0]!;
    expect(c.kind).toBe("sync");
    expect(c.reasons.map((r) => r.code)).toEqual(["sync-boot", "files-changed"]);
    expect(c.fields.map((f) => f.field)).toEqual(["files"]);
    const text = renderTerminal(plan, { color: false });
    expect(text).toContain("node001  ~ sync  files ~/etc/motd +/etc/new -/etc/old  (sync boot: files changed)");
  });

  it("a template that renders the same for a node is no change; a var that changes it is", () => {
    const state = applyAll(cluster([node(1, { files: folder({ "a.liquid": "{{ vars.v }}" }), vars: { v: 1, unused: 1 } })]), V1);
    expect(planChanges(cluster([node(1, { files: folder({ "a.liquid": "{{ vars.v }}" }), vars: { v: 1, unused: 2 } })]), state, { imageDigests: V1 }).nodeChanges).toEqual([]);
    expect(planChanges(cluster([node(1, { files: folder({ "a.liquid": "{{ vars.v }}" }), vars: { v: 2 } })]), state, { imageDigests: V1 }).nodeChanges[0]!.kind).toBe("sync");
  });

  it("a template error stops the plan with the file, line and node", () => {
    let err: unknown;
    try {
      planChanges(cluster([node(1), node(2, { files: folder({ "etc/x.liquid": "\n{{ vars.nope }}" }) })]), undefined, { imageDigests: V1 });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(PlanError);
    expect((err as PlanError).code).toBe("template-error");
    expect((err as PlanError).nodes).toEqual(["node002"]);
    expect((err as PlanError).message).toBe("/cfg/files/etc/x.liquid:2:4: template error for node node002: undefined variable: vars.nope");
  });

  it("a changed finalize script is a sync boot; its text is not in the plan, only its digest", () => {
    const state = applyAll(cluster([node(1, { finalize: { content: "echo a", source: "f.sh" } })]), V1);
    const plan = planChanges(cluster([node(1, { finalize: { content: "echo b", source: "f.sh" } })]), state, { imageDigests: V1 });
    expect(plan.nodeChanges[0]!.kind).toBe("sync");
    expect(plan.nodeChanges[0]!.reasons.map((r) => r.code)).toEqual(["sync-boot", "scripts-changed"]);
    expect(JSON.stringify(plan)).not.toContain("echo b");
  });
});

describe("per-node files and scripts in the install plan", () => {
  const n = bootNode({ files: folder({ "etc/motd.liquid": "I am {{ node.name }}\n" }), vars: { rack: 2 }, finalize: { content: "echo done", source: "f.sh" } });
  const plan = renderInstallPlan({ ...planInputBase, node: n, layout: layouts.single!, apiUrl: apiUrlFor(n.name) });

  it("carries the rendered files, kept out of the image sync and its --delete", () => {
    expect(plan.files.find((f) => f.path === "/etc/motd")).toEqual({ path: "/etc/motd", mode: "0644", content: "I am node001\n" });
    expect(plan.exclude.sync).toContain("/etc/motd");
    expect(plan.exclude.full).toContain("/etc/motd");
  });

  it("carries the scripts with the node's values as their environment", () => {
    expect(plan.scripts?.finalize).toBe("echo done");
    expect(plan.scripts?.initialize).toBeUndefined();
    expect(plan.scripts?.env).toContainEqual({ name: "MF_VAR_rack", value: "2" });
    const sh = renderPlanShell(plan);
    expect(sh).toContain("MF_SCRIPT_FINALIZE='echo done'");
    expect(sh).toContain("MF_SCRIPT_ENV_0_NAME='MF_NODE'");
  });
});

describe("what each field change needs", () => {
  it("every field the diff can report has a row", () => {
    const a = applyAll(cluster([node(1, { files: folder({ x: "1" }), initialize: { content: "a", source: "s" } })]), V1).nodes.node001!.applied!;
    const b = applyAll(
      cluster([
        node(1, {
          ip: "10.0.9.9",
          mac: "52:54:00:99:99:99",
          hostname: "x",
          boot: "local",
          installMode: "full",
          kernelArgs: ["quiet"],
          excludeSync: ["/a"],
          excludeFull: ["/b"],
          firmware: { mode: "uefi", secureBoot: false, arch: "x86_64", persistentBootDevice: false },
          bmc: { driver: "redfish", address: "10.9.9.9", netmask: "255.0.0.0", gateway: "10.0.0.1", user: "root", password: { kind: "env", name: "X" }, port: 1 },
          files: folder({ x: "2" }),
          initialize: { content: "b", source: "s" },
        }),
      ]),
      digests({ compute: "compute-v2" }),
    ).nodes.node001!.applied!;
    const fields = diffApplied(a, b, { text: () => undefined }).map((f) => f.field);
    expect(fields.length).toBeGreaterThan(15);
    for (const f of fields)
      expect(
        FIELD_EFFECTS.some((r) => r.field === f || (r.field.endsWith(".") && f.startsWith(r.field))),
        f,
      ).toBe(true);
  });

  it("classifies as documented", () => {
    expect(fieldEffect("disk_layout").effect).toBe("reinstall");
    expect(fieldEffect("network.ip").effect).toBe("running-node");
    expect(fieldEffect("network.mac").effect).toBe("running-node");
    expect(fieldEffect("install_mode").effect).toBe("head-only");
    expect(fieldEffect("kernel_args").effect).toBe("next-boot");
    expect(fieldEffect("bmc.address").effect).toBe("running-node");
    expect(fieldEffect("bmc.port").effect).toBe("head-only");
    expect(needsNode("boot")).toBe(false);
    expect(needsNode("files")).toBe(true);
    expect(needsNode("something.new")).toBe(true);
  });
});
