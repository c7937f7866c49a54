// What the source's datadir holds that its catalog did not show the source user: information_schema lists only the
// tables, views and triggers a user has privileges on, so a baseline read by an under-privileged user would silently
// leave objects unchecked. The datadir's own files say what exists.
import { existsSync, readdirSync, statSync } from "node:fs";
import { join } from "node:path";
import { decodeFileName } from "../db/fileName.ts";

/** A database directory's objects, by their file names (`<table>.frm`, `<trigger>.TRN`), names decoded. */
export interface DatadirObjects {
  database: string;
  tables: string[];
  triggers: string[];
}

/**
 * The objects `datadir` holds for `databases`, names decoded from the servers' file-name encoding (`order@002ditems`)
 * here: MySQL has no `filename` character set to ask.
 */
export function readDatadirObjects(datadir: string, databases: readonly string[]): DatadirObjects[] {
  if (!existsSync(datadir)) return [];
  const dirs = readdirSync(datadir).filter((d) => statSync(join(datadir, d)).isDirectory() && !d.startsWith("#"));
  const name = (file: string) => decodeFileName(file) ?? file;
  const out: DatadirObjects[] = [];
  for (const dir of dirs) {
    const database = name(dir);
    if (!databases.includes(database)) continue;
    // `#sql-…` files are an ALTER in progress, not an object.
    const files = readdirSync(join(datadir, dir)).filter((f) => !f.startsWith("#sql"));
    const { tables, triggers } = objectFiles(files);
    out.push({ database, tables: tables.map(name).sort(), triggers: triggers.map(name).sort() });
  }
  return out;
}

/**
 * The tables and triggers a database directory's file names show. MariaDB: a `.frm` per table and view, a `.TRN` per
 * trigger. MySQL 8+ keeps definitions in its data dictionary (no `.frm`): its tables show as InnoDB tablespaces
 * (`t.ibd`, `t#p#p0.ibd` per partition; not a FULLTEXT index's `fts_…` tables) and MyISAM data files (`t.MYD`);
 * views and triggers have no file there.
 */
export function objectFiles(files: readonly string[]): { tables: string[]; triggers: string[] } {
  const base = (ext: string) => files.filter((f) => f.endsWith(ext)).map((f) => f.slice(0, -ext.length));
  const frm = base(".frm");
  // A FULLTEXT index's auxiliary tables (`fts_<table id>_…`, 16 hex digits) are InnoDB's own, never in the catalog.
  const tablespaces = base(".ibd").filter((t) => !/^fts_[0-9a-f]{16}_/i.test(t));
  const tables = frm.length > 0 ? frm : [...new Set([...tablespaces.map((t) => t.replace(/#p#.*$/i, "")), ...base(".MYD")])];
  return { tables: tables.sort(), triggers: base(".TRN") };
}

/** What the catalog showed of one database. */
export interface CatalogObjects {
  database: string;
  tables: readonly string[];
  /** Absent when triggers were not captured (the check is off). */
  triggers?: readonly string[];
}

/**
 * The objects the datadir holds that the catalog did not show, named, or undefined when there are none (pure). Objects
 * the catalog shows but the datadir does not hold are no concern of this check (a storage engine without files).
 */
export function hiddenObjects(datadir: readonly DatadirObjects[], catalog: readonly CatalogObjects[]): string[] | undefined {
  const hidden: string[] = [];
  for (const d of datadir) {
    const seen = catalog.find((c) => c.database === d.database);
    if (!seen) continue;
    for (const t of d.tables) if (!seen.tables.includes(t)) hidden.push(`table or view ${d.database}.${t}`);
    if (seen.triggers) for (const t of d.triggers) if (!seen.triggers.includes(t)) hidden.push(`trigger ${d.database}.${t}`);
  }
  return hidden.length > 0 ? hidden : undefined;
}

/** The message for a baseline that would leave hidden objects unchecked: what, why, and the grants that fix it. */
export function hiddenObjectsMessage(user: string, hidden: readonly string[]): string {
  const shown = hidden.slice(0, 10).map((h) => `  ${h}`);
  if (hidden.length > 10) shown.push(`  … and ${hidden.length - 10} more`);
  return (
    `the source's datadir holds objects its catalog does not show ${user}, so the baseline would leave them unchecked:\n${shown.join("\n")}\n` +
    "information_schema lists only what a user has privileges on: grant the source user SELECT, SHOW VIEW and TRIGGER on " +
    "each verified database (docs/config.md, the source user)"
  );
}
