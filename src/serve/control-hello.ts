// What serve checks when an apply says hello on the control socket: the same
// configuration file, and — after reloading it when apply saw a newer one — the
// same configuration and image digests. Installers are served only from serve's
// own installer cache, never from an arbitrary path a client names.
import { existsSync, realpathSync } from "node:fs";
import { join, resolve, sep } from "node:path";
import type { DesiredCluster } from "../config/types.js";
import { defaultCacheDir } from "../state/paths.js";
import { nullLogger, type Logger } from "../util/log.js";
import type { Hello } from "./control-protocol.js";
import type { HelloAnswer } from "./control-server.js";
import type { HeadServices } from "./head-services.js";

export interface Reloaded {
  cluster: DesiredCluster;
  imageDigests: ReadonlyMap<string, { digest: string }>;
  inlineSecrets: ReadonlyMap<string, string>;
}

export interface HelloContext {
  services: HeadServices;
  /** The configuration serve was started with. */
  configPath: string;
  /** Loads the configuration again (or says what is wrong with it). */
  reload: () => Promise<Reloaded | { error: string }>;
  logger?: Logger;
}

function differences(h: Hello, p: HeadServices): string[] {
  const out: string[] = [];
  if (h.cluster !== p.config.name) out.push(`cluster ${JSON.stringify(p.config.name)} here, ${JSON.stringify(h.cluster)} in the apply`);
  if (h.configDigest !== p.config.digest) out.push(`configuration digest ${p.config.digest.slice(0, 19)} here, ${h.configDigest.slice(0, 19)} in the apply`);
  const names = new Set([...Object.keys(h.imageDigests), ...p.digests.keys()]);
  for (const n of names) {
    const mine = p.digests.get(n)?.digest;
    const theirs = h.imageDigests[n];
    if (mine !== theirs) out.push(`image ${n}: ${mine?.slice(0, 19) ?? "none"} here, ${theirs?.slice(0, 19) ?? "none"} in the apply`);
  }
  return out;
}

function real(path: string): string {
  try {
    return realpathSync(path);
  } catch {
    return resolve(path);
  }
}

export async function checkHello(h: Hello, ctx: HelloContext): Promise<HelloAnswer> {
  const log = ctx.logger ?? nullLogger;
  const p = ctx.services;
  const mine = real(ctx.configPath);
  if (real(h.configPath) !== mine) {
    return { ok: false, message: `this serve runs the configuration ${mine}, the apply uses ${h.configPath}` };
  }
  let reconfigured = false;
  if (differences(h, p).length) {
    // The apply saw a newer configuration or image: take it up (reservations, digests, rsync modules).
    const again = await ctx.reload();
    if ("error" in again) return { ok: false, message: `the configuration could not be reloaded: ${again.error}` };
    await p.reconfigure(again.cluster, { imageDigests: again.imageDigests, inlineSecrets: again.inlineSecrets });
    reconfigured = true;
    log.info("reloaded-for-apply", { apply: h.pid, digest: again.cluster.digest });
    const still = differences(h, p);
    if (still.length) return { ok: false, message: `after reloading, this serve still differs from the apply: ${still.join("; ")}` };
  }
  const cache = real(join(defaultCacheDir(ctx.configPath), "installer")) + sep;
  for (const [image, path] of Object.entries(h.installers)) {
    if (!p.config.images.has(image)) return { ok: false, message: `the apply hands over an installer for image ${image}, which this configuration does not have` };
    const file = real(path);
    if (!file.startsWith(cache) || !existsSync(file)) {
      return { ok: false, message: `installer ${path} is not in this serve's installer cache ${cache}` };
    }
    p.setInstaller(image, file);
  }
  return { ok: true, cluster: p.config.name, configDigest: p.config.digest, reconfigured };
}
