// Test metadata the reporters read: the JUnit classname, the Allure labels of a generated test, a restore's record, progress.
import type { ReplicaHold } from "../store/layout.ts";
import type { TestArtifactBase } from "vitest";
import type { ObjectiveResult } from "./objectives.ts";

/** One restore step as the suite saw it: how long it ran and, for a copy, how many bytes it moved. */
export interface StepRecord {
  step: string;
  durationMs: number;
  bytes?: number;
  ok: boolean;
}

/** What the `restore` test learned, for summary.json and the Allure environment (set on its `task.meta`). */
export interface RestoreRecord {
  service: string;
  backup?: {
    id: string;
    finishedAt: string;
    /** Backup age when the restore started: how old the data a disaster would bring back is. */
    ageMs: number;
    tool: string;
    toolVersion: string;
    /** Where the backup's data is consistent (B) and what the baseline describes (P). */
    position: string | null;
    baselinePosition: string | null;
    sourceServer: string;
    /** What the backup cost its source while the baseline was read (backup.json). */
    replicaHold?: ReplicaHold;
  };
  /** The restored server's version (absent when the restore did not get that far). */
  restoredServer?: string;
  startedAt: string;
  steps: StepRecord[];
  verifyMs?: number;
  /** The newest point the restore could reach (the backup's finish, or the newest archived binlog event). */
  restorable?: { at: string; source: string };
}

/** What the rejoin tests learned (set on each one's `task.meta`, the last one most complete), for summary.json. */
export interface RejoinRecord {
  /** From START SLAVE until both replication threads ran. */
  startMs: number | null;
  /** From START SLAVE until the replica had executed what the source had written when catch-up began. */
  catchUpMs: number | null;
  backlogBytes: number | null;
  /** The binlog position at which replica and source were compared and found equal. */
  consistentAt: string | null;
  tablesCompared: number | null;
  /** The named failure (purged-binlogs, access-denied, …) of the first rejoin test that failed. */
  failure: string | null;
}

/** What the archive stage learned (set on each archive test's `task.meta`, the last one most complete), for summary.json. */
export interface ArchiveRecord {
  /** Where the roll-forward ended (`file:position`), null when nothing applied. */
  appliedTo: string | null;
  /** The newest applied transaction's commit time (ISO). */
  newestEventAt: string | null;
  /** The recovery point proven: when it was measured, minus newestEventAt. */
  rpoMs: number | null;
  files: number;
  bytes: number;
  applyMs: number | null;
  /** Why the roll-forward stopped short, when it did. */
  failure: string | null;
}

/** A progress event of a running restore, sent from the worker to ProgressReporter as a test artifact. */
export interface ProgressArtifact extends TestArtifactBase {
  type: "restoretest:progress";
  service: string;
  step: string;
  phase: "start" | "running" | "done" | "failed";
  elapsedMs: number;
  bytes?: number;
  /** Bytes read from the store, when it holds the backup compressed (a stream): `bytes` is then what they unpacked to. */
  storedBytes?: number;
}

declare const progressKey: unique symbol;

declare module "vitest" {
  interface TaskMeta {
    /** Jenkins groups by this: `service.database.table` (or `service.database` for database-wide tests). */
    classname?: string;
    service?: string;
    restore?: RestoreRecord;
    rejoin?: RejoinRecord;
    archive?: ArchiveRecord;
    /** An `objectives › …` test's verdict, for summary.json and the metrics. */
    objective?: ObjectiveResult;
    /** Skipped because the configuration says so (a table over verify.tableDrillMaxSize): it keeps a run green. */
    configuredSkip?: boolean;
    /**
     * A test of the retained backups other than the newest (`older › …`, `archive › <older> + archive = <next>`,
     * `objectives › unproven age`): red or green, it does not decide whether the newest backup is marked verified.
     */
    otherBackups?: boolean;
  }
  interface TestArtifactRegistry {
    [progressKey]: ProgressArtifact;
  }
  interface ProvidedContext {
    /** Set by ProgressReporter: how often a running restore step reports progress; absent when nobody listens. */
    progressIntervalMs?: number;
  }
}
