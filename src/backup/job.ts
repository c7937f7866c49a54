// The backup job: baseline and full physical backup of one service, written to the store as one complete unit.
import { mkdirSync, rmSync } from "node:fs";
import { join, resolve } from "node:path";
import { captureBaseline } from "../baseline/capture.ts";
import type { Manifest } from "../baseline/manifest.ts";
import { tableCheck } from "../checks/index.ts";
import type { Service } from "../config/schema.ts";
import { Db } from "../db/connection.ts";
import { createWorkDir, writeClientOptionFile } from "../hosts/sandbox.ts";
import { applySeed, startSourceSandbox } from "../hosts/sourceSandbox.ts";
import { runCommand } from "../process/command.ts";
import { BACKUP_TOOLS } from "./tool.ts";
import { BACKUP_META_FILE, DATA_DIR, MANIFEST_FILE, type BackupMeta, directorySize, newBackupId, serviceDir, writeJsonAtomic } from "./store.ts";

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
      const db = await sandbox.server.connect({ poolSize: service.verify.concurrency });
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
    poolSize: service.verify.concurrency,
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

/**
 * Baseline + full backup of one service. The source must be quiescent (the demo sandbox, or a paused backup
 * replica): the baseline's position must equal the backup's, or the job fails rather than store a mismatched pair.
 */
export async function runBackupJob(service: Service, log: Log = () => undefined): Promise<BackupResult> {
  const tool = BACKUP_TOOLS[service.backup.tool];
  if (!tool) throw new Error(`unknown backup tool ${service.backup.tool}`);
  const store = resolve(service.backup.store);
  const id = newBackupId();
  const dir = join(serviceDir(store, service.name), id);
  const dataDir = join(dir, DATA_DIR);
  const source = await openSource(service, log);
  let finished = false;
  try {
    log(`capturing baseline of ${service.name} (${service.verify.checks.join(", ")})`);
    const manifest = await captureBaseline(source.db, {
      service: service.name,
      databases: service.databases,
      checks: service.verify.checks.map(tableCheck),
      concurrency: service.verify.concurrency,
    });
    const tables = manifest.databases.reduce((n, d) => n + d.tables.length, 0);
    log(`baseline: ${tables} tables in ${manifest.databases.length} database(s), ${manifest.durationMs} ms`);
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    const startedAt = new Date();
    const command = tool.backupCommand({ targetDir: dataDir, optionFile: source.optionFile, datadir: source.datadir });
    log(`backing up with ${tool.name} into ${dataDir}`);
    await runCommand(command.file, command.args, { timeoutMs: service.backup.timeout });
    const finishedAt = new Date();
    const position = tool.readPosition(dataDir);
    if (manifest.position && position && (manifest.position.file !== position.file || manifest.position.position !== position.position)) {
      throw new Error(
        `baseline position ${manifest.position.file}:${manifest.position.position} differs from the backup's ${position.file}:${position.position}: ` +
          `the source was written to between baseline and backup`,
      );
    }
    const version = await runCommand(tool.versionCommand().file, tool.versionCommand().args);
    const meta: BackupMeta = {
      version: 1,
      id,
      service: service.name,
      tool: tool.name,
      kind: "full",
      startedAt: startedAt.toISOString(),
      finishedAt: finishedAt.toISOString(),
      durationMs: finishedAt.getTime() - startedAt.getTime(),
      bytes: directorySize(dataDir),
      position,
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
