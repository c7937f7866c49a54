// The restoretest_* metrics: what each service's summary record (summary.json, src/report/summary.ts) says, as Prometheus gauges.
import type { ServiceSummary } from "./summary.ts";
import type { MetricFamily, ParsedSample, Sample } from "./prometheus.ts";

interface MetricDefinition {
  name: string;
  help: string;
  /** The service's samples; none when the record does not know the value (no restore, no rejoin…). */
  samples(summary: ServiceSummary): Sample[];
}

const seconds = (ms: number) => ms / 1000;
const unixSeconds = (iso: string) => Date.parse(iso) / 1000;
const one = (summary: ServiceSummary, value: number | null | undefined): Sample[] =>
  value === null || value === undefined ? [] : [{ labels: { service: summary.service }, value }];

/** Every metric, in the order the file lists them; docs/metrics.md describes each. */
export const METRICS: readonly MetricDefinition[] = [
  {
    name: "restoretest_success",
    help: "1 when the service's last verification was green (restore and every test passed), 0 when anything failed.",
    samples: (s) => one(s, s.verdict === "pass" ? 1 : 0),
  },
  {
    name: "restoretest_last_verify_timestamp_seconds",
    help: "When the service's last verification started (Unix time), green or red.",
    samples: (s) => one(s, unixSeconds(s.verifiedAt)),
  },
  {
    name: "restoretest_failed_tests",
    help: "Tests of the service that failed in its last verification (restore, checks, rejoin, hooks).",
    samples: (s) => one(s, s.failed.length),
  },
  {
    name: "restoretest_rto_seconds",
    help: "Recovery time: the restore steps' total until the restored server accepted connections (absent when it never did).",
    samples: (s) => one(s, s.rtoMs === null ? null : seconds(s.rtoMs)),
  },
  {
    name: "restoretest_restore_step_seconds",
    help: "Time each restore step took, the failed one until it failed; a step run more than once (apply-incremental) is summed.",
    samples: (s) => stepTotals(s).map(([step, ms]) => ({ labels: { service: s.service, step }, value: seconds(ms) })),
  },
  {
    name: "restoretest_verify_seconds",
    help: "Time to capture every check on the restored server.",
    samples: (s) => one(s, s.verifyMs === null ? null : seconds(s.verifyMs)),
  },
  {
    name: "restoretest_rpo_seconds",
    help: "Recovery point as measured: age of the newest restorable point (backup or archived binlog) when the restore started.",
    samples: (s) => one(s, s.rpoMs === null ? null : seconds(s.rpoMs)),
  },
  {
    name: "restoretest_backup_age_seconds",
    help: "Age of the restored backup when the restore started.",
    samples: (s) => one(s, s.backup ? seconds(s.backup.ageMs) : null),
  },
  {
    name: "restoretest_backup_timestamp_seconds",
    help: "When the restored backup finished (Unix time).",
    samples: (s) => one(s, s.backup ? unixSeconds(s.backup.finishedAt) : null),
  },
  {
    name: "restoretest_backup_source_hold_seconds",
    help: "How long the restored backup held its source while the baseline was read: the replica's SQL thread stopped (pausedReplica) or the snapshots open (snapshot); 0 for quiescent.",
    samples: (s) => one(s, s.backup?.replicaHold ? seconds(s.backup.replicaHold.heldMs) : null),
  },
  {
    name: "restoretest_backup_history_list_length",
    help: "InnoDB's history list length on the source when the restored backup's hold began (when=before) and ended (when=after).",
    samples: (s) =>
      (["before", "after"] as const).flatMap((when) => {
        const n = s.backup?.replicaHold?.[when === "before" ? "historyBefore" : "historyAfter"];
        return n === undefined || n === null ? [] : [{ labels: { service: s.service, when }, value: n }];
      }),
  },
  {
    name: "restoretest_backup_bytes",
    help: "Bytes of the backup a restore copies: the chain's data and its binlogs (absent when a copy did not finish).",
    samples: (s) => one(s, copiedBytes(s)),
  },
  {
    name: "restoretest_rejoin_catch_up_seconds",
    help: "Time the replica rebuilt from the backup took to catch up with its source (services with rejoin).",
    samples: (s) => one(s, s.rejoin?.catchUpMs == null ? null : seconds(s.rejoin.catchUpMs)),
  },
  {
    name: "restoretest_unproven_seconds",
    help: "The longest any retained backup has gone without a green verification (since its last one, or since it finished).",
    samples: (s) => one(s, s.unproven ? seconds(s.unproven.longestMs) : null),
  },
  {
    name: "restoretest_never_verified_backup_age_seconds",
    help: "Age of the oldest retained backup never verified (absent when every retained backup was).",
    samples: (s) => one(s, s.unproven?.neverVerified ? seconds(s.unproven.neverVerified.ageMs) : null),
  },
  {
    name: "restoretest_objective_limit_seconds",
    help: "An objective set in services.yaml (objectives: rto, rpo, backupAge, catchUp, unprovenAge, baselineHold), by objective.",
    samples: (s) => s.objectives.map((o) => ({ labels: { service: s.service, objective: o.objective }, value: seconds(o.limitMs) })),
  },
  {
    name: "restoretest_objective_breached",
    help: "1 when the last verification breached the objective (or could not measure it), 0 when it was met.",
    samples: (s) => s.objectives.map((o) => ({ labels: { service: s.service, objective: o.objective }, value: o.breached ? 1 : 0 })),
  },
];

/** Step durations by step name, in the order the steps ran. */
function stepTotals(summary: ServiceSummary): [string, number][] {
  const totals = new Map<string, number>();
  for (const step of summary.steps) totals.set(step.step, (totals.get(step.step) ?? 0) + step.durationMs);
  return [...totals];
}

/** The summary's bytesMoved, but only when every step that copied finished: a broken copy's count is a partial one. */
function copiedBytes(summary: ServiceSummary): number | null {
  const copies = summary.steps.filter((step) => step.bytes !== undefined);
  return copies.length > 0 && copies.every((step) => step.ok) ? summary.bytesMoved : null;
}

/**
 * Every metric family for these services, plus `kept` samples of other services (read back from an earlier file), each
 * family's samples ordered by service.
 */
export function metricFamilies(summaries: readonly ServiceSummary[], kept: readonly ParsedSample[] = []): MetricFamily[] {
  return METRICS.map((metric) => {
    const samples = [...summaries.flatMap((s) => metric.samples(s)), ...kept.filter((k) => k.name === metric.name).map(({ labels, value }) => ({ labels, value }))];
    samples.sort((a, b) => (a.labels.service ?? "").localeCompare(b.labels.service ?? ""));
    return { name: metric.name, help: metric.help, type: "gauge", samples };
  });
}
