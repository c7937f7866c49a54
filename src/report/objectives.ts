// Objectives: the numbers a team promises (RTO, RPO, backup age, catch-up), each judged against what the run measured.
import { formatDuration } from "../base/duration.ts";
import type { Objectives } from "../config/schema.ts";

export type ObjectiveKey = keyof Objectives;

/** The test name of each objective (`objectives › RTO`), in the order the suite runs them. */
export const OBJECTIVE_NAMES: Record<ObjectiveKey, string> = { rto: "RTO", rpo: "RPO", backupAge: "backup age", catchUp: "catch-up", unprovenAge: "unproven age", baselineHold: "baseline hold" };

/** What each measures, for the test's description. */
export const OBJECTIVE_MEANING: Record<ObjectiveKey, string> = {
  rto: "the restore's steps, from locating the backup until the restored server answered and had replayed to the baseline",
  rpo: "the age, when the restore started, of the newest point it could bring back (the backup's finish, or the newest archived binlog event)",
  backupAge: "the age of the newest complete backup when the restore started",
  catchUp: "the rebuilt replica's time to execute everything the source had written when catch-up began",
  unprovenAge: "the longest any retained backup has gone without a green verification (since its last one, or since it finished), after tonight's older backups",
  baselineHold: "how long the restored backup held its source while the baseline was read: the replica's SQL thread stopped (pausedReplica) or the baseline's snapshots open (snapshot)",
};

/** One objective's verdict, as summary.json and the metrics record it. */
export interface ObjectiveResult {
  objective: ObjectiveKey;
  name: string;
  limitMs: number;
  /** null: not measured this run (the restore or the rejoin failed first), which breaches the objective. */
  measuredMs: number | null;
  breached: boolean;
  message: string;
}

/** The verdict for one objective; `why` says why nothing was measured. */
export function judgeObjective(objective: ObjectiveKey, limitMs: number, measuredMs: number | null, why = "nothing was measured"): ObjectiveResult {
  const name = OBJECTIVE_NAMES[objective];
  const limit = formatDuration(limitMs);
  if (measuredMs === null) {
    return { objective, name, limitMs, measuredMs, breached: true, message: `${name} not measured: ${why}; the objective of ${limit} is not shown to be met` };
  }
  const measured = formatDuration(measuredMs);
  const ratio = measuredMs / limitMs;
  const share = ratio < 0.0001 ? "under 0.01% of it" : `${(ratio * 100).toFixed(ratio < 0.1 ? 2 : 0)}% of it`;
  return measuredMs > limitMs
    ? { objective, name, limitMs, measuredMs, breached: true, message: `${name} ${measured} exceeds the objective of ${limit} (by ${formatDuration(measuredMs - limitMs)})` }
    : { objective, name, limitMs, measuredMs, breached: false, message: `${name} ${measured} is within the objective of ${limit} (${share})` };
}

/** The objectives a service set, in test order. */
export function configuredObjectives(objectives: Objectives): [ObjectiveKey, number][] {
  return (Object.keys(OBJECTIVE_NAMES) as ObjectiveKey[]).flatMap((key) => (objectives[key] === undefined ? [] : [[key, objectives[key] as number] as [ObjectiveKey, number]]));
}
