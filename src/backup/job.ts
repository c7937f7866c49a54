// The backup job: baseline and full physical backup of one service, written to the store as one complete unit.
import { mkdirSync, readdirSync, rmSync } from "node:fs";
import { join, resolve } from "node:path";
import { captureBaseline } from "../baseline/capture.ts";
import type { Manifest } from "../baseline/manifest.ts";
import type { CheckOptions } from "../checks/types.ts";
import { planReplay } from "../restore/replay.ts";
import type { Service } from "../config/schema.ts";
import { Db } from "../db/connection.ts";
import { createWorkDir, writeClientOptionFile } from "../hosts/sandbox.ts";
import { applySeed, startSourceSandbox } from "../hosts/sourceSandbox.ts";
import { runCommand } from "../process/command.ts";
import { BACKUP_TOOLS } from "./tool.ts";
import { BACKUP_META_FILE, BINLOG_DIR, DATA_DIR, MANIFEST_FILE, type BackupMeta, directorySize, newBackupId, serviceDir, writeJsonAtomic } from "./store.ts";

export interface BackupResult {
  meta: BackupMeta;
  manifest: Manifest;
  dir: string;
}

type Log = (line: string) => void;

interface SourceAccess {
  db: Db;
  optionFile: string;
  datadir?: string;
  close(): Promise<void>;
}

/** Open the service's source: start and seed a sandbox, or connect to the configured server. */
async function openSource(service: Service, log: Log): Promise<SourceAccess> {
  const source = service.source;
  if ("sandbox" in source) {
    log(`starting sandbox source for ${service.name} and seeding it from ${source.sandbox.seed}`);
    const sandbox = await startSourceSandbox(service.name, service.restore.workDir);
    try {
      await applySeed(sandbox, source.sandbox.seed, service.databases?.[0]);
      const db = await sandbox.server.connect({ poolSize: service.verify.concurrency + 1 });
      return {
        db,
        optionFile: sandbox.optionFile,
        datadir: sandbox.server.datadir,
        async close() {
          await db.close();
          await sandbox.destroy();
        },
      };
    } catch (error) {
      await sandbox.destroy();
      throw error;
    }
  }
  const db = await Db.connect({
    host: source.host,
    port: source.port,
    socketPath: source.socket,
    user: source.user,
    password: source.password,
    poolSize: service.verify.concurrency + 1,
  });
  const work = createWorkDir(`backup-${service.name}`);
  const optionFile = writeClientOptionFile(join(work.path, "client.cnf"), {
    user: source.user,
    password: source.password,
    socket: source.socket,
    host: source.socket ? undefined : source.host,
    port: source.socket ? undefined : source.port,
  });
  return {
    db,
    optionFile,
    datadir: source.datadir,
    async close() {
      await db.close();
      await work.remove();
    },
  };
}

/** Stop a replica's SQL thread and wait until it has stopped; returns where it stands in the primary's binlog. */
async function pauseReplica(db: Db, log: Log): Promise<NonNullable<Manifest["replication"]>> {
  const [status] = await db.query<Record<string, string | number | null>>("SHOW SLAVE STATUS");
  if (!status) throw new Error(`backup.consistency is pausedReplica but ${db.description} is not a replica (SHOW SLAVE STATUS is empty)`);
  log("pausing the replica's SQL thread");
  await db.query("STOP SLAVE SQL_THREAD");
  const deadline = Date.now() + 60_000;
  for (;;) {
    const [now] = await db.query<Record<string, string | number | null>>("SHOW SLAVE STATUS");
    if (now?.Slave_SQL_Running === "No") {
      const [gtid] = await db.query<{ pos: string | null }>("SELECT @@GLOBAL.gtid_slave_pos AS pos");
      return { masterLogFile: String(now.Relay_Master_Log_File), execMasterLogPos: Number(now.Exec_Master_Log_Pos), gtidSlavePos: String(gtid?.pos ?? "") };
    }
    if (Date.now() > deadline) throw new Error("the replica's SQL thread did not stop within 60 s");
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Copy the source's binlogs from `first` to its current last one into `dir` (mariadb-binlog --raw over the client protocol). */
async function copyBinlogs(optionFile: string, first: string, dir: string, timeoutMs: number): Promise<string[]> {
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  await runCommand(
    "mariadb-binlog",
    [`--defaults-extra-file=${optionFile}`, "--read-from-remote-server", "--raw", "--to-last-log", `--result-file=${dir}/`, first],
    { timeoutMs },
  );
  return readdirSync(dir).sort();
}

/**
 * Baseline + full backup of one service, consistent by the service's `backup.consistency`:
 * - quiescent: baseline then backup; their binlog positions must be equal, or the job fails;
 * - snapshot: backup (position B), then the baseline inside a consistent snapshot (position P ≥ B), and the binlogs
 *   from B to P are stored beside the backup so the restore can replay to P;
 * - pausedReplica: the replica's SQL thread is stopped for baseline and backup (P = B), and restarted whatever happens.
 */
export async function runBackupJob(service: Service, log: Log = () => undefined): Promise<BackupResult> {
  const tool = BACKUP_TOOLS[service.backup.tool];
  if (!tool) throw new Error(`unknown backup tool ${service.backup.tool}`);
  const mode = service.backup.consistency;
  const store = resolve(service.backup.store);
  const id = newBackupId();
  const dir = join(serviceDir(store, service.name), id);
  const dataDir = join(dir, DATA_DIR);
  const source = await openSource(service, log);
  let finished = false;
  let replication: Manifest["replication"];
  const baseline = (baselineMode: "quiescent" | "snapshot") => {
    log(`capturing baseline of ${service.name} (${baselineMode}: ${service.verify.checks.join(", ")})`);
    return captureBaseline(source.db, {
      service: service.name,
      databases: service.databases,
      checks: service.verify.checks,
      options: checkOptions(service),
      concurrency: service.verify.concurrency,
      mode: baselineMode,
    });
  };
  const backup = async () => {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    const command = tool.backupCommand({ targetDir: dataDir, optionFile: source.optionFile, datadir: source.datadir });
    log(`backing up with ${tool.name} into ${dataDir}`);
    const startedAt = new Date();
    await runCommand(command.file, command.args, { timeoutMs: service.backup.timeout });
    return { startedAt, finishedAt: new Date(), position: tool.readPosition(dataDir) };
  };
  try {
    let manifest: Manifest;
    let taken: Awaited<ReturnType<typeof backup>>;
    let binlogs: string[] = [];
    if (mode === "snapshot") {
      taken = await backup();
      manifest = await baseline("snapshot");
      if (!taken.position || !manifest.position) {
        throw new Error(`backup.consistency snapshot needs binary logging on the source (log_bin is off on ${source.db.description})`);
      }
      binlogs = await copyBinlogs(source.optionFile, taken.position.file, join(dir, BINLOG_DIR), service.backup.timeout);
      // Fails now, naming the gap, rather than at restore time.
      planReplay(taken.position, manifest.position, binlogs);
    } else {
      if (mode === "pausedReplica") replication = await pauseReplica(source.db, log);
      try {
        manifest = await baseline("quiescent");
        taken = await backup();
      } finally {
        if (mode === "pausedReplica") {
          await source.db.query("START SLAVE SQL_THREAD");
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
    }
    const tables = manifest.databases.reduce((n, d) => n + d.tables.length, 0);
    log(`baseline: ${tables} tables in ${manifest.databases.length} database(s), ${manifest.durationMs} ms`);
    const version = await runCommand(tool.versionCommand().file, tool.versionCommand().args);
    const meta: BackupMeta = {
      version: 1,
      id,
      service: service.name,
      tool: tool.name,
      kind: "full",
      startedAt: taken.startedAt.toISOString(),
      finishedAt: taken.finishedAt.toISOString(),
      durationMs: taken.finishedAt.getTime() - taken.startedAt.getTime(),
      bytes: directorySize(dataDir),
      position: taken.position,
      binlogs,
      toolVersion: (version.stdout + version.stderr).trim().split("\n")[0] ?? "",
    };
    writeJsonAtomic(join(dir, MANIFEST_FILE), manifest);
    // backup.json last: its presence is what marks the backup complete.
    writeJsonAtomic(join(dir, BACKUP_META_FILE), meta);
    finished = true;
    log(`backup ${id} of ${service.name} complete: ${(meta.bytes / 1e6).toFixed(1)} MB in ${(meta.durationMs / 1000).toFixed(1)} s`);
    return { meta, manifest, dir };
  } finally {
    if (!finished) rmSync(dir, { recursive: true, force: true });
    await source.close();
  }
}

export function checkOptions(service: Service): CheckOptions {
  return { chunkMinBytes: service.verify.chunkMinSize, chunkRows: service.verify.chunkRows, extendedCheck: service.verify.extendedCheck };
}
