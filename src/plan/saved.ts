// Saved plans (`plan --out FILE`): the plan JSON document plus the time it was made,
// written with mode 0600. Apply re-reads it and refuses it when the state or the
// configuration moved on since (checkPlanFresh says which).
import { readFile } from "node:fs/promises";
import type { ClusterState } from "../state/types.js";
import { writeFileAtomic } from "../util/fs.js";
import { planFromJson, renderJson } from "./json.js";
import { validatePlanJson } from "./schema.js";
import { PLAN_FORMAT_VERSION, type Plan } from "./types.js";
import { shortDigest } from "./format.js";

export class PlanFileError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "PlanFileError";
  }
}

export async function writePlanFile(path: string, plan: Plan, now: Date = new Date()): Promise<Plan> {
  const saved: Plan = { ...plan, createdAt: now.toISOString() };
  await writeFileAtomic(path, renderJson(saved), 0o600);
  return saved;
}

export function parsePlanFile(text: string, where: string): Plan {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (e) {
    throw new PlanFileError(`${where} is not a metalform plan file: ${(e as Error).message}`);
  }
  const fv = (doc as { format_version?: unknown } | null)?.format_version;
  if (typeof fv !== "string") throw new PlanFileError(`${where} is not a metalform plan file (no format_version)`);
  const major = fv.split(".")[0];
  if (major !== PLAN_FORMAT_VERSION.split(".")[0]) {
    throw new PlanFileError(`${where} is a plan in format ${fv}; this metalform reads format ${PLAN_FORMAT_VERSION}. Use the metalform that made it, or plan again.`);
  }
  const problems = validatePlanJson(doc);
  if (problems.length) {
    throw new PlanFileError(`${where} is not a valid plan file:\n  ${problems.slice(0, 10).join("\n  ")}`);
  }
  return planFromJson(doc as Record<string, unknown>);
}

export async function readPlanFile(path: string): Promise<Plan> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (e) {
    throw new PlanFileError(`cannot read plan file ${path}: ${(e as Error).message}`);
  }
  return parsePlanFile(text, path);
}

export type StaleCode = "serial-moved" | "lineage-differs" | "state-created" | "state-missing" | "config-edited";

export interface Freshness {
  fresh: boolean;
  problems: Array<{ code: StaleCode; message: string }>;
}

/**
 * Whether a saved plan still describes what apply would do: the state must be the
 * one it was made against (same lineage, same serial) and the configuration must
 * have the same digest.
 */
export function checkPlanFresh(saved: Plan, currentState: ClusterState | undefined, currentConfigDigest: string): Freshness {
  const problems: Freshness["problems"] = [];
  const was = saved.state;
  if (was.lineage === null) {
    if (currentState) {
      problems.push({
        code: "state-created",
        message: `the plan was made when there was no state; a state now exists (lineage ${currentState.lineage}, serial ${currentState.serial})`,
      });
    }
  } else if (!currentState) {
    problems.push({ code: "state-missing", message: `the plan was made against state lineage ${was.lineage} serial ${was.serial}; there is no state now` });
  } else if (currentState.lineage !== was.lineage) {
    problems.push({
      code: "lineage-differs",
      message: `the state's lineage differs: the plan was made against ${was.lineage}, the state is ${currentState.lineage} (a different or recreated state)`,
    });
  } else if (currentState.serial !== was.serial) {
    problems.push({
      code: "serial-moved",
      message: `the state moved on: serial ${was.serial} when the plan was made, ${currentState.serial} now (something was applied or changed since)`,
    });
  }
  if (currentConfigDigest !== saved.configDigest) {
    problems.push({
      code: "config-edited",
      message: `the configuration was edited: digest ${shortDigest(saved.configDigest)} when the plan was made, ${shortDigest(currentConfigDigest)} now`,
    });
  }
  return { fresh: problems.length === 0, problems };
}
