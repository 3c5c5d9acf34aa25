// `metalform power status|on|off|cycle NODES`: one action across many nodes, with
// bounded parallelism, one result per node, one node's failure never stopping
// the others.

import type { Logger } from "../util/log.js";
import { nullLogger } from "../util/log.js";
import { PowerError, type PowerDriver, type PowerErrorKind, type PowerState } from "./driver.js";
import { createPowerDriver, type DriverFactoryOptions, type PowerNode } from "./factory.js";

export type PowerActionName = "status" | "on" | "off" | "cycle";

export interface PowerActionResult {
  node: string;
  action: PowerActionName;
  ok: boolean;
  /** For status: the state read; "unknown" for nodes without a BMC. */
  state?: PowerState | "unknown";
  /** The node has no BMC: a person must act (the message says what). */
  manual?: boolean;
  /** Operator-facing message when !ok (never contains a password). */
  error?: string;
  errorKind?: PowerErrorKind;
  /** What the BMC itself said about the failure, when it said anything (never a password). */
  said?: string;
  ms: number;
}

export interface PowerActionOptions extends DriverFactoryOptions {
  /** Nodes handled at once; default 10. */
  parallelism?: number;
  /** Builds the driver (tests, other drivers); default createPowerDriver. */
  driverFor?: (node: PowerNode, password: string | undefined) => PowerDriver;
  /** Called as each node finishes (progress output). */
  onResult?: (result: PowerActionResult) => void;
  logger?: Logger;
}

/** Resolves a node's BMC password (src/config/secrets.ts); undefined when it has none. */
export type PasswordResolver = (node: PowerNode) => Promise<string | undefined> | string | undefined;

/** Runs ACTION on every node; results come back in the order of `nodes`. */
export async function powerAction(
  nodes: readonly PowerNode[],
  action: PowerActionName,
  resolvePassword: PasswordResolver,
  opts: PowerActionOptions = {},
): Promise<PowerActionResult[]> {
  const log = opts.logger ?? nullLogger;
  const results: PowerActionResult[] = new Array(nodes.length);
  const limit = Math.max(1, Math.floor(opts.parallelism ?? 10));
  let next = 0;

  const one = async (node: PowerNode): Promise<PowerActionResult> => {
    const started = Date.now();
    const done = (r: Omit<PowerActionResult, "node" | "action" | "ms">): PowerActionResult => ({ node: node.name, action, ...r, ms: Date.now() - started });
    const manual = !node.bmc || node.bmc.driver === "manual";
    if (manual) {
      // A CLI cannot wait for a button press; say what a person must do.
      if (action === "status") return done({ ok: true, state: "unknown", manual: true });
      const verb = action === "cycle" ? "power-cycle" : `power ${action}`;
      return done({ ok: false, manual: true, errorKind: "config", error: `${node.name} has no BMC: ${verb} ${node.name} by hand` });
    }
    try {
      const password = node.bmc?.password ? await resolvePassword(node) : undefined;
      const driver = opts.driverFor ? opts.driverFor(node, password) : createPowerDriver(node, password, opts);
      if (action === "status") return done({ ok: true, state: await driver.status() });
      await driver[action]();
      return done({ ok: true });
    } catch (err) {
      const e = err instanceof PowerError ? err : new PowerError("failed", `${node.name}: ${(err as Error).message}`);
      return done({ ok: false, error: e.message, errorKind: e.kind, ...(e.said ? { said: e.said } : {}) });
    }
  };

  const worker = async () => {
    for (;;) {
      const i = next++;
      if (i >= nodes.length) return;
      const r = await one(nodes[i]!);
      results[i] = r;
      if (r.ok) log.info("power", { node: r.node, action, state: r.state, ms: r.ms });
      else log.warn("power-failed", { node: r.node, action, kind: r.errorKind, message: r.error });
      opts.onResult?.(r);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, nodes.length) }, worker));
  return results;
}
