// What a restore of some tables copies (issue 17): of each backup in the chain, what InnoDB and the server need to start
// (the datadir's own files: system tablespace, redo, undo, Aria log, the tool's metadata; the system schemas) and the
// tables' own files, nothing of the other tables. mariadb-backup's prepare ignores the redo of a tablespace that is
// absent ("when restoring a (partial?) backup. All redo log for this file will be ignored!") and the server starts
// with the other tables unknown to SQL (their .frm files are not copied), as after a partial backup.
import { copyFileSync, linkSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { dirname, join } from "node:path";
import type { TableName } from "../db/quote.ts";
import { encodeFileName } from "../db/fileName.ts";
import type { StoredBackup } from "../store/layout.ts";
import { registerDisposer } from "../base/disposers.ts";
import { recordOwner } from "../base/owner.ts";

/** Why only the tables cannot be restored on their own: the restore then restores the whole chain, and says why. */
export class PartialRestoreRefused extends Error {
  override name = "PartialRestoreRefused";
}

/** The server's own schemas: always copied whole (grant tables, routines, events, time zones, InnoDB statistics). */
export const SYSTEM_SCHEMAS = new Set(["mysql", "performance_schema", "sys"]);

/**
 * Why `tables` cannot be restored alone from `chain`, or undefined when they can: mariadb-backup directory backups
 * only (a stream is unpacked whole by mbstream, which cannot pick files; XtraBackup's MySQL keeps every table in its
 * data dictionary, mysql.ibd), of user databases.
 */
export function partialRefusal(chain: readonly Pick<StoredBackup, "id" | "meta">[], tables: readonly TableName[]): string | undefined {
  for (const link of chain) {
    if (link.meta.tool !== "mariabackup") return `backup ${link.id} was taken with ${link.meta.tool}: only mariadb-backup's files are picked table by table`;
    if (link.meta.format === "stream") return `backup ${link.id} is a stream: mbstream unpacks it whole, it cannot pick a table's files`;
  }
  const system = tables.find((t) => SYSTEM_SCHEMAS.has(t.database.toLowerCase()));
  if (system) return `${system.database}.${system.table}: only tables of user databases are picked file by file`;
  return undefined;
}

/** Whether `file` (a database directory's entry) belongs to `table`: its definition, data, partitions and triggers. */
function isTableFile(file: string, table: string): boolean {
  const lower = file.toLowerCase();
  const name = table.toLowerCase();
  // `t.frm`, `t.ibd`, `t.par`, `t.TRG`, `t.MYD`/`.MYI`, `t.MAD`/`.MAI`, `t.CSV`, an incremental's `t.ibd.delta`/`.meta`;
  // partitions `t#P#p0.ibd`, `t#P#p0#SP#s0.ibd` (and their deltas). Compared without case: a file under
  // lower_case_table_names=1 is lower case; a second table differing only in case comes along, unused.
  return lower.startsWith(`${name}.`) || lower.startsWith(`${name}#p#`);
}

/**
 * The paths, relative to a backup's data directory, that a restore of `tables` copies: every file at its top (system and
 * undo tablespaces, redo, Aria log, backup-my.cnf, xtrabackup_checkpoints/_info, an incremental's .delta/.meta of
 * them), the system schemas whole, and of each table's database its db.opt, the table's files, its triggers' `.TRN`
 * files, and the FULLTEXT indexes' auxiliary tablespaces (`FTS_…`: named by table id, which the files do not tell).
 */
export function tableFiles(dataDir: string, tables: readonly TableName[]): string[] {
  const paths: string[] = [];
  for (const entry of readdirSync(dataDir, { withFileTypes: true })) {
    if (entry.isFile()) paths.push(entry.name);
    else if (entry.isDirectory() && SYSTEM_SCHEMAS.has(entry.name)) paths.push(entry.name);
  }
  const byDatabase = new Map<string, string[]>();
  for (const t of tables) byDatabase.set(t.database, [...(byDatabase.get(t.database) ?? []), t.table]);
  for (const [database, names] of byDatabase) {
    // Files are named as the server encodes names (`order-items` → `order@002ditems`, `café` → `caf@0p`).
    const directory = encodeFileName(database);
    let files: string[];
    try {
      files = readdirSync(join(dataDir, directory));
    } catch {
      continue; // not in this backup (created later: the replay makes it)
    }
    for (const file of files) {
      const own = names.some((t) => isTableFile(file, encodeFileName(t)));
      const trigger = file.endsWith(".TRN") && names.some((t) => triggerTable(join(dataDir, directory, file)) === t.toLowerCase());
      if (own || trigger || file === "db.opt" || /^FTS_[0-9a-f]{16}_/i.test(file)) paths.push(join(directory, file));
    }
  }
  return paths;
}

/** The table a `.TRN` file's trigger is on (`trigger_table=orders`), lower case. */
function triggerTable(path: string): string | undefined {
  return /^trigger_table=(.*)$/m.exec(readFileSync(path, "utf8"))?.[1]?.trim().toLowerCase();
}

export interface Selection {
  /** A local directory holding the picked files (hard links), laid out as the backup's data directory. */
  dir: string;
  bytes: number;
  remove(): Promise<void>;
}

/**
 * The picked files of one backup, hard-linked (copied across filesystems) into a dot-named directory beside the
 * service's backups, removed by `remove()` or at exit: what the target's putDirectory then copies, as it would the
 * whole data directory.
 */
export function selectFiles(link: Pick<StoredBackup, "dir" | "dataDir">, paths: readonly string[]): Selection {
  const { dir, remove } = scratchBeside(link.dir);
  let bytes = 0;
  const place = (from: string, to: string) => {
    const stat = statSync(from);
    if (stat.isDirectory()) {
      mkdirSync(to, { recursive: true, mode: 0o700 });
      for (const name of readdirSync(from)) place(join(from, name), join(to, name));
      return;
    }
    mkdirSync(dirname(to), { recursive: true, mode: 0o700 });
    try {
      linkSync(from, to);
    } catch {
      copyFileSync(from, to);
    }
    bytes += stat.size;
  };
  try {
    for (const path of paths) place(join(link.dataDir, path), join(dir, path));
  } catch (error) {
    void remove();
    throw error;
  }
  return { dir, bytes, remove };
}

/** An empty scratch directory beside `dir` (same filesystem, swept like the replay's copies), removed by `remove()` or at exit. */
export function scratchBeside(dir: string): { dir: string; remove(): Promise<void> } {
  const scratch = mkdtempSync(join(dirname(dir), ".replay-tables-"));
  recordOwner(scratch);
  return { dir: scratch, remove: registerDisposer(`directory ${scratch}`, () => rmSync(scratch, { recursive: true, force: true })) };
}
