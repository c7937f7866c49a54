// reports/summary.json: one machine-readable record per service per run, for alerting and dashboards (docs/summary.md).
import { mkdirSync, renameSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";
import { z } from "zod";
import type { Reporter, TestCase, TestModule } from "vitest/node";
import { TOOL_PROJECT } from "./projects.ts";
import { configPath } from "./paths.ts";
import { listBackups, verifiedAt } from "../store/layout.ts";
import { loadFleet } from "../config/load.ts";
import { unprovenOf } from "../restore/older.ts";
import type { ObjectiveResult } from "./objectives.ts";
import type { ArchiveRecord, RejoinRecord, RestoreRecord } from "./meta.ts";

export const SUMMARY_VERSION = 1;

const StepSchema = z.strictObject({
  step: z.string(),
  durationMs: z.number().int().nonnegative(),
  bytes: z.number().int().nonnegative().optional(),
  /** Bytes read from the store for a stream backup (compressed, encrypted); `bytes` is what they unpacked to. */
  storedBytes: z.number().int().nonnegative().optional(),
  ok: z.boolean(),
});

const BackupSchema = z.strictObject({
  id: z.string(),
  finishedAt: z.string(),
  /** Age of the backup when the restore started. */
  ageMs: z.number().int().nonnegative(),
  tool: z.string(),
  toolVersion: z.string(),
  /** `binlog-file:position` the backup is consistent at (B), and the one the baseline describes (P). */
  position: z.string().nullable(),
  baselinePosition: z.string().nullable(),
  sourceServer: z.string(),
  /** What the backup cost its source while the baseline was read (backup.json's replicaHold); absent before it was recorded. */
  replicaHold: z
    .strictObject({
      consistency: z.enum(["quiescent", "snapshot", "pausedReplica"]),
      heldMs: z.number().nonnegative(),
      historyBefore: z.number().int().nonnegative().nullable(),
      historyAfter: z.number().int().nonnegative().nullable(),
    })
    .optional(),
});

const ArchiveSchema = z.strictObject({
  appliedTo: z.string().nullable(),
  newestEventAt: z.string().nullable(),
  rpoMs: z.number().int().nonnegative().nullable(),
  files: z.number().int().nonnegative(),
  bytes: z.number().int().nonnegative(),
  applyMs: z.number().int().nonnegative().nullable(),
  failure: z.string().nullable(),
});

const RejoinSchema = z.strictObject({
  startMs: z.number().int().nonnegative().nullable(),
  catchUpMs: z.number().int().nonnegative().nullable(),
  backlogBytes: z.number().int().nonnegative().nullable(),
  consistentAt: z.string().nullable(),
  tablesCompared: z.number().int().nonnegative().nullable(),
  failure: z.string().nullable(),
});

export const ServiceSummarySchema = z.strictObject({
  service: z.string(),
  verdict: z.enum(["pass", "fail"]),
  /** When the restore started (the run's time when no restore was attempted). */
  verifiedAt: z.string(),
  /** null when no complete backup was found. */
  backup: BackupSchema.nullable(),
  restoredServer: z.string().nullable(),
  /**
   * Recovery point, as measured: age of the newest restorable point when the restore started (the backup's finish, or
   * the newest archived binlog event when the restore rolled forward through the binlog archive); null without a restore.
   */
  rpoMs: z.number().int().nonnegative().nullable(),
  /** That point, and what it was. */
  restorable: z.strictObject({ at: z.string(), source: z.string() }).nullable(),
  /** Recovery time: the restore steps' total, until the restored server accepted connections; null if it never did. */
  rtoMs: z.number().int().nonnegative().nullable(),
  steps: z.array(StepSchema),
  failedStep: z.string().nullable(),
  verifyMs: z.number().int().nonnegative().nullable(),
  bytesMoved: z.number().int().nonnegative(),
  /** The per-table and per-database check tests (the `restore` test itself is not counted). */
  checks: z.strictObject({ passed: z.number().int(), failed: z.number().int(), skipped: z.number().int() }),
  /** Every failed test as `classname › name`, as Jenkins shows it. */
  failed: z.array(z.string()),
  /** The replica rebuild (`rejoin` in services.yaml): null when the service does not rejoin or it never began. */
  rejoin: RejoinSchema.nullable(),
  /** The roll-forward through the binlog archive: null when the service has no archive (or summaries from before it). */
  archive: ArchiveSchema.nullable().default(null),
  /**
   * How long the retained backups have gone unproven, read from the store when the run ended (after tonight's older
   * backups and the newest were marked verified): null without a backup, or in summaries from before it.
   */
  unproven: z
    .strictObject({
      longestMs: z.number().int().nonnegative(),
      backupId: z.string(),
      neverVerified: z.strictObject({ id: z.string(), ageMs: z.number().int().nonnegative() }).nullable(),
    })
    .nullable()
    .default(null),
  /** Each objective set in services.yaml (`objectives`) against what was measured; empty when none is set. */
  objectives: z.array(
    z.strictObject({
      objective: z.enum(["rto", "rpo", "backupAge", "catchUp", "unprovenAge", "baselineHold"]),
      name: z.string(),
      limitMs: z.number().int().nonnegative(),
      measuredMs: z.number().nonnegative().nullable(),
      breached: z.boolean(),
      message: z.string(),
    }),
  )
    // Summaries written before objectives existed read as having none.
    .default([]),
});

export const SummarySchema = z.strictObject({
  version: z.literal(SUMMARY_VERSION),
  generatedAt: z.string(),
  services: z.array(ServiceSummarySchema),
});

export type ServiceSummary = z.infer<typeof ServiceSummarySchema>;
export type Summary = z.infer<typeof SummarySchema>;

/** The summary of one service from its restore record and its tests' verdicts (pure: the reporter feeds it). */
export function summarizeService(
  service: string,
  record: RestoreRecord | undefined,
  tests: { name: string; state: "passed" | "failed" | "skipped"; isRestore: boolean }[],
  now: Date,
  rejoin?: RejoinRecord,
  objectives: ObjectiveResult[] = [],
  archive?: ArchiveRecord,
): ServiceSummary {
  const checks = tests.filter((t) => !t.isRestore);
  const count = (state: string) => checks.filter((t) => t.state === state).length;
  const steps = record?.steps ?? [];
  const failedStep = steps.find((s) => !s.ok)?.step ?? null;
  const started = steps.some((s) => s.step === "start" && s.ok);
  const failed = tests.filter((t) => t.state === "failed").map((t) => t.name);
  return {
    service,
    verdict: failed.length === 0 && !failedStep ? "pass" : "fail",
    verifiedAt: record?.startedAt ?? now.toISOString(),
    backup: record?.backup ? { ...record.backup, ageMs: Math.round(record.backup.ageMs) } : null,
    restoredServer: record?.restoredServer ?? null,
    // Proven by the archive stage when it applied anything; else the restore's newest restorable point (the backup).
    rpoMs: archive?.rpoMs ?? (record?.restorable ? Math.max(0, Date.parse(record.startedAt) - Date.parse(record.restorable.at)) : null),
    restorable: archive?.newestEventAt ? { at: archive.newestEventAt, source: "binlog archive, replayed" } : (record?.restorable ?? null),
    rtoMs: started && !failedStep ? steps.reduce((t, s) => t + s.durationMs, 0) : null,
    steps,
    failedStep,
    verifyMs: record?.verifyMs ?? null,
    bytesMoved: steps.reduce((t, s) => t + (s.bytes ?? 0), 0),
    checks: { passed: count("passed"), failed: count("failed"), skipped: count("skipped") },
    failed,
    rejoin: rejoin ?? null,
    archive: archive ?? null,
    unproven: null,
    objectives: objectives.map((o) => ({ ...o, measuredMs: o.measuredMs === null ? null : Math.round(o.measuredMs) })),
  };
}

function testName(test: TestCase): string {
  return `${test.meta().classname ?? test.fullName} › ${test.name}`;
}

/** Per service project: its restore record and test verdicts; hook and load errors count as failed tests. */
export function buildSummary(modules: readonly TestModule[], now = new Date()): Summary {
  const byService = new Map<
    string,
    { record?: RestoreRecord; rejoin?: RejoinRecord; archive?: ArchiveRecord; objectives: ObjectiveResult[]; tests: Parameters<typeof summarizeService>[2] }
  >();
  for (const module of modules) {
    const service = module.project.name;
    if (!service || service === TOOL_PROJECT) continue;
    const entry = byService.get(service) ?? { tests: [], objectives: [] };
    byService.set(service, entry);
    for (const test of module.children.allTests()) {
      const state = test.result().state;
      const isRestore = test.meta().restore !== undefined || (test.name === "restore" && test.parent.type === "suite" && test.parent.name === service);
      entry.record ??= test.meta().restore;
      // Each rejoin test stores the record as far as it got: the last one set is the most complete.
      entry.rejoin = test.meta().rejoin ?? entry.rejoin;
      entry.archive = test.meta().archive ?? entry.archive;
      const objective = test.meta().objective;
      if (objective) entry.objectives.push(objective);
      entry.tests.push({ name: testName(test), state: state === "passed" || state === "failed" ? state : "skipped", isRestore });
    }
    if (module.errors().length > 0) entry.tests.push({ name: `${service} › (module)`, state: "failed", isRestore: true });
    for (const suite of module.children.allSuites()) {
      if (suite.errors().length > 0) entry.tests.push({ name: `${suite.fullName} › (suite hooks)`, state: "failed", isRestore: true });
    }
  }
  const services = [...byService.entries()].map(([service, e]) => summarizeService(service, e.record, e.tests, now, e.rejoin, e.objectives, e.archive));
  return { version: SUMMARY_VERSION, generatedAt: now.toISOString(), services: services.sort((a, b) => a.service.localeCompare(b.service)) };
}

const runSummaries = new WeakMap<ReadonlyArray<TestModule>, Summary>();

/**
 * The run's summary, made once per run end: vitest hands every reporter the same modules array, so summary.json and the
 * metrics (src/report/metricsReporter.ts) are built from one set of records, to the millisecond.
 */
export function runSummary(modules: ReadonlyArray<TestModule>): Summary {
  let summary = runSummaries.get(modules);
  if (!summary) {
    const built = buildSummary(modules);
    const now = new Date(built.generatedAt);
    built.services = built.services.map((s) => ({ ...s, unproven: storeUnproven(s.service, now) }));
    runSummaries.set(modules, (summary = SummarySchema.parse(built)));
  }
  return summary;
}

/** A service's unproven time from its store (services.yaml read for its path); null when either cannot be read. */
function storeUnproven(service: string, now: Date): ServiceSummary["unproven"] {
  try {
    const found = loadFleet(configPath(), process.env, []).services.find((s) => s.name === service);
    if (!found) return null;
    const backups = listBackups(found.backup.store, service).complete.map((b) => ({ id: b.id, finishedAt: b.meta.finishedAt, verifiedAt: verifiedAt(b.dir) }));
    const unproven = unprovenOf(backups, now);
    return unproven && { ...unproven, longestMs: Math.round(unproven.longestMs), neverVerified: unproven.neverVerified && { ...unproven.neverVerified, ageMs: Math.round(unproven.neverVerified.ageMs) } };
  } catch {
    return null;
  }
}

/** vitest reporter writing `outputFile` (atomically: a dashboard polling it never reads half a file). */
export default class SummaryReporter implements Reporter {
  constructor(private readonly options: { outputFile: string }) {}

  onTestRunEnd(modules: ReadonlyArray<TestModule>): void {
    const summary = runSummary(modules);
    mkdirSync(dirname(this.options.outputFile), { recursive: true });
    const temp = `${this.options.outputFile}.tmp-${process.pid}`;
    writeFileSync(temp, `${JSON.stringify(summary, null, 2)}\n`);
    renameSync(temp, this.options.outputFile);
  }
}
