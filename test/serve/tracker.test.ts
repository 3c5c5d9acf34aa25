// Typed service events → a node's observed phase (serve's tracker).
import { describe, expect, it } from "vitest";
import { observationsFrom } from "../../src/serve/tracker.js";

const lookup = { byMac: (m: string) => (m === "52:54:00:00:00:01" ? "n1" : undefined), byIp: (ip: string) => (ip === "10.0.0.11" ? "n1" : undefined) };
const dhcp = { mac: "52:54:00:00:00:01", ip: "10.0.0.11", from: "0.0.0.0:68", via: "server" as const };

describe("observationsFrom", () => {
  it("names the DHCP client kind, UEFI HTTP boot included; unknown MACs are nobody's", () => {
    expect(observationsFrom({ event: "ack", payload: { ...dhcp, kind: "http" } }, lookup)).toEqual({
      node: "n1",
      phase: "dhcp",
      message: "acknowledged 10.0.0.11 (UEFI HTTP boot)",
    });
    expect(observationsFrom({ event: "offer", payload: { ...dhcp, kind: "pxe" } }, lookup)?.message).toBe("offered 10.0.0.11 (PXE firmware)");
    expect(observationsFrom({ event: "ack", payload: { ...dhcp, mac: "52:54:00:00:00:02", kind: "ipxe" } }, lookup)).toBeUndefined();
  });

  it("tells a finished download from one that broke off, by the client's address", () => {
    const file = { path: "loaders/snponly.efi", root: "loaders", file: "/x", bytes: 10, status: 200, remote: "::ffff:10.0.0.11" };
    expect(observationsFrom({ event: "file-served", payload: { ...file, complete: true } }, lookup)).toMatchObject({
      phase: "boot-files",
      message: "fetched loaders/snponly.efi (10 bytes)",
    });
    expect(observationsFrom({ event: "file-served", payload: { ...file, complete: false } }, lookup)).toEqual({ node: "n1", message: "download of loaders/snponly.efi broke off" });
    const tftp = { id: 1, path: "snponly.efi", remote: { address: "10.0.0.11", port: 1818 }, bytes: 5, ms: 1, retransmits: 0 };
    expect(observationsFrom({ event: "transfer-complete", payload: tftp }, lookup)?.message).toBe("fetched snponly.efi (5 bytes)");
  });

  it("maps installer reports to phases, progress to bytes, failures to failed", () => {
    const at = { node: "n1", time: "t" };
    expect(observationsFrom({ event: "report", payload: { ...at, step: "rsync", status: "progress", bytes: 7, percent: 50 } }, lookup)).toEqual({
      node: "n1",
      bytes: 7,
      percent: 50,
    });
    expect(observationsFrom({ event: "report", payload: { ...at, step: "mkfs", status: "failed", message: "no space" } }, lookup)).toEqual({
      node: "n1",
      phase: "filesystems",
      failed: 'installer step "mkfs" failed: no space',
    });
    expect(observationsFrom({ event: "up", payload: { ...at, image: "sha256:ab" } }, lookup)).toEqual({ node: "n1", phase: "up", imageDigest: "sha256:ab" });
  });
});
