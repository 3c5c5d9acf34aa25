// Which provisioner installs a node: least loaded with the image, slots respected,
// affinity first while an affine provisioner can take it.
import { describe, expect, it } from "vitest";
import { chooseProvisioner, hasAffinity, type Candidate } from "../../src/provisioners/choose.js";

const D = "sha256:" + "a".repeat(64);
const E = "sha256:" + "b".repeat(64);
const node = { name: "rack1-n07", category: "compute", image: "base", digest: D };
const c = (name: string, over: Partial<Candidate> = {}): Candidate => ({ name, slots: 10, load: 0, images: { base: D }, categories: [], nodePatterns: [], ...over });

describe("chooseProvisioner", () => {
  it("says nobody is alive when there are no candidates", () => {
    expect(chooseProvisioner(node, [])).toMatchObject({ kind: "none" });
  });

  it("takes the least loaded relative to its slots, then fewer installs, then the name", () => {
    expect(chooseProvisioner(node, [c("p1", { load: 3 }), c("p2", { load: 1 }), c("p3", { load: 2 })])).toEqual({ kind: "chosen", provisioner: "p2", affinity: false });
    // 4 of 20 slots (20 %) beats 3 of 10 (30 %).
    expect(chooseProvisioner(node, [c("p1", { load: 3 }), c("p2", { load: 4, slots: 20 })])).toMatchObject({ provisioner: "p2" });
    // Equal ratio: fewer installs first; equal everything: by name.
    expect(chooseProvisioner(node, [c("p1", { load: 2, slots: 20 }), c("p2", { load: 1, slots: 10 })])).toMatchObject({ provisioner: "p2" });
    expect(chooseProvisioner(node, [c("pb"), c("pa")])).toMatchObject({ provisioner: "pa" });
  });

  it("only provisioners holding the image at the applied digest qualify; waits while they copy", () => {
    expect(chooseProvisioner(node, [c("p1", { images: { base: E } }), c("p2", { load: 9 })])).toMatchObject({ provisioner: "p2" });
    const w = chooseProvisioner(node, [c("p1", { images: { base: E } }), c("p2", { images: {} })]);
    expect(w).toMatchObject({ kind: "wait" });
    expect(w.kind === "wait" && w.why).toMatch(/no live provisioner holds image base at sha256:aaaa/);
  });

  it("respects slots: a full provisioner is skipped; all full means wait", () => {
    expect(chooseProvisioner(node, [c("p1", { load: 2, slots: 2 }), c("p2", { load: 7 })])).toMatchObject({ provisioner: "p2" });
    const w = chooseProvisioner(node, [c("p1", { load: 2, slots: 2 }), c("p2", { load: 3, slots: 3 })]);
    expect(w).toMatchObject({ kind: "wait" });
    expect(w.kind === "wait" && w.why).toBe("all 5 slots of p1, p2 are busy");
  });

  it("prefers provisioners whose affinity names the node's category or a host range containing it", () => {
    const byCat = chooseProvisioner(node, [c("p1"), c("p2", { load: 5, categories: ["compute"] })]);
    expect(byCat).toEqual({ kind: "chosen", provisioner: "p2", affinity: true });
    const byRange = chooseProvisioner(node, [c("p1"), c("p2", { load: 5, nodePatterns: ["rack1-n[01-32]"] }), c("p3", { nodePatterns: ["rack2-n[01-32]"] })]);
    expect(byRange).toMatchObject({ provisioner: "p2", affinity: true });
    // The affine one is full: the node waits for it rather than going elsewhere.
    expect(chooseProvisioner(node, [c("p1"), c("p2", { load: 10, categories: ["compute"] })])).toMatchObject({ kind: "wait" });
    // The affine one lacks the image (or is dead: not a candidate): others take it.
    expect(chooseProvisioner(node, [c("p1"), c("p2", { categories: ["compute"], images: {} })])).toEqual({ kind: "chosen", provisioner: "p1", affinity: false });
  });

  it("matches plain names and host ranges, not prefixes", () => {
    expect(hasAffinity({ categories: [], nodePatterns: ["rack1-n07"] }, node)).toBe(true);
    expect(hasAffinity({ categories: [], nodePatterns: ["rack1-n0"] }, node)).toBe(false);
    expect(hasAffinity({ categories: [], nodePatterns: ["rack[1-2]-n[01-08]"] }, node)).toBe(true);
    expect(hasAffinity({ categories: ["gpu"], nodePatterns: [] }, node)).toBe(false);
  });
});
