// The backup job: baseline and backup (full, or incremental on the chain's newest link) of one service, written to
// the store as one complete unit under the service's lock, then retention.
import { randomBytes } from "node:crypto";
import { existsSync, mkdirSync, readdirSync, rmSync } from "node:fs";
import { join, relative, resolve } from "node:path";
import { captureBaseline } from "../baseline/capture.ts";
import { checkOptions } from "../checks/options.ts";
import type { Manifest } from "../store/manifest.ts";
import { planReplay } from "../binlog/replay.ts";
import { sweepBeforeRun } from "../base/sweep.ts";
import { OWNER_FILE, recordOwner } from "../base/owner.ts";
import { freeBytesHere, NoRoomError } from "../hosts/room.ts";
import type { Service } from "../config/schema.ts";
import type { Db } from "../db/connection.ts";
import { listDatabases } from "../db/introspect.ts";
import { baselineQueries } from "../queries/stage.ts";
import { replicaStatus } from "../db/replication.ts";
import { replicationSyntax } from "../server/flavor.ts";
import { runCommand } from "../base/command.ts";
import { resolveChain } from "../store/chain.ts";
import { acquireLock } from "../store/lock.ts";
import { nextBackupKind, type BackupDecision } from "./policy.ts";
import { applyRetention, type RetentionResult } from "../store/retention.ts";
import { openSource, sourceTool } from "./source.ts";
import type { BackupTool } from "./tool.ts";
import { beginHold, describeHold } from "./replicaHold.ts";
import { CHECKSUMS_FILE, filesBelow, writeChecksums } from "../store/checksums.ts";
import { encodeScript, encodingOf, isPlain, storedName, type Encoding } from "../store/encoding.ts";
import { sealFile } from "../store/plainCopies.ts";
import { hashFile, writeStored, type StoredFile } from "../store/stored.ts";
import {
  BACKUP_META_FILE,
  BINLOG_DIR,
  DATA_DIR,
  MANIFEST_FILE,
  TOOL_INFO_DIR,
  VERIFIED_FILE,
  type BackupListing,
  type BackupMeta,
  type ReplicaHold,
  type StoredBackup,
  backupLockPath,
  writeDigestKey,
  describeEncoding,
  directorySize,
  listBackups,
  newBackupId,
  serviceDir,
  writeJsonAtomic,
} from "../store/layout.ts";

export interface BackupResult {
  meta: BackupMeta;
  manifest: Manifest;
  dir: string;
  /** Why this backup is a full or an incremental one. */
  decision: BackupDecision;
  retention: RetentionResult;
}

type Log = (line: string) => void;

/** Stop a replica's SQL thread and wait until it has stopped; returns where it stands in the primary's binlog. */
async function pauseReplica(db: Db, log: Log): Promise<NonNullable<Manifest["replication"]>> {
  const syntax = await replicationSyntax(db);
  if (!(await replicaStatus(db))) throw new Error(`backup.consistency is pausedReplica but ${db.description} is not a replica (${syntax.showStatus} is empty)`);
  log("pausing the replica's SQL thread");
  await db.query(syntax.stopSqlThread);
  const deadline = Date.now() + 60_000;
  for (;;) {
    const now = await replicaStatus(db);
    if (now?.sqlRunning === "No") {
      const [gtid] = await db.query<{ pos: string | null }>(`SELECT @@GLOBAL.${syntax.executedGtids} AS pos`);
      return { masterLogFile: now.execFile, execMasterLogPos: now.execPosition, gtidSlavePos: String(gtid?.pos ?? "").replace(/\s+/g, "") };
    }
    if (Date.now() > deadline) throw new Error("the replica's SQL thread did not stop within 60 s");
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Copy the source's binlogs from `first` to its current last one into `dir` (mariadb-binlog --raw over the client protocol). */
async function copyBinlogs(tool: BackupTool, optionFile: string, first: string, dir: string, timeoutMs: number): Promise<string[]> {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  await runCommand(
    tool.flavor.binlog,
    [`--defaults-extra-file=${optionFile}`, "--read-from-remote-server", "--raw", "--to-last-log", `--result-file=${dir}/`, first],
    { timeoutMs },
  );
  return readdirSync(dir).sort();
}

/** Store each plain binlog copied into `dir` encoded (compressed, encrypted), in place of the plain file. */
async function sealBinlogs(dir: string, files: readonly string[], encoding: Encoding, backupDir: string): Promise<StoredFile[]> {
  const encode = encodeScript(encoding);
  const stored: StoredFile[] = [];
  for (const file of files) {
    const sealed = await sealFile(dir, file, encoding, encode);
    rmSync(join(dir, file));
    stored.push({ ...sealed, path: relative(backupDir, join(dir, sealed.path)) });
  }
  return stored;
}

/**
 * checksums.json for a finished backup: every file in its directory but backup.json (written after, naming this
 * list's own SHA-256) and verified.json (written by a later restore). Files hashed while they were written keep that
 * hash; the tool's own files (a directory backup) are read once here.
 */
async function recordChecksums(dir: string, hashedWhileWritten: readonly StoredFile[]): Promise<string> {
  const known = new Map(hashedWhileWritten.map((f) => [f.path, f]));
  const entries: StoredFile[] = [];
  for (const file of filesBelow(dir)) {
    if (file === BACKUP_META_FILE || file === VERIFIED_FILE || file === CHECKSUMS_FILE || file.startsWith(".")) continue;
    entries.push(known.get(file) ?? { path: file, ...(await hashFile(join(dir, file))) });
  }
  writeChecksums(dir, entries);
  return (await hashFile(join(dir, CHECKSUMS_FILE))).sha256;
}

/** A line every 10 s while a stream is written, so a long backup is never silent. */
function streamProgress(log: Log, what: string): (progress: { stored: number; raw?: number }) => void {
  let last = performance.now();
  return ({ stored, raw }) => {
    const now = performance.now();
    if (now - last < 10_000) return;
    last = now;
    log(`${what}: ${(stored / 1e6).toFixed(0)} MB stored so far${raw === undefined ? "" : ` (${(raw / 1e6).toFixed(0)} MB streamed)`}`);
  };
}

/** The newest chain, to continue or not; empty (with the reason logged) when there is none or it is broken. */
function newestChain(listing: BackupListing, log: Log): StoredBackup[] {
  const newest = listing.complete.at(-1);
  if (!newest) return [];
  try {
    return resolveChain(listing.complete, newest.id, listing.incomplete);
  } catch (error) {
    log(`not continuing the newest chain: ${(error as Error).message}`);
    return [];
  }
}

/** A new backup id, after every id in the store: ids sort by time, and two jobs in one second must not share one. */
async function freshBackupId(store: string, service: string, listing: BackupListing): Promise<string> {
  const ids = [...listing.complete.map((b) => b.id), ...listing.incomplete.map((b) => b.id)];
  const newest = ids.filter((id) => /^\d{4}-\d\d-\d\dT\d\d-\d\d-\d\dZ$/.test(id)).sort().at(-1) ?? "";
  // Waiting out a second is fine; waiting for a backup dated hours ahead is a clock problem to report.
  if (newest > newBackupId(new Date(Date.now() + 5000))) {
    throw new Error(`backup ${newest} of ${service} is dated in the future (now: ${newBackupId()}): check this host's clock before taking another`);
  }
  for (;;) {
    const id = newBackupId();
    if (id > newest && !existsSync(join(serviceDir(store, service), id))) return id;
    await new Promise((r) => setTimeout(r, 250));
  }
}

/**
 * The room the next backup needs in the store, estimated from the newest complete backup of the same kind and format
 * (what it took in the store), against the free space there. Without such a backup (a service's first) it is not
 * checked, and the job says so: the datadir's size counts its redo logs and binlogs, far more than a backup takes.
 */
function checkStoreRoom(listing: BackupListing, kind: "full" | "incremental", format: string, dir: string, service: string, log: Log): void {
  const previous = [...listing.complete].reverse().find((b) => b.meta.kind === kind && b.meta.format === format);
  if (!previous) {
    log(`room in the store not checked: no earlier ${kind} ${format} backup of ${service} to estimate from`);
    return;
  }
  const needed = previous.meta.storedBytes ?? previous.meta.bytes;
  const free = freeBytesHere(dir);
  if (needed > free) throw new NoRoomError(needed, free, dir, "backup.store", `a ${kind} backup of ${service} (estimated: the previous ${kind}, ${previous.id}, took as much)`);
}

/**
 * Baseline + backup of one service, consistent by the service's `backup.consistency`:
 * - quiescent: baseline then backup; their binlog positions must be equal, or the job fails;
 * - snapshot: backup (position B), then the baseline inside a consistent snapshot (position P ≥ B), and the binlogs
 *   from B to P are stored beside the backup so the restore can replay to P;
 * - pausedReplica: the replica's SQL thread is stopped for baseline and backup (P = B), and restarted whatever happens.
 * The backup is a full one or an incremental on the newest link, as `backup.policy` decides (nextBackupKind). The whole
 * job holds `<store>/<service>/.backup.lock`; after it succeeds, chains beyond `backup.keepChains` are deleted.
 */
export async function runBackupJob(service: Service, log: Log = () => undefined): Promise<BackupResult> {
  const store = resolve(service.backup.store);
  // A backup host may never restore: its killed jobs' temp dirs (a client option file with the password) go here.
  await sweepBeforeRun([service], log);
  const release = await acquireLock(backupLockPath(store, service.name), `backup of ${service.name}`, log);
  try {
    const job = await BackupJob.open(service, store, log);
    try {
      return await job.steps();
    } finally {
      await job.close();
    }
  } finally {
    await release();
  }
}

/** What the copy made: when, the position it holds, and a stream's file when it was one. */
interface Taken {
  startedAt: Date;
  finishedAt: Date;
  position: Manifest["position"];
}

/**
 * One backup job, under the service's backup lock: its directory made and owned first (a job killed at any point,
 * baseline, copy or stream encoding, leaves a directory whose owner record tells the next job's sweep and `restoretest
 * sweep` that it is dead), then as a list of steps: the room checked, baseline and copy in the consistency mode's
 * order, the files recorded, backup.json last, retention.
 */
class BackupJob {
  private finished = false;
  private streamed: { file: string; rawBytes: number; bytes: number } | undefined;
  /** Files hashed as they were written (the stream, sealed binlogs): checksums.json takes these, not a second read. */
  private readonly hashedWhileWritten: StoredFile[] = [];
  /** Password hashes reach the manifest only as HMACs under this backup's own key (store.ts writeDigestKey). */
  private readonly key = randomBytes(32);
  private readonly encoding: Encoding;
  private readonly dataDir: string;

  private constructor(
    private readonly service: Service,
    private readonly store: string,
    private readonly log: Log,
    private readonly listing: BackupListing,
    private readonly id: string,
    private readonly dir: string,
    private readonly source: Awaited<ReturnType<typeof openSource>>,
    private readonly tool: BackupTool,
    private readonly decision: BackupDecision,
    private readonly base: StoredBackup | undefined,
  ) {
    this.encoding = encodingOf(service.backup);
    this.dataDir = join(dir, DATA_DIR);
  }

  /** The job's directory (made and owned), its source and tool, and whether it takes a full or an incremental. */
  static async open(service: Service, store: string, log: Log): Promise<BackupJob> {
    const listing = listBackups(store, service.name);
    const chain = newestChain(listing, log);
    const id = await freshBackupId(store, service.name, listing);
    const dir = join(serviceDir(store, service.name), id);
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    recordOwner(dir);
    let source: Awaited<ReturnType<typeof openSource>> | undefined;
    try {
      source = await openSource(service, log);
      const tool = await sourceTool(service, source.db);
      let decision = nextBackupKind(
        chain.map((l) => l.meta),
        { ...service.backup, tool: { name: tool.name, incremental: tool.incremental } },
        new Date(),
      );
      if (decision.kind === "incremental" && source.fresh) decision = { kind: "full", reason: "the sandbox source was created by this job" };
      const format = service.backup.format;
      if (decision.kind === "incremental" && chain.at(-1)?.meta.format !== format) {
        decision = { kind: "full", reason: `backup.format is now ${format}, and the chain's newest link is a ${chain.at(-1)?.meta.format}` };
      }
      log(`taking a ${decision.kind} backup of ${service.name}: ${decision.reason}`);
      return new BackupJob(service, store, log, listing, id, dir, source, tool, decision, decision.kind === "incremental" ? chain.at(-1) : undefined);
    } catch (error) {
      await source?.close();
      rmSync(dir, { recursive: true, force: true });
      throw error;
    }
  }

  async steps(): Promise<BackupResult> {
    const { service, decision } = this;
    // Before the baseline and the copy: a backup that cannot fit fails now, not when the disk fills.
    checkStoreRoom(this.listing, decision.kind, service.backup.format, serviceDir(this.store, service.name), service.name, this.log);
    const { manifest, taken, binlogs, hold } = service.backup.consistency === "snapshot" ? await this.snapshot() : await this.quiescent();
    const meta = await this.record(manifest, taken, binlogs, hold);
    const retention = applyRetention(this.store, service.name, service.backup.keepChains, this.log);
    return { meta, manifest, dir: this.dir, decision, retention };
  }

  /** An unfinished job's directory removed; the source closed. */
  async close(): Promise<void> {
    if (!this.finished) rmSync(this.dir, { recursive: true, force: true });
    await this.source.close();
  }

  /** `snapshot`: the copy first, then the baseline in snapshots at a later position, and the binlogs between the two. */
  private async snapshot(): Promise<{ manifest: Manifest; taken: Taken; binlogs: string[]; hold: ReplicaHold }> {
    const { service, source, tool, dir } = this;
    const taken = await this.copy();
    await source.applyChanges();
    const timer = await beginHold(source.db, "snapshot");
    const manifest = await this.baseline("snapshot");
    const hold = await timer.end();
    if (!taken.position || !manifest.position) {
      throw new Error(`backup.consistency snapshot needs binary logging on the source (log_bin is off on ${source.db.description})`);
    }
    const binlogs = await copyBinlogs(tool, source.optionFile, taken.position.file, join(dir, BINLOG_DIR), service.backup.timeout);
    // Fails now, naming the gap, rather than at restore time.
    planReplay(taken.position, manifest.position, binlogs);
    if (service.backup.format === "stream" && !isPlain(this.encoding)) this.hashedWhileWritten.push(...(await sealBinlogs(join(dir, BINLOG_DIR), binlogs, this.encoding, dir)));
    return { manifest, taken, binlogs, hold };
  }

  /** `quiescent` and `pausedReplica`: baseline and copy at one position, the replica's SQL thread stopped for both. */
  private async quiescent(): Promise<{ manifest: Manifest; taken: Taken; binlogs: string[]; hold: ReplicaHold }> {
    const { source, log } = this;
    const paused = this.service.backup.consistency === "pausedReplica";
    await source.applyChanges();
    const timer = paused ? await beginHold(source.db, "pausedReplica") : undefined;
    const replication = paused ? await pauseReplica(source.db, log) : undefined;
    let manifest: Manifest;
    let taken: Taken;
    let hold: ReplicaHold;
    try {
      manifest = await this.baseline("quiescent");
      taken = await this.copy();
    } finally {
      // Quiescent holds nothing: the source is not written to by contract.
      hold = timer ? await timer.end() : { consistency: "quiescent", heldMs: 0, historyBefore: null, historyAfter: null };
      if (paused) {
        await source.db.query((await replicationSyntax(source.db)).startSqlThread);
        log("replica's SQL thread started again");
      }
    }
    const p = manifest.position;
    const b = taken.position;
    if (p && b && (p.file !== b.file || p.position !== b.position)) {
      throw new Error(
        `baseline position ${p.file}:${p.position} differs from the backup's ${b.file}:${b.position}: ` +
          `the source was written to between baseline and backup (use backup.consistency: snapshot)`,
      );
    }
    if (replication) manifest = { ...manifest, consistency: "pausedReplica", replication };
    return { manifest, taken, binlogs: [], hold };
  }

  private baseline(mode: "quiescent" | "snapshot"): Promise<Manifest> {
    const { service, source, tool, key } = this;
    this.log(`capturing baseline of ${service.name} (${mode}: ${service.verify.checks.join(", ")})`);
    return captureBaseline(source.db, {
      service: service.name,
      databases: service.databases,
      checks: service.verify.checks,
      options: checkOptions(service),
      concurrency: service.verify.concurrency,
      mode,
      server: { digestKey: key, logical: tool.kind === "logical" },
      datadir: source.datadir,
      logical: tool.kind === "logical",
      ...(service.verify.queries.length > 0 ? { queries: { list: baselineQueries(service), digestKey: key } } : {}),
    });
  }

  /** The tool's copy: a stream into one stored file (encoded as it is written), or a directory. */
  private async copy(): Promise<Taken> {
    const { service, source, tool, dir, dataDir, base, log } = this;
    // A dump names what it includes, and a tool's preflight looks at it; a physical backup takes the whole server.
    const databases = tool.kind === "logical" || tool.preflight ? (service.databases ?? (await listDatabases(source.db))) : [];
    await tool.preflight?.(source.db, databases, service.backup.consistency);
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    if (service.backup.format === "stream") return this.copyStream();
    // mariadb-backup creates its target itself; a dump is written into an existing directory.
    if (tool.kind === "logical") mkdirSync(dataDir, { mode: 0o700 });
    const command = tool.backupCommand({
      targetDir: dataDir,
      optionFile: source.optionFile,
      datadir: source.datadir,
      incrementalBaseDir: base?.dataDir,
      databases: tool.kind === "logical" ? databases : undefined,
    });
    log(`backing up with ${tool.name} into ${dataDir}${base ? ` (incremental on ${base.id})` : ""}`);
    const startedAt = new Date();
    await runCommand(command.file, command.args, { timeoutMs: service.backup.timeout });
    return { startedAt, finishedAt: new Date(), position: tool.readPosition(dataDir) };
  }

  private async copyStream(): Promise<Taken> {
    const { service, source, tool, dir, base, log, encoding } = this;
    if (tool.kind !== "physical" || !tool.streamCommand) throw new Error(`backup.format stream needs mariabackup or xtrabackup: ${tool.name} writes a directory`);
    const incrementalLsn = base ? base.meta.checkpoints?.toLsn : undefined;
    if (base && incrementalLsn === undefined) throw new Error(`backup ${base.id} recorded no checkpoints: an incremental cannot be taken on top of it`);
    const infoDir = join(dir, TOOL_INFO_DIR);
    const scratchDir = join(dir, ".scratch");
    mkdirSync(infoDir, { mode: 0o700 });
    const command = tool.streamCommand({ optionFile: source.optionFile, datadir: source.datadir, infoDir, scratchDir, incrementalLsn });
    const file = storedName(`data.${tool.streamFormat ?? "stream"}`, encoding);
    const encode = encodeScript(encoding, { count: true });
    log(`backing up with ${tool.name} as a stream into ${join(dir, file)}${base ? ` (incremental after LSN ${incrementalLsn}, on ${base.id})` : ""}${encode ? ` | ${encode.replace(/ -i \S+/, " -i <keyFile>").replace(" -vv ", " ")}` : ""}`);
    const startedAt = new Date();
    const written = await writeStored({ producer: command, encode, path: join(dir, file), timeoutMs: service.backup.timeout, onProgress: streamProgress(log, `${tool.name} of ${service.name}`) });
    rmSync(scratchDir, { recursive: true, force: true });
    // Without compression the plain size is not counted (it never passes through here): age adds 16 bytes in 64 KiB.
    const rawBytes = written.rawBytes ?? written.bytes;
    this.hashedWhileWritten.push({ path: file, bytes: written.bytes, sha256: written.sha256, rawBytes });
    this.streamed = { file, rawBytes, bytes: written.bytes };
    return { startedAt, finishedAt: new Date(), position: tool.readPosition(infoDir) };
  }

  /** The manifest, the checksums and backup.json (last: its presence marks the backup complete); the owner record gone. */
  private async record(manifest: Manifest, taken: Taken, binlogs: string[], hold: ReplicaHold): Promise<BackupMeta> {
    const { service, tool, dir, dataDir, streamed, encoding, log, id } = this;
    const infoDir = streamed ? join(dir, TOOL_INFO_DIR) : dataDir;
    const checkpoints = tool.kind === "physical" ? tool.readCheckpoints(infoDir) : null;
    if (tool.kind === "physical" && tool.incremental && !checkpoints) throw new Error(`${tool.name} wrote no readable ${(tool.checkpointFiles ?? ["xtrabackup_checkpoints"]).join(" or ")} in ${infoDir}`);
    // A query the source could not answer does not fail the backup; its nightly test is red and says why.
    for (const answer of manifest.queries?.answers ?? []) if (answer.error) log(`query "${answer.name}" got no answer from the source: ${answer.error}`);
    const tables = manifest.databases.reduce((n, d) => n + d.tables.length, 0);
    log(`baseline: ${tables} tables in ${manifest.databases.length} database(s), ${manifest.durationMs} ms`);
    const version = await runCommand(tool.versionCommand().file, tool.versionCommand().args);
    const meta: BackupMeta = {
      version: 1,
      id,
      service: service.name,
      tool: tool.name,
      kind: this.decision.kind,
      base: this.base?.id ?? null,
      checkpoints,
      startedAt: taken.startedAt.toISOString(),
      finishedAt: taken.finishedAt.toISOString(),
      durationMs: taken.finishedAt.getTime() - taken.startedAt.getTime(),
      bytes: streamed ? streamed.rawBytes : directorySize(dataDir),
      position: taken.position,
      binlogs,
      toolVersion: (version.stdout + version.stderr).trim().split("\n")[0] ?? "",
      format: service.backup.format,
      dataFile: streamed?.file ?? null,
      compression: streamed && encoding.compress ? "zstd" : null,
      encrypted: streamed !== undefined && encoding.encrypt !== null,
      storedBytes: streamed ? streamed.bytes : undefined,
      checksums: null,
      replicaHold: hold,
    };
    log(`source held: ${describeHold(hold)}`);
    writeDigestKey(dir, this.key);
    writeJsonAtomic(join(dir, MANIFEST_FILE), manifest);
    meta.checksums = await recordChecksums(dir, this.hashedWhileWritten);
    // backup.json last: its presence is what marks the backup complete.
    writeJsonAtomic(join(dir, BACKUP_META_FILE), meta);
    this.finished = true;
    // Complete: the sweep never judges a directory holding backup.json, and the store keeps no trace of the job.
    rmSync(join(dir, OWNER_FILE), { force: true });
    const stored = meta.storedBytes !== undefined ? ` (${(meta.storedBytes / 1e6).toFixed(1)} MB stored, ${describeEncoding(meta)})` : "";
    log(`${meta.kind} backup ${id} of ${service.name} complete: ${(meta.bytes / 1e6).toFixed(1)} MB${stored} in ${(meta.durationMs / 1000).toFixed(1)} s`);
    return meta;
  }
}

