// `restoretest verify-store <service>`: every stored file of every backup and of the binlog archive checked against
// the size and SHA-256 it had when written, without a key and without a server; missing and unlisted files named.
import { existsSync, readdirSync } from "node:fs";
import { join, resolve } from "node:path";
import { BACKUP_META_FILE, VERIFIED_FILE, binlogArchiveDir, listBackups, serviceDir } from "./layout.ts";
import { listArchive } from "./archive.ts";
import type { Service } from "../config/schema.ts";
import { CHECKSUMS_FILE, checkDirectory, readChecksums } from "./checksums.ts";
import { parseStoredName } from "./encoding.ts";
import { hashFile } from "./stored.ts";
import { isPartialName } from "../base/partialFile.ts";
import { binlogSequence } from "../binlog/replay.ts";

export interface StoreEntryReport {
  /** A backup id, or "binlog archive". */
  what: string;
  files: number;
  bytes: number;
  problems: string[];
  /** What was not checked, and why. */
  notes: string[];
}

export interface StoreReport {
  service: string;
  dir: string;
  entries: StoreEntryReport[];
  ok: boolean;
}

/** Files a backup's checksums.json does not list because they are written after it, or change. */
function afterTheFact(path: string): boolean {
  return path === BACKUP_META_FILE || path === VERIFIED_FILE || path.startsWith(".") || isPartialName(path);
}

async function verifyBackups(service: Service, store: string): Promise<StoreEntryReport[]> {
  const listing = listBackups(store, service.name);
  const out: StoreEntryReport[] = [];
  for (const b of listing.complete) {
    const entry: StoreEntryReport = { what: b.id, files: 0, bytes: 0, problems: [], notes: [] };
    out.push(entry);
    if (!b.meta.checksums) {
      entry.notes.push("taken before restoretest kept checksums: its files cannot be checked (the nightly restore still proves it)");
      continue;
    }
    try {
      const checksums = readChecksums(b.dir);
      if (!checksums) {
        entry.problems.push(`${join(b.dir, CHECKSUMS_FILE)} is missing, though ${BACKUP_META_FILE} records its SHA-256: the store's list of this backup's files was deleted`);
        continue;
      }
      const own = await hashFile(join(b.dir, CHECKSUMS_FILE));
      if (own.sha256 !== b.meta.checksums) {
        entry.problems.push(`${join(b.dir, CHECKSUMS_FILE)} is not the list written with the backup (${BACKUP_META_FILE} records another SHA-256): it was changed`);
      }
      const checked = await checkDirectory(b.dir, checksums, afterTheFact);
      Object.assign(entry, { files: checked.files, bytes: checked.bytes });
      entry.problems.push(...checked.problems);
    } catch (error) {
      entry.problems.push((error as Error).message);
    }
  }
  for (const b of listing.incomplete) {
    // A backup being written has no backup.json yet; one whose backup.json is unreadable is damaged.
    const unfinished = /unfinished|interrupted/.test(b.reason);
    out.push({ what: b.id, files: 0, bytes: 0, problems: unfinished ? [] : [`${join(serviceDir(store, service.name), b.id)}: ${b.reason}`], notes: unfinished ? [`not checked: ${b.reason}`] : [] });
  }
  return out;
}

/**
 * The archive: sealed files against its checksums.json; plain files (the one being written) are named, not checked.
 * Listed files retention pruned (before `oldestKept`, the oldest kept backup's file) are noted until the copier's next
 * rewrite of the list drops them.
 */
async function verifyArchive(dir: string, oldestKept: string | undefined): Promise<StoreEntryReport | undefined> {
  if (!existsSync(dir) || (listArchive(dir).length === 0 && !existsSync(join(dir, CHECKSUMS_FILE)))) return undefined;
  const entry: StoreEntryReport = { what: "binlog archive", files: 0, bytes: 0, problems: [], notes: [] };
  const plain = readdirSync(dir).filter((n) => /\.\d+$/.test(n));
  try {
    const listed = readChecksums(dir) ?? { version: 1 as const, algorithm: "sha256" as const, files: [] };
    const isPruned = (path: string) => {
      const name = parseStoredName(path).name;
      return oldestKept !== undefined && /\.\d+$/.test(name) && binlogSequence(name) < binlogSequence(oldestKept) && !existsSync(join(dir, path));
    };
    const pruned = listed.files.filter((f) => isPruned(f.path)).map((f) => f.path);
    if (pruned.length > 0) entry.notes.push(`${pruned.join(", ")} in ${CHECKSUMS_FILE} ${pruned.length === 1 ? "was" : "were"} pruned by retention (before ${oldestKept}, the oldest kept backup's file)`);
    const checksums = { ...listed, files: listed.files.filter((f) => !pruned.includes(f.path)) };
    const checked = await checkDirectory(dir, checksums, (p) => /\.\d+$/.test(p) || p.endsWith(".partial") || isPartialName(p) || p.startsWith("."));
    Object.assign(entry, { files: checked.files, bytes: checked.bytes });
    entry.problems.push(...checked.problems);
    for (const f of checksums.files) if (!/\.\d+$/.test(parseStoredName(f.path).name)) entry.problems.push(`${join(dir, f.path)} in ${CHECKSUMS_FILE} is not a binlog file's name`);
  } catch (error) {
    entry.problems.push((error as Error).message);
  }
  if (plain.length > 0) {
    entry.notes.push(
      `${plain.join(", ")} ${plain.length === 1 ? "is" : "are"} plain (the file being written, or an archive kept unsealed): checked event by event (CRC32) by the nightly archive stage, not here`,
    );
  }
  return entry;
}

export async function verifyStore(service: Service): Promise<StoreReport> {
  const store = resolve(service.backup.store);
  const entries = await verifyBackups(service, store);
  const oldestKept = listBackups(store, service.name).complete[0]?.meta.position?.file;
  const archive = await verifyArchive(binlogArchiveDir(store, service.name), oldestKept);
  if (archive) entries.push(archive);
  return { service: service.name, dir: serviceDir(store, service.name), entries, ok: entries.every((e) => e.problems.length === 0) };
}

/** The report as a DBA reads it: one line per backup, every problem below it, a closing count. */
export function formatStoreReport(report: StoreReport): string {
  const lines = [`verify-store ${report.service} (${report.dir})`];
  for (const e of report.entries) {
    const size = e.files ? `${e.files} files, ${(e.bytes / 1e6).toFixed(1)} MB` : "";
    lines.push(`  ${e.problems.length ? "BAD " : "OK  "} ${e.what}${size ? `  ${size}` : ""}`);
    for (const p of e.problems) lines.push(`         ${p}`);
    for (const n of e.notes) lines.push(`         note: ${n}`);
  }
  const problems = report.entries.reduce((n, e) => n + e.problems.length, 0);
  if (report.entries.length === 0) lines.push("  the store holds nothing for this service");
  lines.push(
    problems
      ? `verify-store ${report.service}: ${problems} problem(s) in ${report.entries.filter((e) => e.problems.length).length} of ${report.entries.length} item(s)`
      : `verify-store ${report.service}: OK, ${report.entries.length} item(s), every stored byte as written`,
  );
  return lines.join("\n");
}
