// apply through the provisioners (scale-out, PostgreSQL state): the head publishes
// its images from an rsync daemon of its own, waits until the live provisioners
// hold copies, then hands each node's install to one of them (ClusterBootControl)
// and follows the nodes through what the provisioners post.
import { randomBytes, randomUUID } from "node:crypto";
import { join } from "node:path";
import type { PlanInputs } from "../plan/inputs.js";
import type { Plan } from "../plan/types.js";
import { ClusterBootControl } from "../provisioners/cluster-control.js";
import { networkKey, ProvisioningDb } from "../provisioners/db.js";
import { imageModuleName, imageModules } from "../serve/image-modules.js";
import { reapOrphanRsync } from "../serve/orphans.js";
import { RsyncDaemon } from "../services/rsync/daemon.js";
import { PostgresStateStore } from "../state/postgres.js";
import type { Logger } from "../util/log.js";
import { imagesToBoot } from "./boot-images.js";
import { execute } from "./execute.js";
import type { ApplyResult } from "./results.js";
import { ApplyRefused, type ApplyRunOptions } from "./run-options.js";

/** The live provisioners' database, and how many were alive when the apply began. */
export interface Fleet {
  db: ProvisioningDb;
  live: number;
}

/**
 * The provisioners to hand installs to, when the state is in PostgreSQL and some are
 * alive (or required); undefined: serve from here.
 */
export async function openFleet(store: unknown, o: ApplyRunOptions, log: Logger): Promise<Fleet | undefined> {
  const mode = o.provisioners ?? "auto";
  if (mode === "none") return undefined;
  if (!(store instanceof PostgresStateStore)) {
    if (mode === "required") throw new ApplyRefused("--provisioners required needs the state in PostgreSQL (provisioners register there)");
    return undefined;
  }
  const db = new ProvisioningDb(store.database, "metalform-apply");
  const failover = o.failoverTimeoutMs ?? 60_000;
  let live: number;
  try {
    live = (await db.liveProvisioners(failover)).length;
  } catch (e) {
    await db.close();
    throw e;
  }
  if (!live) {
    await db.close();
    if (mode === "required") throw new ApplyRefused("no provisioner is alive: start `metalform serve --role provisioner` on the provisioning servers");
    log.info("no-provisioners", {});
    return undefined;
  }
  return { db, live };
}

/** What an apply through the provisioners works with. */
export interface FleetApply {
  fleet: Fleet;
  inputs: PlanInputs;
  plan: Plan;
  run: ApplyRunOptions;
  log: Logger;
}

/** Apply through the provisioners: publish the images, hand out installs, follow them. */
export async function runWithProvisioners(x: FleetApply): Promise<ApplyResult> {
  const { fleet, inputs, plan, run: o, log } = x;
  const { cluster } = inputs;
  const applyId = randomUUID();
  const address = o.bindAddress ?? cluster.network.address;
  // The head's images are the source the provisioners copy from, behind a password new
  // for this apply that only the provisioners learn (through the database).
  const auth = { user: "metalform-provisioner", password: randomBytes(32).toString("base64url") };
  const source = new RsyncDaemon({
    runDir: join(inputs.localDir, "image-source"),
    address,
    port: cluster.network.ports.rsync,
    modules: imageModules(cluster.images.values()).map((m) => ({ ...m, access: [auth] })),
    logger: log.child("image-source"),
  });
  const control = new ClusterBootControl({
    db: fleet.db,
    applyId,
    cluster,
    imageDigests: inputs.imageDigests,
    ...(o.failoverTimeoutMs !== undefined ? { failoverTimeoutMs: o.failoverTimeoutMs } : {}),
    logger: log.child("provisioners"),
  });
  try {
    await reapOrphanRsync(join(inputs.localDir, "image-source", "rsyncd.conf"), log);
    await source.start();
    const needed = imagesToBoot(plan, cluster);
    await fleet.db.publishImages(
      [...cluster.images.values()]
        .filter((i) => needed.has(i.name) && inputs.imageDigests.has(i.name))
        .map((i) => ({
          image: i.name,
          digest: inputs.imageDigests.get(i.name)!.digest,
          url: `rsync://${address}:${cluster.network.ports.rsync}/${imageModuleName(i.name)}/`,
          auth,
        })),
      applyId,
    );
    await waitForCopies(x, [...needed]);
    await control.start();
    await sayAuthority(x);
    return await execute({ inputs, plan, control, run: o, log });
  } finally {
    await control.close();
    await source.stop().catch(() => undefined);
  }
}

/**
 * Before any node is handed out, the live provisioners copy the images (so the
 * installs spread over all of them); a provisioner still copying after `copyTimeoutMs`
 * is left out until it has them.
 */
async function waitForCopies(x: FleetApply, images: string[]): Promise<void> {
  const { run: o, log } = x;
  const db = x.fleet.db;
  const digests = x.inputs.imageDigests;
  const timeoutMs = o.copyTimeoutMs ?? 30 * 60_000;
  const failover = o.failoverTimeoutMs ?? 60_000;
  const t0 = Date.now();
  let said = "";
  for (;;) {
    const live = await db.liveProvisioners(failover);
    const failed = live.flatMap((p) =>
      images.flatMap((i) => {
        const why = p.copyErrors[`${i}@${digests.get(i)?.digest}`];
        return why && p.images[i] !== digests.get(i)?.digest ? [`${p.name} (${i}: ${why})`] : [];
      }),
    );
    const missing = live.flatMap((p) =>
      images.filter((i) => p.images[i] !== digests.get(i)?.digest && !p.copyErrors[`${i}@${digests.get(i)?.digest}`]).map((i) => `${p.name} (${i})`),
    );
    if (!missing.length || o.stopSignal?.aborted || Date.now() - t0 > timeoutMs) {
      if (missing.length) {
        log.warn("copies-incomplete", { missing });
        o.say(`Going on without ${missing.join(", ")}: still copying after ${Math.round((Date.now() - t0) / 1000)} s.`);
      }
      if (failed.length) o.say(`Going on without ${failed.join("; ")}: the copy failed.`);
      // Somebody must hold every image the plan installs.
      for (const i of images) {
        if (!live.some((p) => p.images[i] === digests.get(i)?.digest)) {
          throw new ApplyRefused(`no live provisioner holds image ${i} at ${digests.get(i)?.digest}${failed.length ? `: ${failed.join("; ")}` : ""}`);
        }
      }
      return;
    }
    const line = `Waiting for provisioners to copy images: ${missing.join(", ")}`;
    if (line !== said) o.say((said = line));
    await new Promise((r) => setTimeout(r, 250));
  }
}

/** Tells the operator how many provisioners take the installs and who answers DHCP. */
async function sayAuthority(x: FleetApply): Promise<void> {
  const network = networkKey(x.inputs.cluster);
  const authority = await x.fleet.db.authority(network);
  const live = x.fleet.live;
  x.run.say(
    `Handing installs to ${live} provisioner${live === 1 ? "" : "s"}; ` +
      (authority && authority.remainingMs > 0 ? `DHCP on ${network} is answered by ${authority.holder}.` : `no provisioner answers DHCP on ${network} yet.`),
  );
}
