// Whether provisioners are alive for a state (the head's own `serve` must not run a
// second DHCP server beside theirs).
import { PostgresStateStore } from "../state/postgres.js";
import { ProvisioningDb } from "./db.js";

/** Names of the provisioners heart-beating within `withinMs` for this state; none for a local state. */
export async function liveProvisionersOf(store: unknown, withinMs = 60_000): Promise<string[]> {
  if (!(store instanceof PostgresStateStore)) return [];
  const db = new ProvisioningDb(store.database, "metalform-serve");
  try {
    if (!(await db.hasTables())) return [];
    return (await db.liveProvisioners(withinMs)).map((p) => p.name);
  } finally {
    await db.close();
  }
}
