// Install attempts and their credentials, with a hand-driven clock.
import { describe, expect, it } from "vitest";
import { InstallSessions } from "../../../src/services/installer-api/sessions.js";

function clocked(windowMs = 60_000) {
  let t = 1_000_000;
  const s = new InstallSessions({ windowMs, now: () => t });
  return { s, advance: (ms: number) => (t += ms) };
}

describe("install sessions", () => {
  it("nothing can be claimed unless the apply has the node installing", () => {
    const { s } = clocked();
    expect(s.claim("n1", "10.0.0.11")).toEqual({ ok: false, refusal: "no-install" });
  });

  it("the first claim from the node's address wins; others are refused", () => {
    const { s } = clocked();
    s.open("n1", "10.0.0.11");
    expect(s.claim("n1", "10.0.0.99")).toEqual({ ok: false, refusal: "wrong-address" });
    const c = s.claim("n1", "::ffff:10.0.0.11");
    expect(c.ok).toBe(true);
    expect(s.claim("n1", "10.0.0.11")).toEqual({ ok: false, refusal: "already-claimed" });
    if (!c.ok) return;
    expect(c.value.token).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(c.value.rsyncPassword).not.toBe(c.value.token);
    expect(s.check("n1", "10.0.0.11", c.value.token).ok).toBe(true);
    expect(s.check("n1", "10.0.0.12", c.value.token)).toEqual({ ok: false, refusal: "wrong-address" });
    expect(s.check("n2", "10.0.0.11", c.value.token)).toEqual({ ok: false, refusal: "no-install" });
    expect(s.check("n1", "10.0.0.11", c.value.token.slice(0, -1) + (c.value.token.endsWith("A") ? "B" : "A"))).toEqual({ ok: false, refusal: "bad-credential" });
    expect(s.check("n1", "10.0.0.11", undefined)).toEqual({ ok: false, refusal: "bad-credential" });
  });

  it("credentials are unique per attempt: a new attempt invalidates the old one", () => {
    const { s } = clocked();
    s.open("n1", "10.0.0.11");
    const a = s.claim("n1", "10.0.0.11");
    const pw1 = s.active()[0]!.rsyncPassword;
    s.open("n1", "10.0.0.11");
    const b = s.claim("n1", "10.0.0.11");
    if (!a.ok || !b.ok) throw new Error("claims failed");
    expect(a.value.token).not.toBe(b.value.token);
    expect(s.active()[0]!.rsyncPassword).not.toBe(pw1);
    expect(s.check("n1", "10.0.0.11", a.value.token)).toEqual({ ok: false, refusal: "bad-credential" });
    expect(s.check("n1", "10.0.0.11", b.value.token).ok).toBe(true);
  });

  it("ends at UP (close), at a failed step, and at the upper bound", () => {
    const { s, advance } = clocked(60_000);
    for (const n of ["n1", "n2", "n3"]) s.open(n, `10.0.0.${n.slice(1)}`);
    const t = (n: string) => {
      const c = s.claim(n, `10.0.0.${n.slice(1)}`);
      if (!c.ok) throw new Error(c.refusal);
      return c.value.token;
    };
    const [t1, t2, t3] = [t("n1"), t("n2"), t("n3")];
    s.close("n1");
    expect(s.check("n1", "10.0.0.1", t1)).toEqual({ ok: false, refusal: "no-install" });
    s.reported("n2", "rsync", "started");
    expect(s.check("n2", "10.0.0.2", t2).ok).toBe(true);
    s.reported("n2", "rsync", "failed");
    expect(s.check("n2", "10.0.0.2", t2).ok).toBe(false);
    advance(59_999);
    expect(s.check("n3", "10.0.0.3", t3).ok).toBe(true);
    advance(1);
    expect(s.check("n3", "10.0.0.3", t3)).toEqual({ ok: false, refusal: "expired" });
    expect(s.active()).toEqual([]);
    expect(s.expire()).toEqual(["n3"]);
    expect(s.check("n3", "10.0.0.3", t3)).toEqual({ ok: false, refusal: "no-install" });
  });

  it("the BMC password only in the BMC step, once", () => {
    const { s } = clocked();
    s.open("n1", "10.0.0.11");
    const c = s.claim("n1", "10.0.0.11");
    if (!c.ok) throw new Error(c.refusal);
    const tok = c.value.token;
    expect(s.bmcPassword("n1", "10.0.0.11", tok)).toEqual({ ok: false, refusal: "not-bmc-step" });
    s.reported("n1", "configure", "finished");
    expect(s.bmcPassword("n1", "10.0.0.11", tok)).toEqual({ ok: false, refusal: "not-bmc-step" });
    s.reported("n1", "bmc", "started");
    expect(s.bmcPassword("n1", "10.0.0.12", tok)).toEqual({ ok: false, refusal: "wrong-address" });
    expect(s.bmcPassword("n1", "10.0.0.11", tok).ok).toBe(true);
    expect(s.bmcPassword("n1", "10.0.0.11", tok)).toEqual({ ok: false, refusal: "not-bmc-step" });
  });

  it("active() lists who the rsync daemon lets in", () => {
    const { s } = clocked();
    s.open("n1", "10.0.0.11");
    s.open("n2", "10.0.0.12");
    expect(s.active().map((a) => [a.node, a.ip, a.rsyncUser])).toEqual([
      ["n1", "10.0.0.11", "n1"],
      ["n2", "10.0.0.12", "n2"],
    ]);
    s.close("n1");
    expect(s.active().map((a) => a.node)).toEqual(["n2"]);
  });
});
