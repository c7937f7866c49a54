// The restore pipeline: newest chain → target → transfer → prepare (+ incrementals) → start → replay, each step timed
// (the RTO). A physical backup is copied once, straight into the target's datadir, and prepared there.
import type { Manifest } from "../store/manifest.ts";
import type { Position } from "../binlog/position.ts";
import { markInUse } from "../store/inUse.ts";
import { backupTool, type BackupTool } from "../backup/tool.ts";
import type { Flavor } from "../server/flavor.ts";
import { parseBackupMyCnf, readBackupMyCnf, startupOptions } from "../checks/settings.ts";
import type { ServerCaptureContext } from "../checks/types.ts";
import { readDigestKey, type StoredBackup } from "../store/layout.ts";
import type { Service } from "../config/schema.ts";
import type { Db } from "../db/connection.ts";
import { innodbForeignKeys, storedFunctions } from "../db/introspect.ts";
import { CommandProvider } from "../hosts/command.ts";
import { LocalProvider } from "../hosts/local.ts";
import { SshProvider } from "../hosts/ssh.ts";
import type { StartedServer } from "../hosts/sandbox.ts";
import type { HostProvider, Target } from "../hosts/types.ts";
import { CommandError, describeCommand, shellQuote } from "../base/command.ts";
import { maskSecrets } from "../base/secrets.ts";
import { sweepBeforeRun } from "../base/sweep.ts";
import { locateRestore, replayFilesDir, type LocatedRestore, type RestorePoint } from "./locate.ts";
import { partialRefusal, PartialRestoreRefused, scratchBeside, selectFiles, tableFiles } from "./partial.ts";
import { replayScript } from "../binlog/replay.ts";
import { definitionsNaming, filterBinlogs, type TableReplay } from "./tableReplay.ts";
import { transferLink } from "./transfer.ts";
import type { StoreCheck } from "../store/storeCheck.ts";
import { freeBytesOn, NoRoomError } from "../hosts/room.ts";
import { tableLabel, type TableName } from "../db/quote.ts";

// `apply-incremental` runs once per incremental of the chain; `load` runs only for a logical dump.
export const RESTORE_STEPS = ["locate", "provision", "transfer", "prepare", "apply-incremental", "start", "load", "replay"] as const;
export type RestoreStepName = (typeof RESTORE_STEPS)[number];

export interface StepTiming {
  step: RestoreStepName;
  durationMs: number;
  command?: string;
  bytes?: number;
  /** Bytes read from the store, for a stream backup (compressed, encrypted): `bytes` is what they unpacked to. */
  storedBytes?: number;
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
  /** The newest link restored (the chain's last); its manifest describes the position P replayed to. */
  backup: StoredBackup;
  /** Every backup restored, full first. */
  chain: StoredBackup[];
  manifest: Manifest;
  /** The point-in-time target, when one was asked for (the manifest then does not describe the restored data). */
  to?: RestorePoint;
  /**
   * The RPO: age in seconds, when the restore started, of the newest restorable point — the newest backup's finish, or
   * the newest archived binlog event when the restore rolled forward from the binlog archive.
   */
  rpoSeconds: number;
  restorable: LocatedRestore["restorable"];
  target: Target;
  server: StartedServer;
  db: Db;
  /** What the server-wide checks need to read it: the backup's digest key, and the verifier account to leave out. */
  serverContext: ServerCaptureContext;
  /**
   * Set by the archive stage once it rolled the restored server forward past P through the binlog archive: where it
   * now stands in the source's binlog (rejoin starts there).
   */
  rolledForward?: Position;
  /** Set when only these tables were restored (their files, the system schemas, their binlog events): nothing else is there to verify. */
  only?: readonly TableName[];
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
  /** Bytes read from the store so far, for a stream backup. */
  storedBytes?: number;
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
  /** Restore to a point in time: the newest chain before it, then binlogs up to it (archive first, else the backup's own). */
  to?: RestorePoint;
  /** Restore this backup (its chain) instead of the newest: `--backup`, RESTORETEST_BACKUP, verify.older. */
  backup?: string;
  /** Appended to the restored server's command line (the fault catalog starts one that differs from the source). */
  serverArgs?: readonly string[];
  /**
   * Restore only these tables (a table-level restore): their files and what the server needs to start, their binlog
   * events only. Where that cannot be proven to give them exactly as the whole restore would (src/restore/tableReplay.ts),
   * the whole chain is restored instead, with one log line saying why.
   */
  only?: readonly TableName[];
  /**
   * Check every stored file of the chain against its checksums.json while the transfer reads the store (the nightly's
   * `store` test); not for tables alone, which read a few of them.
   */
  storeCheck?: StoreCheck;
}

export function providerFor(service: Service): HostProvider {
  switch (service.restore.provider) {
    case "local":
      return new LocalProvider({ workDir: service.restore.workDir });
    case "ssh": {
      // The loader refuses a file without it; a Service built in code might still lack it.
      if (!service.restore.ssh) throw new Error(`service ${service.name}: restore.provider is "ssh" but restore.ssh is not set`);
      return new SshProvider(service.restore.ssh);
    }
    case "command": {
      if (!service.restore.command) throw new Error(`service ${service.name}: restore.provider is "command" but restore.command is not set`);
      return new CommandProvider(service.restore.command);
    }
  }
}

/** Restore the newest complete backup (chain) of `service` onto a fresh target. On any failure the target is destroyed. */
export async function restoreService(service: Service, options: RestoreOptions = {}): Promise<Restored> {
  // Every nightly path (the suite and its shards, `restoretest verify` and `restore`) passes here: directories and
  // servers of runs killed before their cleanup could run are swept first, outside the timed steps.
  await sweepBeforeRun([service], options.log);
  const only = options.only?.length ? options.only : undefined;
  if (!only) return restoreChain(service, options);
  try {
    return await restoreChain(service, options, only);
  } catch (error) {
    const why = partialFailure(error);
    if (why === undefined) throw error;
    options.log?.(`${service.name}: restoring the whole chain, not ${only.map(tableLabel).join(", ")} alone: ${why}`);
    return restoreChain(service, options);
  }
}

/**
 * Why a restore of some tables alone did not go through, when the whole chain may: refused (not provable), or failed
 * where the missing tables may be the cause (prepare, start, replay). Undefined for anything else (locate, transfer).
 */
function partialFailure(error: unknown): string | undefined {
  if (error instanceof PartialRestoreRefused) return error.message;
  if (!(error instanceof RestoreStepError)) return undefined;
  if (error.cause instanceof PartialRestoreRefused) return error.cause.message;
  if (!["prepare", "apply-incremental", "start", "replay"].includes(error.step)) return undefined;
  return `step ${error.step} failed on the tables alone: ${(error.stderrTail ?? error.message).split("\n").filter((l) => l.trim()).slice(-1)[0] ?? "(no message)"}`;
}

async function restoreChain(service: Service, options: RestoreOptions, only?: readonly TableName[]): Promise<Restored> {
  const run = new ChainRestore(service, options, only);
  try {
    return await run.steps();
  } catch (error) {
    await run.abandon();
    throw error;
  }
}

/** What a chain's restore has found and made so far, as its steps hand it on. */
interface Located extends LocatedRestore {
  tool: BackupTool;
  /** Each incremental of the chain and the directory it is copied to on the target. */
  incrementals: { link: StoredBackup; dir: string }[];
  /** Tables alone: what their binlog events are read with (their definitions in the backup). */
  definitions: ReturnType<typeof definitionsNaming> | undefined;
}

/** One restore of a chain, as a list of timed steps (`steps()`); `abandon()` undoes what a failed one left. */
class ChainRestore {
  private readonly log: (line: string) => void;
  private readonly timings: StepTiming[] = [];
  private readonly startedAt = Date.now();
  private target: Target | undefined;
  private releaseChain: (() => Promise<void>) | undefined;
  /** The store check's hashing of the chain (started with the transfer, finished whenever it finishes). */
  private checking: Promise<unknown> | undefined;

  constructor(
    private readonly service: Service,
    private readonly options: RestoreOptions,
    private readonly only: readonly TableName[] | undefined,
  ) {
    this.log = options.log ?? (() => undefined);
  }

  async steps(): Promise<Restored> {
    const located = await this.locate();
    const t = (this.target = await this.step("provision", () => (this.options.provider ?? providerFor(this.service)).create(this.service.name)));
    const tableReplay = await this.step("transfer", (record) => this.transfer(record, t, located));
    await this.releaseAfterCheck();
    await this.prepare(t, located);
    const server = await this.step("start", () => this.start(t, located));
    await this.loadAndReplay(t, server, located, tableReplay);
    return this.restored(t, server, located);
  }

  /** Stops what a failed restore started: the store check's reading, the in-use mark, the target. */
  async abandon(): Promise<void> {
    await this.checking?.catch(() => undefined);
    await this.releaseChain?.();
    await this.target?.destroy();
  }

  private async step<T>(name: RestoreStepName, body: (record: Partial<StepTiming>) => Promise<T>): Promise<T> {
    const { service, options } = this;
    const runStep = options.runStep ?? ((_step, run) => run());
    const started = performance.now();
    const record: Partial<StepTiming> = {};
    const progress = (phase: RestoreProgress["phase"]) =>
      options.onProgress?.({ service: service.name, step: name, phase, elapsedMs: performance.now() - started, bytes: record.bytes, storedBytes: record.storedBytes });
    this.log(`${service.name}: ${name}…`);
    progress("start");
    const heartbeat = setInterval(() => progress("running"), options.progressIntervalMs ?? 10_000);
    // The heartbeat must never keep a process alive on its own.
    heartbeat.unref();
    try {
      const result = await runStep(name, () => body(record));
      const durationMs = performance.now() - started;
      this.timings.push({ step: name, durationMs, ...record });
      this.log(`${service.name}: ${name} done in ${(durationMs / 1000).toFixed(1)}s`);
      progress("done");
      return result;
    } catch (error) {
      progress("failed");
      throw new RestoreStepError(service.name, name, performance.now() - started, error);
    } finally {
      clearInterval(heartbeat);
    }
  }

  /** The chain and the binlogs to replay; tables alone refused before anything is copied where their files cannot be picked. */
  private async locate(): Promise<Located> {
    const { service, options, only } = this;
    const located = await this.step("locate", () => locateRestore(service, options.to, options.backup));
    const refused = only && partialRefusal(located.chain, only);
    if (refused) throw new PartialRestoreRefused(refused);
    const definitions = only && definitionsNaming(located.backup.dataDir, only);
    // Retention (a backup job's) keeps these backups until they are copied to the target.
    this.releaseChain = markInUse(located.chain.map((l) => l.dir), `${options.to ? "point-in-time " : ""}restore of ${service.name}`);
    // The tool that wrote the backup restores it, whatever services.yaml says now.
    const tool = backupTool(located.backup.meta.tool, service.backup.toolchain, located.manifest.server.flavor);
    return { ...located, tool, incrementals: [], definitions: definitions || undefined };
  }

  /**
   * A physical chain's full goes straight into the datadir, where it is prepared and the server then starts: the data is
   * copied once (no --copy-back or --move-back), a stream unpacked there in one pass. Each incremental gets a directory
   * of its own; a dump goes to staging. Tables alone: their binlog events first (refused before the data is copied where
   * they cannot be replayed alone), then only their files.
   */
  private async transfer(record: Partial<StepTiming>, t: Target, located: Located): Promise<TableReplay | undefined> {
    const { service, options, only } = this;
    const { chain, backup, tool, replay, definitions } = located;
    located.incrementals = chain.slice(1).map((link, i) => ({ link, dir: `${t.workDir}/incremental-${i + 1}-${link.id}` }));
    const keyFile = service.backup.encrypt?.keyFile;
    const binlogDir = `${t.workDir}/binlogs`;
    const physical = tool.kind === "physical" ? tool : undefined;
    const links = [{ link: chain[0] ?? backup, dir: tool.kind === "physical" ? t.datadir : t.stagingDir }, ...located.incrementals];
    let done = { bytes: 0, storedBytes: 0 };
    let tableReplay: TableReplay | undefined;
    // Before a byte is copied: the whole chain unpacked must fit (tables alone take a fraction of it: not checked).
    if (!only) await checkRoom(service, t, chain);
    // A stream is hashed by its transfer as it is read; everything else of the chain alongside the copy.
    const check = only ? undefined : options.storeCheck;
    this.checking = check?.alongside(chain, (link) => (link.meta.format === "stream" && link.meta.dataFile ? [link.meta.dataFile] : []));
    if (replay && only && definitions) {
      const files = await replayFilesDir(located, keyFile);
      const filtered = scratchBeside(files.dir);
      try {
        tableReplay = filterBinlogs({ files: replay.files.map((name) => ({ name, path: `${files.dir}/${name}` })), plan: replay, tables: only, ...definitions }, filtered.dir);
        this.log(`${service.name}: binlog events for ${only.map(tableLabel).join(", ")}: ${tableReplay.kept} kept, ${tableReplay.dropped} of other tables dropped`);
        done.bytes += await t.putDirectory(filtered.dir, binlogDir);
      } finally {
        await filtered.remove();
        await files.remove();
      }
    }
    for (const { link, dir } of links) {
      // Tables alone: the files they and the server need, hard-linked into a directory copied as the whole one is.
      const selection = only ? selectFiles(link, tableFiles(link.dataDir, only)) : undefined;
      try {
        const moved = await transferLink(t, selection ? { ...link, dataDir: selection.dir } : link, dir, physical, {
          keyFile,
          timeoutMs: service.restore.timeout,
          onProgress: (p) => {
            record.bytes = done.bytes + p.bytes;
            if (p.storedBytes !== undefined) record.storedBytes = done.storedBytes + p.storedBytes;
          },
        }).catch((error: unknown) => {
          if (link.meta.format === "stream") check?.transferred({ error });
          throw error;
        });
        if (link.meta.format === "stream") check?.transferred({ bytes: moved.storedBytes ?? 0 });
        done = { bytes: done.bytes + moved.bytes, storedBytes: done.storedBytes + (moved.storedBytes ?? 0) };
      } finally {
        await selection?.remove();
      }
      record.bytes = done.bytes;
      if (done.storedBytes > 0) record.storedBytes = done.storedBytes;
    }
    if (replay && !only) {
      const files = await replayFilesDir(located, keyFile);
      try {
        record.bytes = (record.bytes ?? 0) + (await t.putDirectory(files.dir, binlogDir));
      } finally {
        await files.remove();
      }
    }
    return tableReplay;
  }

  /**
   * The store check goes on beside prepare, start and verify (the store test waits for it), not inside the transfer: a
   * warm copy of 1.6 GB takes 1.6 s, SHA-256 of it 1.3 s a core, and verify reads every table for longer (with the check
   * 1.03× without: bench --only store). The backups stay marked in use until it has read them.
   */
  private async releaseAfterCheck(): Promise<void> {
    const release = this.releaseChain;
    this.releaseChain = undefined;
    // Without a store check the chain is let go now, as the transfer ends.
    if (!this.checking) return release?.();
    void this.checking.catch(() => undefined).finally(() => release?.());
  }

  /** mariadb-backup --prepare of the full, then of each incremental in turn; a dump's empty datadir; a clone's nothing. */
  private async prepare(t: Target, { tool, backup, incrementals }: Located): Promise<void> {
    const timeoutMs = this.service.restore.timeout;
    if (tool.kind === "logical") {
      await this.step("prepare", async (record) => {
        const c = tool.initializeCommand(t.datadir);
        record.command = describeCommand(c.file, c.args);
        await t.exec(c.file, c.args, { timeoutMs });
      });
      return;
    }
    // A clone is consistent as written: nothing to prepare.
    const prepare = tool.prepareCommand?.bind(tool);
    if (prepare) {
      await this.step("prepare", async (record) => {
        const c = prepare(t.datadir, { more: incrementals.length > 0 });
        record.command = describeCommand(c.file, c.args);
        await t.exec(c.file, c.args, { timeoutMs }).catch((error: unknown) => explainAriaFailure(t, tool.flavor, error));
      });
    }
    for (const [i, inc] of incrementals.entries()) {
      if (!prepare) throw new Error(`${tool.name} takes no incrementals, but the chain of ${backup.id} has ${incrementals.length}`);
      await this.step("apply-incremental", async (record) => {
        const c = prepare(t.datadir, { incrementalDir: inc.dir, more: i < incrementals.length - 1 });
        record.command = describeCommand(c.file, c.args);
        await t.exec(c.file, c.args, { timeoutMs }).catch((error: unknown) => explainAriaFailure(t, tool.flavor, error));
      });
    }
  }

  /**
   * The server, with the service's settings: its own option file, or the source's values recorded at baseline time
   * (backup-my.cnf: in the store for a directory backup, on the target once a stream is unpacked).
   */
  private async start(t: Target, { chain, backup, manifest, tool }: Located): Promise<StartedServer> {
    const full = chain[0] ?? backup;
    const myCnf =
      full.meta.format === "stream"
        ? parseBackupMyCnf((await t.exec("cat", [`${t.datadir}/backup-my.cnf`], { timeoutMs: 60_000 }).catch(() => ({ stdout: "" }))).stdout)
        : readBackupMyCnf(full.dataDir);
    const settings = startupOptions(manifest.serverChecks?.server as Record<string, string> | undefined, myCnf);
    return t
      .startServer(tool.flavor.server, {
        settings,
        defaultsFile: this.service.restore.optionsFile,
        extraArgs: [...tool.flavor.server.gtidArgs(backup.meta.position?.gtid ?? manifest.position?.gtid ?? ""), ...(this.options.serverArgs ?? [])],
      })
      .catch((error: unknown) => nameTablespaces(t, manifest, error));
  }

  /** A dump's SQL loaded, then the binlogs replayed from the backup's position to the baseline's (or the point asked for). */
  private async loadAndReplay(t: Target, server: StartedServer, { tool, manifest, replay }: Located, tableReplay: TableReplay | undefined): Promise<void> {
    const { service, only } = this;
    // The client option file of the verifier account the server was started with (on the restore host).
    const clientOptionFile = (): string => {
      if (!server.clientOptionFile) throw new Error(`the restored server on ${t.description} has no client option file for its verifier account`);
      return server.clientOptionFile;
    };
    /** A client step on the restored server (load, replay): run, and on failure say what the server said and where. */
    const onServer = (file: string, args: string[]) =>
      t
        .exec(file, args, { timeoutMs: service.restore.timeout })
        .catch((error: unknown) => withServerErrors(server, error))
        .catch((error: unknown) => nameTablespaces(t, manifest, error));
    if (tool.kind === "logical") {
      await this.step("load", async (record) => {
        const c = tool.loadCommand(t.stagingDir, clientOptionFile());
        record.command = c.args.at(-1);
        await onServer(c.file, c.args);
      });
    }
    await this.step("replay", async (record) => {
      if (!replay) return;
      if (only) await refuseLinks(server, only, tableReplay);
      // Tables alone: their rewritten files, each replayed whole (the plan's range is already cut out of them).
      const plan = only && tableReplay ? { files: tableReplay.files, startPosition: 4 } : replay;
      const script = replayScript(plan, `${t.workDir}/binlogs`, clientOptionFile(), tool.flavor);
      record.command = script.replace(/^set -o pipefail; /, "");
      await onServer("bash", ["-c", script]);
    });
  }

  private async restored(t: Target, server: StartedServer, located: Located): Promise<Restored> {
    const { service, options, only } = this;
    const { backup, chain, manifest, tool } = located;
    const db = await server.connect({ poolSize: options.poolSize ?? service.verify.concurrency });
    let destroyed: Promise<void> | undefined;
    return {
      service: service.name,
      backup,
      chain,
      manifest,
      ...(options.to ? { to: options.to } : {}),
      ...(only ? { only } : {}),
      rpoSeconds: Math.max(0, Math.round((this.startedAt - located.restorable.at.getTime()) / 1000)),
      restorable: located.restorable,
      target: t,
      server,
      db,
      serverContext: {
        digestKey: readDigestKey(backup.dir),
        ignoreAccounts: server.verifier ? [server.verifier] : [],
        logical: tool.kind === "logical",
      },
      steps: this.timings,
      destroy: () => (destroyed ??= db.close().catch(() => undefined).then(() => t.destroy())),
    };
  }
}

/** The setting that chose where a restore lands, by provider: what the room check's message tells the DBA to change. */
const WORKDIR_SETTING = { local: "restore.workDir", ssh: "restore.ssh.workDir", command: "the workDir the restore.command.create hook prints" } as const;

/**
 * The chain's unpacked size (backup.json `bytes`: a directory backup's data, a stream's plain size) against the free
 * space of the target's workDir, before anything is copied.
 */
async function checkRoom(service: Service, t: Target, chain: readonly StoredBackup[]): Promise<void> {
  const needed = chain.reduce((n, link) => n + link.meta.bytes, 0);
  const free = await freeBytesOn(t);
  if (needed <= free) return;
  const parent = t.workDir.replace(/\/[^/]+\/?$/, "") || "/";
  const what = `the restore of ${chain.map((l) => l.id).join(" + ")} (its unpacked size, from backup.json)`;
  throw new NoRoomError(needed, free, t.thisHost ? parent : `${parent} on ${t.description}`, WORKDIR_SETTING[service.restore.provider], what);
}

/**
 * Before the tables alone are rolled forward, what the binlog does not show and the restored server does: a foreign key
 * between a restored table and one that is not (InnoDB's cascades are not logged: the whole restore would apply them),
 * and a stored function that DML in statement format calls (what it reads and writes is not logged). Throws
 * PartialRestoreRefused.
 */
async function refuseLinks(server: StartedServer, only: readonly TableName[], replay: TableReplay | undefined): Promise<void> {
  const db = await server.connect({ poolSize: 1 });
  try {
    const restored = new Set(only.map((o) => `${o.database}/${o.table}`.toLowerCase()));
    for (const { id, child, parent } of await innodbForeignKeys(db)) {
      if (restored.has(child.toLowerCase()) !== restored.has(parent.toLowerCase())) {
        throw new PartialRestoreRefused(`foreign key ${id.replace("/", ".")} links ${child.replace("/", ".")} to ${parent.replace("/", ".")}: its cascades are not in the binlog; restore both tables`);
      }
    }
    if (!replay?.calls.length) return;
    const called = (await storedFunctions(db)).find((f) => replay.calls.includes(f.name));
    if (called) throw new PartialRestoreRefused(`DML in statement format calls the stored function ${called.qualified}: what it reads and writes is not in the binlog`);
  } finally {
    await db.close();
  }
}

/**
 * A client step (load, replay) that failed because the restored server failed under it ("Lost connection to MySQL
 * server during query": a damaged page it read, a crash): the server's own error lines say what, and where, so they go
 * into the step's message. Always rethrows.
 */
async function withServerErrors(server: StartedServer, error: unknown): Promise<never> {
  if (!(error instanceof CommandError)) throw error;
  const errors = server
    .errorLogTail(200)
    .split("\n")
    .filter((l) => /\[ERROR\]|\[FATAL\]|\bcorrupt/i.test(l))
    .slice(-12);
  if (errors.length === 0) throw error;
  throw new CommandError(
    error.command,
    error.exitCode,
    error.signal,
    error.timedOut,
    `${error.stderrTail}\nthe restored server's error log:\n${errors.join("\n")}`,
    error.durationMs,
  );
}

/**
 * InnoDB names a damaged or missing tablespace by its number only ("page [page id: space=6, page number=5]", "Could not
 * find any file associated with the tablespace ID: 6"). Each .ibd file of the restored datadir carries its number in
 * its first page (FIL header, offset 34): read there, the message names the file, and for a number no file holds, the
 * baseline's tables that have no file. Always rethrows.
 */
async function nameTablespaces(t: Target, manifest: Manifest, error: unknown): Promise<never> {
  const text = error instanceof CommandError ? error.stderrTail : error instanceof Error ? error.message : "";
  const ids = [...new Set([...text.matchAll(/(?:space=|tablespace ID: )(\d+)/g)].map((m) => Number(m[1])))];
  if (ids.length === 0 || !(error instanceof Error)) throw error;
  const listing = await t
    .exec("sh", ["-c", `cd ${shellQuote(t.datadir)} && find . -name '*.ibd' -exec sh -c 'echo "$(od -An -tu1 -j34 -N4 "$1") $1"' _ {} \\;`], { timeoutMs: 120_000 })
    .catch(() => undefined);
  const files = new Map<number, string>();
  for (const line of (listing?.stdout ?? "").split("\n")) {
    const m = /^\s*(\d+)\s+(\d+)\s+(\d+)\s+(\d+)\s+\.\/(.+)$/.exec(line);
    if (m) files.set(((Number(m[1]) << 24) >>> 0) + (Number(m[2]) << 16) + (Number(m[3]) << 8) + Number(m[4]), m[5] as string);
  }
  const present = new Set([...files.values()].map((f) => f.replace(/(#p#.*)?\.ibd$/i, "")));
  const withoutFile = manifest.databases
    .filter((d) => !d.system)
    .flatMap((d) => d.tables.filter((tb) => tb.type === "BASE TABLE" && tb.engine === "InnoDB" && /^\w+$/.test(d.name + tb.name)).map((tb) => `${d.name}/${tb.name}`))
    .filter((name) => !present.has(name));
  const named = ids.map((id) =>
    files.has(id)
      ? `tablespace ${id} is ${files.get(id)}`
      : `no file of the restored datadir holds tablespace ${id}${withoutFile.length ? `; tables of the baseline with no .ibd file: ${withoutFile.map((n) => n.replace("/", ".")).join(", ")}` : ""}`,
  );
  const note = `\n${named.join("\n")}`;
  if (error instanceof CommandError) {
    throw new CommandError(error.command, error.exitCode, error.signal, error.timedOut, `${error.stderrTail}${note}`, error.durationMs);
  }
  error.message += note;
  throw error;
}

/**
 * mariadb-backup's Aria recovery fails without naming the table ("Got error 176 when executing record …"): aria_chk on
 * the prepared copy names it, so the message says which table of the backup is damaged. Always rethrows.
 */
async function explainAriaFailure(t: Target, flavor: Flavor, error: unknown): Promise<never> {
  if (!flavor.ariaCheck || !(error instanceof CommandError) || !/Aria (recovery|log apply) failed/i.test(error.stderrTail)) throw error;
  // The service's toolchain's aria_chk where it names one (MariaDB 11.8's, not the host's 10.11).
  const check = await t
    .exec("sh", ["-c", `cd ${shellQuote(t.datadir)} && ${shellQuote(flavor.ariaCheck)} --check --silent */*.MAI 2>&1; true`], { timeoutMs: 120_000 })
    .catch(() => undefined);
  const damaged = [...new Set([...(check?.stdout ?? "").matchAll(/Aria table '([^']+)\.MAI' is corrupted/g)].map((m) => (m[1] as string).replace("/", ".")))];
  if (damaged.length === 0) throw error;
  throw new CommandError(
    error.command,
    error.exitCode,
    error.signal,
    error.timedOut,
    `${error.stderrTail}\n${flavor.ariaCheck} on the backup's copy, after the failed recovery, finds damaged: ${damaged.join(", ")} (a table the failed recovery never reached can show as damaged too; take a new backup and CHECK TABLE these on the source)`,
    error.durationMs,
  );
}
