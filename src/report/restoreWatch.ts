// How the suite watches one restore: a record of its steps for summary.json and Allure, and progress for ProgressReporter.
import { inject, recordArtifact, type RunnerTestCase } from "vitest";
import type { Manifest } from "../store/manifest.ts";
import type { StoredBackup } from "../store/layout.ts";
import { serverInfo } from "../db/introspect.ts";
import type { Restored, RestoreOptions } from "../restore/pipeline.ts";
import type { ProgressArtifact, RestoreRecord, StepRecord } from "./meta.ts";
import { progressLine, progressSettings } from "./progress.ts";

type Progress = Omit<ProgressArtifact, "type" | "service" | "location" | "attachments">;

const position = (p: { file: string; position: number } | null | undefined): string | null => (p ? `${p.file}:${p.position}` : null);

export class RestoreWatch {
  readonly steps: StepRecord[] = [];
  readonly startedAt = new Date();
  /** Provided by ProgressReporter when it listens; without it (e.g. `--reporter=blob` alone) the worker prints the lines. */
  private readonly reporterInterval = inject("progressIntervalMs");
  private readonly intervalMs = this.reporterInterval ?? progressSettings().intervalMs;
  private readonly pending: Promise<unknown>[] = [];

  constructor(
    private readonly service: string,
    /** The test the progress is recorded on: the one that started the restore. */
    private readonly task: RunnerTestCase,
  ) {}

  /** The options restoreService reports through. */
  restoreOptions(): Pick<RestoreOptions, "onProgress" | "progressIntervalMs"> {
    return { onProgress: (p) => this.progress(p), progressIntervalMs: this.intervalMs };
  }

  progress(p: Progress): void {
    if (p.phase === "done" || p.phase === "failed") {
      this.steps.push({ step: p.step, durationMs: Math.round(p.elapsedMs), ok: p.phase === "done", ...(p.bytes === undefined ? {} : { bytes: p.bytes }), ...(p.storedBytes === undefined ? {} : { storedBytes: p.storedBytes }) });
    }
    const artifact: ProgressArtifact = { type: "restoretest:progress", service: this.service, ...p };
    if (this.reporterInterval === undefined) {
      // The worker's stderr is piped to vitest's: plain lines, whatever reporters the command line chose.
      process.stderr.write(`${progressLine(artifact)}\n`);
      return;
    }
    this.pending.push(recordArtifact(this.task, artifact).catch(() => undefined));
  }

  /** Run a phase of the suite's own (verify) with the same progress and record as a restore step. */
  async phase<T>(step: string, body: () => Promise<T>): Promise<T> {
    const started = performance.now();
    const elapsed = () => performance.now() - started;
    this.progress({ step, phase: "start", elapsedMs: 0 });
    const heartbeat = setInterval(() => this.progress({ step, phase: "running", elapsedMs: elapsed() }), this.intervalMs);
    heartbeat.unref();
    try {
      const result = await body();
      this.progress({ step, phase: "done", elapsedMs: elapsed() });
      return result;
    } catch (error) {
      this.progress({ step, phase: "failed", elapsedMs: elapsed() });
      throw error;
    } finally {
      clearInterval(heartbeat);
    }
  }

  /** What the restore test stores in its meta; waits for progress still on its way to the reporters. */
  async record(backup: StoredBackup, manifest: Manifest, restored: Restored | undefined): Promise<RestoreRecord> {
    await Promise.all(this.pending.splice(0));
    const restoredServer = restored ? await serverInfo(restored.db).then((s) => s.version, () => undefined) : undefined;
    const steps = this.steps.filter((s) => s.step !== "verify");
    const verify = this.steps.find((s) => s.step === "verify" && s.ok);
    return {
      service: this.service,
      backup: {
        id: backup.id,
        finishedAt: backup.meta.finishedAt,
        ageMs: Math.max(0, this.startedAt.getTime() - Date.parse(backup.meta.finishedAt)),
        tool: backup.meta.tool,
        toolVersion: backup.meta.toolVersion,
        position: position(backup.meta.position),
        baselinePosition: position(manifest.position),
        sourceServer: manifest.server.version,
        ...(backup.meta.replicaHold ? { replicaHold: backup.meta.replicaHold } : {}),
      },
      ...(restoredServer ? { restoredServer } : {}),
      startedAt: this.startedAt.toISOString(),
      steps,
      ...(verify ? { verifyMs: verify.durationMs } : {}),
      ...(restored ? { restorable: { at: restored.restorable.at.toISOString(), source: restored.restorable.source } } : {}),
    };
  }
}
