// The rejoin stage: after verification, the restored server replicates from the source, from the backup's position,
// catches up, and is compared with the source at a position both reach. Always ends with replication stopped.
import { captureBaseline } from "../baseline/capture.ts";
import { checkOptions } from "../checks/options.ts";
import type { Service } from "../config/schema.ts";
import { formatDuration } from "../base/duration.ts";
import { binaryLogs, binlogPosition, type BinlogPosition } from "../db/introspect.ts";
import { binlogRetention, forgetSource, replicaStatus, replicateUntil, serverIds, startReplication, stopReplication, type ReplicaStatus } from "../db/replication.ts";
import type { Restored } from "../restore/pipeline.ts";
import { comparePositions } from "../binlog/replay.ts";
import { allFindings, captureRestored } from "../verify/verify.ts";
import {
  binlogProblem,
  bytesBetween,
  chooseServerId,
  describePosition,
  describeStart,
  RejoinError,
  startPoint,
  statusProblem,
  type LagSample,
  type StartPoint,
} from "./replica.ts";
import { openRejoinSource, type RejoinSource } from "./source.ts";

export interface RejoinStarted {
  source: string;
  serverId: number;
  start: StartPoint;
  /** From START SLAVE until both threads ran. */
  durationMs: number;
}

export interface RejoinCaughtUp {
  /** From START SLAVE until the replica had executed everything the source had written when catch-up began. */
  durationMs: number;
  target: BinlogPosition;
  /** Binlog bytes from the backup's position to the target, when the source lists its binlogs. */
  backlogBytes: number | undefined;
  samples: LagSample[];
}

export interface RejoinConsistent {
  at: BinlogPosition;
  tables: number;
  durationMs: number;
}

/** The checks compared between source and replica after catch-up: every row of every table. */
export const REJOIN_CHECKS = ["checksum", "rowCount"] as const;

export interface RejoinOptions {
  log?: (line: string) => void;
  /** How often replication status is read (default 250 ms). */
  pollMs?: number;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Wait for `promise`, at most `ms` (the timer never keeps the process alive). */
function atMost(promise: Promise<unknown> | undefined, ms: number): Promise<unknown> {
  let timer: NodeJS.Timeout | undefined;
  const limit = new Promise((r) => {
    timer = setTimeout(r, ms);
    timer.unref();
  });
  return Promise.race([promise?.catch(() => undefined), limit]).finally(() => clearTimeout(timer));
}

export class RejoinStage {
  private source: RejoinSource | undefined;
  private restored: Restored | undefined;
  private startedAt = 0;
  /** What replication errors are named against: set once replication is configured. */
  private context: Parameters<typeof statusProblem>[1] | undefined;
  private writes: Promise<unknown> | undefined;
  private writesError: Error | undefined;
  private closed = false;
  private started: Promise<RejoinStarted> | undefined;
  private caught: Promise<RejoinCaughtUp> | undefined;
  private consistentResult: Promise<RejoinConsistent> | undefined;
  private readonly log: (line: string) => void;
  private readonly pollMs: number;

  constructor(
    private readonly service: Service,
    options: RejoinOptions = {},
  ) {
    if (!service.rejoin) throw new Error(`service ${service.name} has no rejoin settings`);
    this.log = options.log ?? (() => undefined);
    this.pollMs = options.pollMs ?? 250;
  }

  private get settings() {
    return this.service.rejoin!;
  }

  /** Point the restored server at the source and wait until both replication threads run. */
  start(restored: Restored): Promise<RejoinStarted> {
    return (this.started ??= this.doStart(restored));
  }

  /** Wait until the replica has executed everything the source had written when this began. */
  catchUp(): Promise<RejoinCaughtUp> {
    if (!this.started) return Promise.reject(new Error("rejoin: start() first"));
    return (this.caught ??= this.started.then(() => this.doCatchUp()));
  }

  /** Stop the replica at a position the source's snapshot also describes, and compare every table there. */
  consistent(): Promise<RejoinConsistent> {
    return (this.consistentResult ??= this.catchUp().then(() => this.doConsistent()));
  }

  /** Stop replication, forget the source, end the source's writes and close it. Idempotent; never throws. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.restored) await forgetSource(this.restored.db).catch(() => undefined);
    await this.writes?.catch(() => undefined);
    await this.source?.close().catch((error: unknown) => this.log(`closing the rejoin source: ${(error as Error).message}`));
  }

  private async doStart(restored: Restored): Promise<RejoinStarted> {
    this.restored = restored;
    if (restored.to) throw new RejoinError("unsupported", "a point-in-time restore cannot rejoin replication: it ends before the source's present");
    const start = startPoint(restored.manifest, this.settings, restored.rolledForward);
    const source = (this.source = await openRejoinSource(this.service, this.log));
    const logs = await this.sourceBinlogs();
    if (logs) {
      const problem = binlogProblem(start, logs, {
        source: source.description,
        backupAgeMs: Date.now() - Date.parse(restored.backup.meta.finishedAt),
        retention: await binlogRetention(source.monitor),
      });
      if (problem) throw problem;
    }
    const serverId = chooseServerId(await serverIds(source.monitor), this.settings.serverId, source.description);
    this.log(`${this.service.name}: replicating from ${source.description} at ${describeStart(start)} as server-id ${serverId}`);
    this.startedAt = performance.now();
    this.context = { source: source.description, user: source.user, start };
    await startReplication(restored.db, source, start, serverId);
    // A live source keeps being written while the replica joins (the sandbox's changes; a real server's own traffic).
    this.writes = source.applyChanges().catch((error: unknown) => {
      this.writesError = error as Error;
    });
    // "Waiting for master (MySQL: source) to send event": connected, registered and reading the binlog from the position.
    await this.waitFor(
      this.settings.startTimeout,
      (status) => status.ioRunning === "Yes" && status.sqlRunning === "Yes" && (/waiting for (master|source) to send event/i.test(status.ioState) || status.readPosition > 0),
      (status) =>
        new RejoinError(
          "not-started",
          `replication from ${source.description} did not start within ${formatDuration(this.settings.startTimeout)}: I/O thread ${status.ioRunning} ` +
            `(${status.ioState || "no state"}), SQL thread ${status.sqlRunning}`,
        ),
    );
    // "Waiting to send event" shows as soon as the dump request is sent; a source that refuses the position (error
    // 1236: a GTID it never had, a purged file) answers a moment later. Still running then, replication has started.
    await sleep(Math.max(this.pollMs, 300));
    const settled = statusProblem(await this.status(), this.context);
    if (settled) throw settled;
    return { source: source.description, serverId, start, durationMs: performance.now() - this.startedAt };
  }

  private async doCatchUp(): Promise<RejoinCaughtUp> {
    const source = this.source!;
    const start = this.context!.start;
    // The sandbox's changes are part of the backlog; a real source's traffic goes on regardless.
    await atMost(this.writes, this.settings.catchUpTimeout);
    if (this.writesError) throw new Error(`writing the sandbox's changes to the source failed: ${this.writesError.message}`);
    const target = await binlogPosition(source.monitor);
    if (!target) throw new RejoinError("no-position", `the source ${source.description} has no binary log (log_bin is off): it cannot be replicated from`);
    const samples: LagSample[] = [];
    const first = await this.sourceBinlogs();
    const backlogBytes = first ? bytesBetween(first, start, target) : undefined;
    const executed = (status: ReplicaStatus) => ({ file: status.execFile, position: status.execPosition });
    await this.waitFor(
      this.settings.catchUpTimeout,
      async (status) => {
        // The source's head is the end of its newest binlog: SHOW BINARY LOGS gives both the files and the head.
        const logs = await this.sourceBinlogs();
        const newest = logs?.at(-1);
        const head = newest && { file: newest.name, position: newest.size };
        samples.push({
          atMs: performance.now() - this.startedAt,
          secondsBehind: status.secondsBehind,
          bytesBehind: logs && head && status.execFile ? bytesBetween(logs, executed(status), head) : undefined,
        });
        return status.execFile !== "" && comparePositions(executed(status), target) >= 0;
      },
      (status) => {
        const behind = samples.at(-1);
        return new RejoinError(
          "not-caught-up",
          `the replica did not catch up within ${formatDuration(this.settings.catchUpTimeout)}: it has executed up to ${describePosition(executed(status))}, ` +
            `the source was at ${describePosition(target)} when catch-up began` +
            (behind?.bytesBehind !== undefined ? `; still ${behind.bytesBehind} bytes behind` : "") +
            (behind?.secondsBehind !== null && behind?.secondsBehind !== undefined ? `, ${behind.secondsBehind} s behind the source` : ""),
        );
      },
    );
    return { durationMs: performance.now() - this.startedAt, target, backlogBytes, samples };
  }

  private async doConsistent(): Promise<RejoinConsistent> {
    const source = this.source!;
    const restored = this.restored!;
    const began = performance.now();
    await stopReplication(restored.db);
    await this.waitFor(10_000, (status) => status.sqlRunning === "No" && status.ioRunning === "No", () => new RejoinError("not-started", "replication did not stop within 10 s"));
    // The source's tables inside one consistent snapshot, and the binlog position that snapshot is at (the baseline's
    // own method, so MyISAM tables are read under the same brief lock); the replica is then stopped exactly there.
    this.log(`${this.service.name}: capturing the source's checksums in a consistent snapshot`);
    // No per-range row hashes on the source (several times a CHECKSUM TABLE's cost): here a difference is only named by
    // table, and the restore's own verification already located differences within the backup's data.
    const options = { ...checkOptions(this.service), chunkMinBytes: Number.POSITIVE_INFINITY };
    const snapshot = await captureBaseline(source.monitor, {
      service: this.service.name,
      // The service's databases: the system schemas are the restored server's own (its grant tables hold the verifier
      // account, replication writes its state), and were compared with the baseline before it joined.
      databases: restored.manifest.databases.filter((d) => !d.system).map((d) => d.name),
      checks: REJOIN_CHECKS,
      options,
      concurrency: this.service.verify.concurrency,
      mode: "snapshot",
    });
    const at = snapshot.position;
    if (!at) throw new RejoinError("no-position", `the source ${source.description} has no binary log position`);
    await replicateUntil(restored.db, at.file, at.position);
    const stoppedAt = await this.waitFor(
      this.settings.catchUpTimeout,
      (status) => status.sqlRunning === "No",
      (status) =>
        new RejoinError(
          "not-caught-up",
          `the replica did not reach ${describePosition(at)} within ${formatDuration(this.settings.catchUpTimeout)} (at ${status.execFile}:${status.execPosition})`,
        ),
    );
    const executed = { file: stoppedAt.execFile, position: stoppedAt.execPosition };
    if (comparePositions(executed, at) !== 0) {
      throw new RejoinError("inconsistent", `the replica stopped at ${describePosition(executed)} instead of the source's snapshot position ${describePosition(at)}`);
    }
    await stopReplication(restored.db);
    const verification = await captureRestored(restored.db, snapshot, REJOIN_CHECKS, options, this.service.verify.concurrency);
    const tables = verification.plan.databases.reduce((n, d) => n + d.tables.length, 0);
    const differences = allFindings(verification).flatMap(({ database, table, finding }) => (finding.ok ? [] : [`${database}.${table}: ${finding.message}`]));
    if (differences.length > 0) {
      const list = differences.slice(0, 20).map((d) => `  - ${d}`);
      if (differences.length > 20) list.push(`  … and ${differences.length - 20} more`);
      throw new RejoinError(
        "inconsistent",
        `after catching up to the source's ${describePosition(at)}, the replica differs from the source:\n${list.join("\n")}\n` +
          "Replication applied without error, so the restored data differed from the source's before it joined (rows the changes since did not touch).",
      );
    }
    return { at, tables, durationMs: performance.now() - began };
  }

  private async status(): Promise<ReplicaStatus> {
    const status = await replicaStatus(this.restored!.db);
    if (!status) throw new RejoinError("not-started", "the restored server has no replication configured (SHOW SLAVE STATUS / SHOW REPLICA STATUS is empty)");
    return status;
  }

  /**
   * Poll SHOW SLAVE STATUS until `done` says so, returning that status; a replication error throws its named failure
   * at once, and the deadline throws `late(last status)`.
   */
  private async waitFor(
    timeoutMs: number,
    done: (status: ReplicaStatus) => boolean | Promise<boolean>,
    late: (status: ReplicaStatus) => RejoinError,
  ): Promise<ReplicaStatus> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const status = await this.status();
      const problem = statusProblem(status, this.context!);
      if (problem) throw problem;
      if (await done(status)) return status;
      if (Date.now() > deadline) throw late(status);
      await sleep(this.pollMs);
    }
  }

  /** SHOW BINARY LOGS on the source, or undefined when the monitor user may not list them. */
  private async sourceBinlogs(): Promise<{ name: string; size: number }[] | undefined> {
    try {
      return await binaryLogs(this.source!.monitor);
    } catch (error) {
      if (/denied|privilege/i.test((error as Error).message)) return undefined;
      throw error;
    }
  }
}
