// Which part of the HTTP server answers a request, from method and URL alone.
import { describe, expect, it } from "vitest";
import { dispatch } from "../../../src/services/http/dispatch.js";
import type { Route } from "../../../src/services/http/routes.js";

const routes: Route[] = [{ method: "POST", prefix: "/api/v1", handler: () => ({ status: 204 }) }];
const o = { maxUrlBytes: 64, routes };

describe("dispatch", () => {
  it("sends /boot/ to the scripts and /files/ to the roots, still encoded", () => {
    expect(dispatch("GET", "/boot/52%3A54%3A00%3Aab%3Acd%3A07.ipxe", o)).toEqual({ kind: "script", rest: "52%3A54%3A00%3Aab%3Acd%3A07.ipxe" });
    expect(dispatch("GET", "/files/loaders/snponly.efi?x=1", o)).toEqual({ kind: "file", rest: "loaders/snponly.efi" });
  });

  it("finds a mounted route with the decoded path and the query", () => {
    const d = dispatch("POST", "/api/v1/nodes/n%201/report?step=mkfs", o);
    expect(d).toMatchObject({ kind: "route", path: "/api/v1/nodes/n 1/report" });
    expect(d.kind === "route" && d.query.get("step")).toBe("mkfs");
  });

  it("refuses with the status that says why", () => {
    const status = (method: string, url: string) => {
      const d = dispatch(method, url, o);
      return d.kind === "error" ? d.error.status : d.kind;
    };
    expect(status("GET", "/" + "a".repeat(80))).toBe(414);
    expect(status("GET", "http://example/x")).toBe(400);
    expect(status("GET", "/api/%zz")).toBe(400);
    expect(status("GET", "/api/v1%00/x")).toBe(400);
    expect(status("GET", "/api/v1/nodes")).toBe(405);
    expect(status("GET", "/nothing")).toBe(404);
  });
});
