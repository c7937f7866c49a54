// The restore pipeline: newest backup → target → transfer → prepare → copy-back → start, each step timed (the RTO).
import { resolve } from "node:path";
import { readManifest, type Manifest } from "../baseline/manifest.ts";
import { BACKUP_TOOLS } from "../backup/tool.ts";
import { newestBackup, type StoredBackup } from "../backup/store.ts";
import type { Service } from "../config/schema.ts";
import type { Db } from "../db/connection.ts";
import { LocalProvider } from "../hosts/local.ts";
import type { StartedServer } from "../hosts/sandbox.ts";
import type { HostProvider, Target } from "../hosts/types.ts";
import { CommandError, describeCommand } from "../process/command.ts";
import { maskSecrets } from "../lifecycle/secrets.ts";
import { planReplay, type ReplayPlan } from "./replay.ts";

export const RESTORE_STEPS = ["locate", "provision", "transfer", "prepare", "copy-back", "start", "replay"] as const;
export type RestoreStepName = (typeof RESTORE_STEPS)[number];

export interface StepTiming {
  step: RestoreStepName;
  durationMs: number;
  command?: string;
  bytes?: number;
}

/** A restore that failed: which service, which step, which command, and how it ended. */
export class RestoreStepError extends Error {
  override name = "RestoreStepError";
  readonly command?: string;
  readonly exitCode?: number;
  readonly stderrTail?: string;
  constructor(
    readonly service: string,
    readonly step: RestoreStepName,
    readonly durationMs: number,
    cause: unknown,
  ) {
    const seconds = (durationMs / 1000).toFixed(1);
    const command = cause instanceof CommandError ? cause : undefined;
    const detail = command
      ? `command: ${command.command}\nexit code: ${command.timedOut ? "none (timed out)" : (command.exitCode ?? command.signal)}\n` +
        `stderr (last lines):\n${command.stderrTail
          .split("\n")
          .map((l) => `  ${l}`)
          .join("\n")}`
      : maskSecrets(cause instanceof Error ? cause.message : String(cause));
    super(`restore of ${service} failed at step "${step}" after ${seconds}s\n${detail}`, { cause });
    this.command = command?.command;
    this.exitCode = command?.exitCode;
    this.stderrTail = command?.stderrTail;
  }
}

export interface Restored {
  service: string;
  backup: StoredBackup;
  manifest: Manifest;
  target: Target;
  server: StartedServer;
  db: Db;
  steps: StepTiming[];
  /** Close connections, stop the server, remove every restored file. Idempotent. */
  destroy(): Promise<void>;
}

/** Where a restore stands: sent when a step starts, every `progressIntervalMs` while it runs, and when it ends. */
export interface RestoreProgress {
  service: string;
  step: RestoreStepName;
  phase: "start" | "running" | "done" | "failed";
  /** Since the step started. */
  elapsedMs: number;
  /** Bytes copied so far by a copying step (transfer), when the target reports them. */
  bytes?: number;
}

export interface RestoreOptions {
  provider?: HostProvider;
  /** Wraps each step: the suite passes allure.step here so steps show with durations in the report. */
  runStep?: <T>(step: RestoreStepName, body: () => Promise<T>) => Promise<T>;
  log?: (line: string) => void;
  /** Progress of the running step, so that a long restore never leaves a terminal or CI log silent. */
  onProgress?: (progress: RestoreProgress) => void;
  /** Heartbeat period of `onProgress` while a step runs (default 10 s). */
  progressIntervalMs?: number;
  /** Connections to open on the restored server (the verify concurrency). */
  poolSize?: number;
}

export function providerFor(service: Service): HostProvider {
  switch (service.restore.provider) {
    case "local":
      return new LocalProvider({ workDir: service.restore.workDir });
  }
}

/** Restore the newest complete backup of `service` onto a fresh target. On any failure the target is destroyed. */
export async function restoreService(service: Service, options: RestoreOptions = {}): Promise<Restored> {
  const log = options.log ?? (() => undefined);
  const runStep = options.runStep ?? ((_step, body) => body());
  const steps: StepTiming[] = [];
  const tool = BACKUP_TOOLS[service.backup.tool];
  if (!tool) throw new Error(`unknown backup tool ${service.backup.tool}`);
  let target: Target | undefined;
  let server: StartedServer | undefined;

  async function step<T>(name: RestoreStepName, body: (record: Partial<StepTiming>) => Promise<T>): Promise<T> {
    const started = performance.now();
    const record: Partial<StepTiming> = {};
    const progress = (phase: RestoreProgress["phase"]) =>
      options.onProgress?.({ service: service.name, step: name, phase, elapsedMs: performance.now() - started, bytes: record.bytes });
    log(`${service.name}: ${name}…`);
    progress("start");
    const heartbeat = setInterval(() => progress("running"), options.progressIntervalMs ?? 10_000);
    // The heartbeat must never keep a process alive on its own.
    heartbeat.unref();
    try {
      const result = await runStep(name, () => body(record));
      const durationMs = performance.now() - started;
      steps.push({ step: name, durationMs, ...record });
      log(`${service.name}: ${name} done in ${(durationMs / 1000).toFixed(1)}s`);
      progress("done");
      return result;
    } catch (error) {
      progress("failed");
      throw new RestoreStepError(service.name, name, performance.now() - started, error);
    } finally {
      clearInterval(heartbeat);
    }
  }

  try {
    const { backup, manifest, replay } = await step("locate", async () => {
      const backup = newestBackup(resolve(service.backup.store), service.name);
      const manifest = readManifest(backup.manifestPath);
      if (manifest.service !== service.name) throw new Error(`${backup.manifestPath} belongs to service "${manifest.service}", not "${service.name}"`);
      // Planned before any copying: a baseline the backup cannot reach fails here, in seconds, as what it is.
      const replay: ReplayPlan | null =
        manifest.position && backup.meta.position ? planReplay(backup.meta.position, manifest.position, backup.meta.binlogs) : null;
      return { backup, manifest, replay };
    });
    const provider = options.provider ?? providerFor(service);
    target = await step("provision", () => provider.create(service.name));
    const t = target;
    const binlogDir = `${t.workDir}/binlogs`;
    await step("transfer", async (record) => {
      record.bytes = await t.putDirectory(backup.dataDir, t.stagingDir, { onProgress: (bytes) => (record.bytes = bytes) });
      if (replay) record.bytes += await t.putDirectory(backup.binlogDir, binlogDir);
    });
    await step("prepare", async (record) => {
      const c = tool.prepareCommand(t.stagingDir);
      record.command = describeCommand(c.file, c.args);
      await t.exec(c.file, c.args, { timeoutMs: service.restore.timeout });
    });
    await step("copy-back", async (record) => {
      const c = tool.moveBackCommand(t.stagingDir, t.datadir);
      record.command = describeCommand(c.file, c.args);
      await t.exec(c.file, c.args, { timeoutMs: service.restore.timeout });
    });
    server = await step("start", () => t.startServer());
    const socket = server.socket;
    await step("replay", async (record) => {
      if (!replay) return;
      const files = replay.files.map((f) => `'${binlogDir}/${f}'`).join(" ");
      const script =
        `set -o pipefail; mariadb-binlog --start-position=${replay.startPosition} --stop-position=${replay.stopPosition} ${files}` +
        ` | mariadb --no-defaults --socket='${socket}' -uroot --binary-mode`;
      record.command = script.replace(/^set -o pipefail; /, "");
      await t.exec("bash", ["-c", script], { timeoutMs: service.restore.timeout });
    });
    const db = await server.connect({ poolSize: options.poolSize ?? service.verify.concurrency });
    let destroyed: Promise<void> | undefined;
    return {
      service: service.name,
      backup,
      manifest,
      target: t,
      server,
      db,
      steps,
      destroy: () => (destroyed ??= db.close().catch(() => undefined).then(() => t.destroy())),
    };
  } catch (error) {
    await target?.destroy();
    throw error;
  }
}
