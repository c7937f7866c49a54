// The backup store's layout: `<store>/<service>/<backup id>/` holding `data/`, `manifest.json`, last `backup.json`, and
// `verified.json` once a restore of it verified green; `<store>/<service>/binlogs/` is the continuous binlog archive.
import { existsSync, lstatSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { z } from "zod";
import { writeFileAtomic } from "../base/partialFile.ts";

export const BACKUP_META_FILE = "backup.json";
export const MANIFEST_FILE = "manifest.json";
export const DATA_DIR = "data";
export const BINLOG_DIR = "binlogs";
export const VERIFIED_FILE = "verified.json";
/** A stream backup's tool information (`--extra-lsndir`): xtrabackup_checkpoints and xtrabackup_info, plain and small. */
export const TOOL_INFO_DIR = "tool-info";
/** A stream backup's data file, before the encoding's suffixes. */
export const STREAM_FILE = "data.stream";
/** `<store>/<service>/binlogs/`: binlogs copied continuously (`restoretest binlogs`), for point-in-time restores. */
export const BINLOG_ARCHIVE_DIR = "binlogs";

const Position = z.strictObject({ file: z.string(), position: z.number().int().nonnegative(), gtid: z.string() });

/** A physical backup's `xtrabackup_checkpoints`: which InnoDB changes (LSN range) its data holds. */
const CheckpointsSchema = z.strictObject({ backupType: z.string(), fromLsn: z.number().int().nonnegative(), toLsn: z.number().int().nonnegative() });

/** How long the backup held its source (src/backup/replicaHold.ts), and InnoDB's history list length before and after. */
const ReplicaHoldSchema = z.strictObject({
  consistency: z.enum(["quiescent", "snapshot", "pausedReplica"]),
  heldMs: z.number().nonnegative(),
  historyBefore: z.number().int().nonnegative().nullable(),
  historyAfter: z.number().int().nonnegative().nullable(),
});
export type ReplicaHold = z.infer<typeof ReplicaHoldSchema>;

/** What a finished backup says about itself; its presence marks the backup complete. */
export const BackupMetaSchema = z.strictObject({
  version: z.literal(1),
  id: z.string(),
  service: z.string(),
  tool: z.string(),
  /** A full backup starts a chain; an incremental holds the changes since its `base`. */
  kind: z.enum(["full", "incremental"]),
  /** The previous link of the chain (the backup an incremental was taken on top of); null for a full. */
  base: z.string().nullable().default(null),
  /** From `xtrabackup_checkpoints` at backup time; null for a logical dump (and backups taken before it was recorded). */
  checkpoints: CheckpointsSchema.nullable().default(null),
  startedAt: z.string(),
  finishedAt: z.string(),
  durationMs: z.number(),
  bytes: z.number().int().nonnegative(),
  /** The binlog position the backup's data is consistent at (from xtrabackup_binlog_info). */
  position: Position.nullable(),
  /** Binlog files copied beside the backup (in `binlogs/`), from the backup's position to the baseline's. */
  binlogs: z.array(z.string()),
  toolVersion: z.string(),
  /** `directory`: the tool's files in `data/`; `stream`: one stream file (`dataFile`), decoded as it is restored. */
  format: z.enum(["directory", "stream"]).default("directory"),
  /** The stream file's name in the backup's directory (`data.mbstream.zst.age`); null for a directory backup. */
  dataFile: z.string().nullable().default(null),
  compression: z.enum(["zstd"]).nullable().default(null),
  encrypted: z.boolean().default(false),
  /** Bytes of the backup's data as stored (compressed, encrypted); `bytes` is the data's own size. */
  storedBytes: z.number().int().nonnegative().optional(),
  /** SHA-256 of checksums.json, which lists every other stored file of the backup; null before checksums were kept. */
  checksums: z.string().nullable().default(null),
  /** The source's hold while the baseline was read; absent in backups taken before it was recorded. */
  replicaHold: ReplicaHoldSchema.optional(),
});
export type BackupMeta = z.infer<typeof BackupMetaSchema>;

export interface StoredBackup {
  id: string;
  dir: string;
  /** A directory backup's data; for a stream backup, `dataFile` holds it (and this directory does not exist). */
  dataDir: string;
  /** A stream backup's stored stream file. */
  dataFile?: string;
  /** Where the tool's information (checkpoints, position) is: `data/` of a directory backup, `tool-info/` of a stream. */
  infoDir: string;
  binlogDir: string;
  manifestPath: string;
  meta: BackupMeta;
  /** A restore of this backup verified green (`verified.json`): retention never deletes the newest such chain. */
  verified: boolean;
}

/** How a backup is stored, for listings: `directory`, `stream`, `stream, zstd 4.1×, age`. */
export function describeEncoding(meta: Pick<BackupMeta, "format" | "compression" | "encrypted" | "bytes" | "storedBytes">): string {
  if (meta.format === "directory") return "directory";
  const ratio = meta.compression && meta.storedBytes ? ` ${(meta.bytes / meta.storedBytes).toFixed(1)}×` : "";
  return ["stream", ...(meta.compression ? [`${meta.compression}${ratio}`] : []), ...(meta.encrypted ? ["age"] : [])].join(", ");
}

/** A backup id that sorts by time: 2026-11-25T03-00-00Z style. */
export function newBackupId(now = new Date()): string {
  return now.toISOString().replace(/\.\d+Z$/, "Z").replace(/:/g, "-");
}

export function serviceDir(store: string, service: string): string {
  return join(store, service);
}

/** Held while a backup (and its retention) runs: `<store>/<service>/.backup.lock`. */
export function backupLockPath(store: string, service: string): string {
  return join(serviceDir(store, service), ".backup.lock");
}

/** Held while binlogs are copied into the archive: `<store>/<service>/.binlogs.lock`. */
export function binlogLockPath(store: string, service: string): string {
  return join(serviceDir(store, service), ".binlogs.lock");
}

export function binlogArchiveDir(store: string, service: string): string {
  return join(serviceDir(store, service), BINLOG_ARCHIVE_DIR);
}

/**
 * The key of the keyed digests that stand in for password hashes in a backup's manifest (`<backup>/digest.key`, mode
 * 0600), new for every backup and kept beside it: a copy of the backup verifies anywhere. It protects nothing the backup
 * itself does not already hold (its grant tables), and keeps hashes out of manifests, reports and messages.
 */
export const DIGEST_KEY_FILE = "digest.key";

export function writeDigestKey(backupDir: string, key: Buffer): void {
  writeFileSync(join(backupDir, DIGEST_KEY_FILE), `${key.toString("base64")}\n`, { mode: 0o600 });
}

/** The backup's digest key; undefined for a backup from before keys existed (its passwords cannot be compared). */
export function readDigestKey(backupDir: string): Buffer | undefined {
  const path = join(backupDir, DIGEST_KEY_FILE);
  return existsSync(path) ? Buffer.from(readFileSync(path, "utf8").trim(), "base64") : undefined;
}

/** Write JSON atomically (writeFileAtomic: a partial file naming its writer, then rename) so readers never see half a file. */
export function writeJsonAtomic(path: string, value: unknown): void {
  writeFileAtomic(path, `${JSON.stringify(value, null, 2)}\n`, { mode: 0o644 });
}

export interface BackupListing {
  complete: StoredBackup[];
  /** Directories without a valid backup.json: in progress, crashed or damaged, with the reason. */
  incomplete: { id: string; reason: string }[];
}

/** Every backup of a service, oldest first. */
export function listBackups(store: string, service: string): BackupListing {
  const dir = serviceDir(store, service);
  const listing: BackupListing = { complete: [], incomplete: [] };
  if (!existsSync(dir)) return listing;
  for (const id of readdirSync(dir).sort()) {
    const backupDir = join(dir, id);
    if (!statSync(backupDir).isDirectory() || id.startsWith(".") || id === BINLOG_ARCHIVE_DIR) continue;
    const metaPath = join(backupDir, BACKUP_META_FILE);
    if (!existsSync(metaPath)) {
      listing.incomplete.push({ id, reason: `no ${BACKUP_META_FILE} (backup unfinished or interrupted)` });
      continue;
    }
    const parsed = BackupMetaSchema.safeParse(safeJson(metaPath));
    if (!parsed.success) {
      listing.incomplete.push({ id, reason: `${BACKUP_META_FILE} is not valid: ${parsed.error.issues[0]?.message ?? "unreadable"}` });
      continue;
    }
    const manifestPath = join(backupDir, MANIFEST_FILE);
    if (!existsSync(manifestPath)) {
      listing.incomplete.push({ id, reason: `no ${MANIFEST_FILE} beside the backup` });
      continue;
    }
    listing.complete.push({
      id,
      dir: backupDir,
      dataDir: join(backupDir, DATA_DIR),
      ...(parsed.data.dataFile ? { dataFile: join(backupDir, parsed.data.dataFile) } : {}),
      infoDir: join(backupDir, parsed.data.format === "stream" ? TOOL_INFO_DIR : DATA_DIR),
      binlogDir: join(backupDir, BINLOG_DIR),
      manifestPath,
      meta: parsed.data,
      verified: existsSync(join(backupDir, VERIFIED_FILE)),
    });
  }
  return listing;
}

/** The newest complete backup, or an error that says what the store holds. */
export function newestBackup(store: string, service: string): StoredBackup {
  const { complete, incomplete } = listBackups(store, service);
  const newest = complete.at(-1);
  if (newest) return newest;
  const skipped = incomplete.map((b) => `\n  skipped ${b.id}: ${b.reason}`).join("");
  throw new Error(
    `no complete backup of service "${service}" in ${serviceDir(store, service)}${skipped}\n` +
      `  take one with: bin/restoretest backup ${service}`,
  );
}

/** What a green verification of a backup records beside it. */
export interface VerifiedSummary {
  /** Tests that ran and passed (restore + every check). */
  tests: number;
  verifiedAt?: string;
  /** The chain restored to verify it, full first. */
  chain?: string[];
}

/** Mark a backup as restored and verified green (written by the suite when every test of the service passed). */
export function markVerified(backupDir: string, summary: VerifiedSummary): void {
  writeJsonAtomic(join(backupDir, VERIFIED_FILE), { version: 1, verifiedAt: new Date().toISOString(), ...summary });
}

/** When the backup last verified green (verified.json), or undefined when it never did. */
export function verifiedAt(backupDir: string): string | undefined {
  const at = (safeJson(join(backupDir, VERIFIED_FILE)) as { verifiedAt?: unknown } | undefined)?.verifiedAt;
  return typeof at === "string" ? at : undefined;
}

function safeJson(path: string): unknown {
  try {
    return JSON.parse(readFileSync(path, "utf8"));
  } catch {
    return undefined;
  }
}

/** Bytes in a directory tree (apparent size), for progress and transfer reports. */
export function directorySize(path: string): number {
  let total = 0;
  const stack = [path];
  while (stack.length > 0) {
    const current = stack.pop() as string;
    for (const entry of readdirSync(current, { withFileTypes: true })) {
      const full = join(current, entry.name);
      if (entry.isDirectory()) stack.push(full);
      else if (entry.isFile()) total += lstatSync(full).size;
    }
  }
  return total;
}
