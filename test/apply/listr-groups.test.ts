// The terminal view of a large apply: one task per range of nodes and change kind.
import { afterEach, describe, expect, it, vi } from "vitest";
import type { ApplyEvent } from "../../src/apply/events.js";
import { groupNodes, phaseCounts } from "../../src/apply/render/groups.js";
import { listrRenderer } from "../../src/apply/render/listr.js";

const names = (pre: string, n: number) => Array.from({ length: n }, (_, i) => `${pre}${String(i + 1).padStart(2, "0")}`);

describe("groupNodes", () => {
  it("groups by change kind and host-range stem", () => {
    const planned = [
      ...names("rack1-n", 3).map((node) => ({ node, change: "install" })),
      ...names("rack2-n", 2).map((node) => ({ node, change: "sync" })),
      { node: "login", change: "install" },
    ];
    expect(groupNodes(planned, 24)).toEqual([
      { label: "rack1-n[01-03] install", nodes: ["rack1-n01", "rack1-n02", "rack1-n03"] },
      { label: "rack2-n[01-02] sync", nodes: ["rack2-n01", "rack2-n02"] },
      { label: "login install", nodes: ["login"] },
    ]);
  });

  it("keeps the same range apart by change kind", () => {
    const planned = names("n", 4).map((node, i) => ({ node, change: i % 2 ? "sync" : "reimage" }));
    expect(groupNodes(planned, 24).map((g) => g.label)).toEqual(["n[01,03] reimage", "n[02,04] sync"]);
  });

  it("falls back to one group per change kind when the ranges are too many", () => {
    const planned = Array.from({ length: 30 }, (_, i) => ({ node: `r${i}-a1`, change: i < 20 ? "install" : "sync" }));
    expect(groupNodes(planned, 24).map((g) => [g.label, g.nodes.length])).toEqual([
      ["20 nodes install", 20],
      ["10 nodes sync", 10],
    ]);
  });

  it("counts phases", () => {
    expect(phaseCounts(["sync", "dhcp", "sync"])).toBe("2 sync, 1 dhcp");
  });
});

describe("listrRenderer with many nodes", () => {
  afterEach(() => vi.restoreAllMocks());

  it("draws one task per range, with counts, and names the failed nodes", async () => {
    let out = "";
    vi.spyOn(process.stdout, "write").mockImplementation((chunk: string | Uint8Array) => {
      out += String(chunk);
      return true;
    });
    vi.spyOn(process.stderr, "write").mockImplementation((chunk: string | Uint8Array) => {
      out += String(chunk);
      return true;
    });
    const { sink, closed } = listrRenderer({ renderer: "test" });
    const t = new Date().toISOString();
    const r1 = names("rack1-n", 15);
    const r2 = names("rack2-n", 15);
    const emit = (e: Record<string, unknown>) => sink({ time: t, ...e } as ApplyEvent);
    for (const node of r1) emit({ type: "planned_change", node, change: "install", actions: ["create"], wipes_disks: false, reasons: [] });
    for (const node of r2) emit({ type: "planned_change", node, change: "sync", actions: ["update"], wipes_disks: false, reasons: [] });
    emit({ type: "apply_start", nodes: 30, parallelism: 30, canary: 0 });
    await new Promise((r) => setTimeout(r, 50));
    for (const node of [...r1, ...r2]) emit({ type: "node_phase", node, change: "install", phase: "sync", attempt: 1 });
    await new Promise((r) => setTimeout(r, 50));
    for (const node of r1) emit({ type: "node_complete", node, change: "install", elapsed_s: 10 });
    for (const node of r2.slice(0, 14)) emit({ type: "node_complete", node, change: "sync", elapsed_s: 5 });
    emit({ type: "node_errored", node: "rack2-n15", change: "sync", phase: "sync", error: 'installer step "rsync" failed', attempt: 1, final: true, outcome: "failed" });
    emit({ type: "change_summary", installed: 15, reimaged: 0, synced: 14, updated: 0, removed: 0, failed: 1, skipped: 0, interrupted: false });
    await closed;
    vi.restoreAllMocks();
    expect(out).toContain("15 sync");
    expect(out).toContain("rack1-n[01-15] install: 15/15 done");
    expect(out).toContain("rack2-n[01-15] sync: 14/15 done, 1 failed");
    expect(out).toContain("rack2-n15 failed after");
    // No task per node.
    expect(out).not.toContain("rack1-n01  install");
  });
});
