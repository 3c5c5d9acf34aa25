// How the head's services are built from the configuration — the checks before any
// port is bound, the HTTP roots, the rsync daemon and the DHCP server — as plain
// functions, so head-services.ts keeps only their composition and life cycle.
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import type { DesiredCluster, Image, Node } from "../config/types.js";
import type { Logger } from "../util/log.js";
import { DhcpServer } from "../services/dhcp/server.js";
import { dhcpOptionsFromNetwork } from "../services/dhcp/from-config.js";
import type { RsyncModule } from "../services/rsync/config.js";
import { RsyncDaemon } from "../services/rsync/daemon.js";
import { checkSignedLoaders, type FirmwareBoot } from "./firmware-boot.js";
import { initrdRoot, installerRoot, kernelRoot } from "./node-boot.js";
import { reapOrphanRsync } from "./orphans.js";

export class HeadServicesError extends Error {}

/** Refuses what cannot be served before anything binds a port. */
export function checkServable(cluster: DesiredCluster, tftpRoot: string): void {
  if (!existsSync(join(tftpRoot, "undionly.kpxe"))) {
    throw new HeadServicesError(`iPXE loaders not found in ${tftpRoot}: install the Debian package ipxe (apt-get install ipxe)`);
  }
  const signed = checkSignedLoaders(cluster.nodes);
  if (signed) throw new HeadServicesError(signed);
  for (const img of cluster.images.values()) {
    if (img.rootType !== "directory") throw new HeadServicesError(`image ${img.name}: tarball roots are not served yet; unpack ${img.root} into a directory`);
  }
}

/** HTTP roots: the loaders, and every image's kernel, initrd and installer directory. */
export function httpRoots(cluster: DesiredCluster, tftpRoot: string, installerFor: (image: Image) => string | undefined): Record<string, string> {
  // The loaders also over HTTP: UEFI HTTP boot clients get their URL from DHCP.
  const roots: Record<string, string> = { loaders: tftpRoot };
  for (const img of cluster.images.values()) {
    roots[kernelRoot(img.name)] = dirname(img.kernel);
    if (img.initrd) roots[initrdRoot(img.name)] = dirname(img.initrd);
    const inst = installerFor(img);
    if (inst) roots[installerRoot(img.name)] = dirname(inst);
  }
  return roots;
}

export interface RsyncSetup {
  workDir: string;
  address: string;
  port: number;
  /** Read after an orphaned daemon is ended, just before the new one is made. */
  modules: () => RsyncModule[];
  logger: Logger;
}

/** The rsync daemon, after ending one a killed metalform left behind. */
export async function makeRsync(o: RsyncSetup): Promise<RsyncDaemon> {
  // The daemon's files live in the state directory, so that a daemon orphaned by a
  // killed metalform is found (and ended) by the next one.
  const rsyncRunDir = join(o.workDir, "rsyncd");
  await reapOrphanRsync(join(rsyncRunDir, "rsyncd.conf"), o.logger);
  return new RsyncDaemon({ runDir: rsyncRunDir, address: o.address, port: o.port, modules: o.modules(), logger: o.logger.child("rsync") });
}

export interface DhcpSetup {
  cluster: DesiredCluster;
  workDir: string;
  address: string;
  /** Read when a URL is made: the HTTP port is known only once HTTP listens. */
  httpBase: () => string;
  nodeByMac: (mac: string) => Node | undefined;
  scriptUrlFor?: (node: Node, own: string) => string;
  bootFile: FirmwareBoot["bootFile"];
  bindInterface?: string | null;
  /** Unknown MACs get the inventory script (serve/discovery.ts): discovery is on and has an installer. */
  discovering?: () => boolean;
  logger: Logger;
}

/** The DHCP server: reservations, PXE loaders and iPXE script URLs for the cluster's nodes. */
export function makeDhcp(o: DhcpSetup): DhcpServer {
  const net = o.cluster.network;
  // Unknown MACs get no script (without a reservation they get no answer at all), unless discovering.
  const scriptUrl = (mac: string) => {
    const node = o.nodeByMac(mac);
    const own = `${o.httpBase()}/boot/${mac}.ipxe`;
    if (!node) return o.discovering?.() ? own : undefined;
    return o.scriptUrlFor ? o.scriptUrlFor(node, own) : own;
  };
  return new DhcpServer(
    dhcpOptionsFromNetwork(net, o.cluster.nodes, {
      scriptUrl,
      ...(net.dhcp.dynamicRange ? { leaseFile: join(o.workDir, "dhcp-leases.jsonl") } : {}),
      overrides: {
        serverAddress: o.address,
        pxe: { tftpServer: o.address, scriptUrl, bootFile: o.bootFile, httpLoaderBase: `${o.httpBase()}/files/loaders` },
        logger: o.logger.child("dhcp"),
        ...(o.bindInterface === null ? { interface: undefined } : o.bindInterface ? { interface: o.bindInterface } : {}),
      },
    }),
  );
}
