// The restore's `locate` step: which chain to restore (newest, or newest before a point in time), checked link by link,
// which binlogs take it to its target, and how old the newest restorable point is (the RPO).
import { existsSync } from "node:fs";
import { resolve } from "node:path";
import { readManifest, type Manifest } from "../store/manifest.ts";
import { type Position } from "../binlog/position.ts";
import { readStoredBinlogEvents } from "../backup/binlogs.ts";
import { binlogFiles, listArchive } from "../store/archive.ts";
import { checkStoredChain, resolveChain } from "../store/chain.ts";
import { BINLOG_DIR, binlogArchiveDir, newestBackup, listBackups, type StoredBackup } from "../store/layout.ts";
import { backupTool } from "../backup/tool.ts";
import type { Service } from "../config/schema.ts";
import { readChecksums } from "../store/checksums.ts";
import { plainCopies, storedFileOf } from "../store/plainCopies.ts";
import { binlogDatetime, comparePositions, planReplay, planReplayToTime, type ReplayPlan } from "../binlog/replay.ts";

/** Where a point-in-time restore stops: a time, or a binlog position. */
export type RestorePoint = { time: Date } | { position: Position };

/**
 * Parse `--to`: `mysql-bin.000042:1234` (a binlog position), `2026-11-25 03:00:00` (this machine's local time, like a
 * DBA's clock) or an ISO time with a zone (`2026-11-25T03:00:00Z`).
 */
export function parseRestorePoint(text: string): RestorePoint {
  const trimmed = text.trim();
  const position = /^(.+\.\d+):(\d+)$/.exec(trimmed);
  if (position) return { position: { file: position[1] as string, position: Number(position[2]), gtid: "" } };
  const local = /^(\d{4})-(\d{2})-(\d{2})[ T](\d{2}):(\d{2})(?::(\d{2}))?$/.exec(trimmed);
  if (local) {
    const [, y, mo, d, h, mi, s] = local.map(Number) as number[];
    const time = new Date(y as number, (mo as number) - 1, d, h, mi, Number.isNaN(s) ? 0 : s);
    if (!Number.isNaN(time.getTime())) return { time };
  }
  if (/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})$/.test(trimmed)) {
    const time = new Date(trimmed);
    if (!Number.isNaN(time.getTime())) return { time };
  }
  throw new Error(
    `cannot read restore point ${JSON.stringify(text)}: expected a time like "2026-11-25 03:00:00" (local time) or ` +
      `"2026-11-25T03:00:00Z", or a binlog position like "mysql-bin.000042:1234"`,
  );
}

export function describePoint(point: RestorePoint): string {
  return "time" in point ? `${binlogDatetime(point.time)} UTC` : `${point.position.file}:${point.position.position}`;
}

type Candidate = Pick<StoredBackup, "id"> & { meta: Pick<StoredBackup["meta"], "finishedAt" | "position"> };

/**
 * The newest backup a restore to `point` can start from: for a time, the newest that finished by then (its data is
 * consistent at a position written before it finished); for a position, the newest at or before it.
 */
export function chooseBackup<T extends Candidate>(backups: readonly T[], point: RestorePoint): T {
  const fits = (b: T) =>
    "time" in point
      ? Date.parse(b.meta.finishedAt) <= point.time.getTime()
      : b.meta.position !== null && comparePositions(b.meta.position, point.position) <= 0;
  const found = backups.findLast(fits);
  if (found) return found;
  const oldest = backups[0];
  throw new Error(
    oldest
      ? `no backup to restore ${describePoint(point)} from: the oldest kept backup ${oldest.id} finished at ${oldest.meta.finishedAt}` +
          (oldest.meta.position ? ` (position ${oldest.meta.position.file}:${oldest.meta.position.position})` : "")
      : "no complete backup in the store",
  );
}

/** The complete backup `id` (`--backup`, RESTORETEST_BACKUP), or an error naming what the store holds. */
export function namedBackup(listing: ReturnType<typeof listBackups>, service: string, id: string): StoredBackup {
  const found = listing.complete.find((b) => b.id === id);
  if (found) return found;
  const incomplete = listing.incomplete.find((b) => b.id === id);
  if (incomplete) throw new Error(`backup ${id} of service "${service}" is not complete: ${incomplete.reason}`);
  const kept = listing.complete.map((b) => b.id);
  throw new Error(`no backup ${id} of service "${service}"${kept.length ? ` (kept: ${kept.join(", ")})` : ": the store holds no complete backup"}`);
}

export interface LocatedRestore {
  /** Full first; the last link is the one restored to. */
  chain: StoredBackup[];
  backup: StoredBackup;
  manifest: Manifest;
  replay: ReplayPlan | null;
  /** The local directory holding `replay.files`: the backup's own `binlogs/` or the service's binlog archive. */
  binlogDir: string;
  /** The newest point a restore could reach, for the RPO ("binlog archive, replayed": the archive stage applied it). */
  restorable: { at: Date; source: "backup" | "binlog archive" | "binlog archive, replayed" };
}

/**
 * Locate what to restore, before anything is copied: the chain (refused, naming the link, when a link is missing or its
 * LSNs do not join), the replay plan to the baseline's position P (or to `to`), and the newest restorable point.
 */
export async function locateRestore(service: Service, to?: RestorePoint, backupId?: string): Promise<LocatedRestore> {
  const store = resolve(service.backup.store);
  const listing = listBackups(store, service.name);
  const newest = newestBackup(store, service.name);
  if (backupId !== undefined && to) throw new Error("a restore names either a backup or a point in time to restore to, not both");
  const backup = backupId !== undefined ? namedBackup(listing, service.name, backupId) : to ? chooseBackup(listing.complete, to) : newest;
  const chain = resolveChain(listing.complete, backup.id, listing.incomplete);
  checkStoredChain(chain, backupTool(backup.meta.tool));
  const manifest = readManifest(backup.manifestPath);
  if (manifest.service !== service.name) throw new Error(`${backup.manifestPath} belongs to service "${manifest.service}", not "${service.name}"`);
  // A named older backup brings back its own data: its RPO is its own age, not the newest backup's.
  const backupPoint = { at: new Date((backupId !== undefined ? backup : newest).meta.finishedAt), source: "backup" as const };
  if (!to) {
    // Planned before any copying: a baseline the backup cannot reach fails here, in seconds, as what it is.
    const replay = manifest.position && backup.meta.position ? planReplay(backup.meta.position, manifest.position, backup.meta.binlogs) : null;
    return { chain, backup, manifest, replay, binlogDir: backup.binlogDir, restorable: backupPoint };
  }
  const start = backup.meta.position;
  if (!start) throw new Error(`backup ${backup.id} recorded no binlog position: it cannot be rolled forward to ${describePoint(to)}`);
  const archiveDir = binlogArchiveDir(store, service.name);
  const archived = listArchive(archiveDir);
  const sources = [
    { dir: archiveDir, files: archived, source: "binlog archive" as const },
    { dir: backup.binlogDir, files: existsSync(backup.binlogDir) ? binlogFiles(backup.meta.binlogs) : [], source: "backup" as const },
  ];
  const errors: string[] = [];
  for (const candidate of sources) {
    if (candidate.files.length === 0) {
      errors.push(`${candidate.source} (${candidate.dir}) holds no binlogs`);
      continue;
    }
    try {
      const replay = "time" in to ? planReplayToTime(start, to.time, candidate.files) : planReplay(start, to.position, candidate.files);
      const newestFile = candidate.files.at(-1) as string;
      const lastEvent = replay ? (await readStoredBinlogEvents(candidate.dir, newestFile, service.backup.encrypt?.keyFile)).lastEventTime : null;
      if ("time" in to && (lastEvent === null || lastEvent * 1000 < to.time.getTime())) {
        throw new Error(
          `its newest event (in ${newestFile}) is at ${lastEvent === null ? "none" : `${binlogDatetime(new Date(lastEvent * 1000))} UTC`}, ` +
            `before ${describePoint(to)}: nothing later is known`,
        );
      }
      const restorable =
        candidate.source === "binlog archive" && lastEvent !== null
          ? { at: new Date(Math.max(lastEvent * 1000, backupPoint.at.getTime())), source: candidate.source }
          : backupPoint;
      return { chain, backup, manifest, replay, binlogDir: candidate.dir, restorable };
    } catch (error) {
      errors.push(`${candidate.source} (${candidate.dir}): ${(error as Error).message}`);
    }
  }
  throw new Error(`cannot roll backup ${backup.id} (${start.file}:${start.position}) forward to ${describePoint(to)}:\n  ${errors.join("\n  ")}`);
}

/**
 * A local directory holding exactly the planned binlog files in plain form, to copy to the target: the backup's own
 * `binlogs/` when they are plain there, else plain copies (hard links of plain files, checked decoded copies of sealed
 * ones), so a long archive is not copied whole.
 */
export async function replayFilesDir(located: LocatedRestore, keyFile?: string): Promise<{ dir: string; remove(): Promise<void> }> {
  const files = located.replay?.files ?? [];
  const own = located.binlogDir === located.backup.binlogDir;
  if (own && files.every((f) => storedFileOf(located.binlogDir, f) === f)) return { dir: located.binlogDir, remove: async () => undefined };
  return plainCopies(located.binlogDir, files, {
    checksums: readChecksums(own ? located.backup.dir : located.binlogDir),
    checksumsPrefix: own ? `${BINLOG_DIR}/` : "",
    keyFile,
  });
}
