// What a backup costs its source while the baseline is read: how long the replica's SQL thread was stopped
// (pausedReplica) or the baseline's snapshots were open (snapshot), and InnoDB's history list length when the hold
// began and when it ended (the purge it held back). Recorded in backup.json; objectives.baselineHold bounds it.
import type { Db } from "../db/connection.ts";
import { historyListLength } from "../db/introspect.ts";
import { formatDuration } from "../base/duration.ts";
import type { ReplicaHold } from "../store/layout.ts";

/** A hold begun: end() measures it. */
export interface HoldTimer {
  end(): Promise<ReplicaHold>;
}

/** Starts timing a hold of `consistency` on `db`, reading the history list length first. */
export async function beginHold(db: Db, consistency: ReplicaHold["consistency"]): Promise<HoldTimer> {
  const historyBefore = await historyListLength(db).catch(() => null);
  const started = performance.now();
  return {
    async end() {
      const heldMs = Math.round(performance.now() - started);
      // Never throws: it runs before the replica's SQL thread is started again, which must happen whatever this reads.
      return { consistency, heldMs, historyBefore, historyAfter: await historyListLength(db).catch(() => null) };
    },
  };
}

/** "replica's SQL thread stopped for 4.2 s; history list length 12 → 3,410". */
export function describeHold(hold: ReplicaHold): string {
  const what = hold.consistency === "pausedReplica" ? "replica's SQL thread stopped" : hold.consistency === "snapshot" ? "baseline snapshots open" : "nothing held (quiescent)";
  const n = (x: number | null) => (x === null ? "not readable" : x.toLocaleString("en-US"));
  return `${what} for ${formatDuration(hold.heldMs)}; InnoDB history list length ${n(hold.historyBefore)} → ${n(hold.historyAfter)}`;
}
