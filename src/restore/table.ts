// Table-level point-in-time restore (issue 17): the one table someone broke, out of a restore of the chain to the moment
// right before the statement that broke it, written as SQL (`restoretest restore <service> --table db.t
// --before-destructive --dump FILE`) or delivered into a running server under a new name (`--into NAME`, into.ts).
import { chmodSync } from "node:fs";
import { join, resolve } from "node:path";
import { findDestructive, type DestructiveEvent } from "../binlog/destructive.ts";
import { tableLabel, type TableName, qualifiedName, quoteIdent } from "../db/quote.ts";
import { listArchive } from "../store/archive.ts";
import { binlogArchiveDir, listBackups } from "../store/layout.ts";
import { backupTool } from "../backup/tool.ts";
import type { Service } from "../config/schema.ts";
import { tableExists } from "../db/introspect.ts";
import type { Queryable } from "../db/connection.ts";
import { shellQuote } from "../base/command.ts";
import { readChecksums } from "../store/checksums.ts";
import { plainCopies } from "../store/plainCopies.ts";
import { describePoint, type RestorePoint } from "./locate.ts";
import { checkInto, deliverTables, sharedTablespace, type DeliveredTable, type IntoServer } from "./into.ts";
import { restoreService, type RestoreOptions } from "./pipeline.ts";
import { binlogSequence } from "../binlog/replay.ts";

/** `db.t` as typed on the command line; backticks allowed around either part. */
export function parseTableName(text: string): TableName {
  const m = /^`?([^`.]+)`?\.`?([^`]+?)`?$/.exec(text.trim());
  if (!m) throw new Error(`--table ${JSON.stringify(text)}: expected database.table, e.g. --table shop.customers`);
  return { database: m[1] as string, table: m[2] as string };
}

/**
 * The first event in the service's binlog archive, at or after `after`, that drops, truncates, renames, deletes from or
 * updates `table`: read from the oldest kept backup's file on (sealed files decoded and checked first).
 */
export async function findBreakingEvent(service: Service, table: TableName, after?: Date): Promise<DestructiveEvent> {
  const store = resolve(service.backup.store);
  const dir = binlogArchiveDir(store, service.name);
  const oldest = listBackups(store, service.name).complete[0]?.meta.position?.file;
  const names = listArchive(dir).filter((n) => oldest === undefined || binlogSequence(n) >= binlogSequence(oldest));
  if (names.length === 0) throw new Error(`--before-destructive reads the binlog archive, but ${dir} holds no binlogs from the oldest kept backup on: run restoretest binlogs ${service.name}`);
  const copies = await plainCopies(dir, names, { checksums: readChecksums(dir), keyFile: service.backup.encrypt?.keyFile });
  try {
    const found = findDestructive(names.map((name) => ({ name, path: join(copies.dir, name) })), table, after ? { after } : {});
    if (!found) {
      throw new Error(
        `no event${after ? ` at or after ${after.toISOString()}` : ""} in ${names[0]} … ${names.at(-1)} drops, truncates, renames, deletes from or updates ${tableLabel(table)}: ` +
          "give --to a time or position instead (restoretest restore --help)",
      );
    }
    return found;
  } finally {
    await copies.remove();
  }
}

/** The shared tablespace a table of the restored server is in (MySQL), or undefined for a file of its own. */
async function tablespaceOf(db: Queryable, t: TableName): Promise<string | undefined> {
  const [show] = await db.query<{ "Create Table"?: string }>(`SHOW CREATE TABLE ${qualifiedName(t.database, t.table)}`);
  return sharedTablespace(show?.["Create Table"] ?? "");
}

/** One line for a DBA deciding whether this is the statement that broke the table. */
export function describeEvent(event: DestructiveEvent): string {
  const what = event.rows !== undefined ? `${event.kind}, ${event.rows} row(s)` : event.kind;
  const statement = event.statement ? `: ${event.statement.replace(/\s+/g, " ").slice(0, 200)}` : "";
  return `${event.time.toISOString()} ${event.file}:${event.eventPosition} (${event.format}${event.gtid ? `, GTID ${event.gtid}` : ""}) ${what}${statement}`;
}

export type { DeliveredTable } from "./into.ts";

/**
 * Where the tables go: a file of SQL (`--dump`; a plain string is one), or a running server under new names (`--into`;
 * `as` names the one table's final name, `at` stamps the default names).
 */
export type TableDelivery = { kind: "dump"; file: string } | { kind: "into"; server: IntoServer; as?: TableName; at?: Date };

export interface TableRestoreResult {
  point: RestorePoint;
  tables: DeliveredTable[];
  /** The SQL file, for a dump. */
  dump?: string;
  /** The server's name (`--into NAME`), for a delivery into one. */
  into?: string;
  /** The restore's steps, then `dump` or `deliver`: the table-level RTO is their sum. */
  steps: { step: string; durationMs: number }[];
  durationMs: number;
}

/**
 * Restore the chain to `point` onto a throwaway server, deliver `tables` from it, then destroy the server. A dump is SQL
 * (CREATE TABLE and INSERTs, without DROP TABLE: loading it never removes a table that exists); a delivery into a server
 * is checked there before anything is restored (src/restore/into.ts).
 */
export async function restoreTables(
  service: Service,
  tables: readonly TableName[],
  point: RestorePoint,
  delivery: string | TableDelivery,
  options: Pick<RestoreOptions, "log" | "onProgress"> & { whole?: boolean } = {},
): Promise<TableRestoreResult> {
  const started = performance.now();
  const to: TableDelivery = typeof delivery === "string" ? { kind: "dump", file: delivery } : delivery;
  const at = to.kind === "into" ? (to.at ?? new Date()) : undefined;
  // Refused before an hour of restore, not after: a final name taken, a missing database, an account that may not deliver.
  if (to.kind === "into") await checkInto(to.server, tables, { as: to.as, at, log: options.log });
  // Only the tables' files and binlog events, unless `whole` (the bench's comparison) or where that is not provably exact.
  const restored = await restoreService(service, { log: options.log, onProgress: options.onProgress, to: point, poolSize: 1, ...(options.whole ? {} : { only: tables }) });
  try {
    const restoreSteps = restored.steps.map((s) => ({ step: s.step as string, durationMs: s.durationMs }));
    if (to.kind === "into") {
      const deliverStarted = performance.now();
      const delivered = await deliverTables(restored, tables, to.server, { as: to.as, at, toolchain: service.backup.toolchain, timeoutMs: service.restore.timeout, log: options.log });
      const steps = [...restoreSteps, { step: "deliver", durationMs: performance.now() - deliverStarted }];
      return { point, tables: delivered, into: to.server.name, steps, durationMs: performance.now() - started };
    }
    const dump = to.file;
    const delivered: DeliveredTable[] = [];
    const notes: string[] = [];
    for (const t of tables) {
      if (!(await tableExists(restored.db, t.database, t.table))) throw new Error(`${tableLabel(t)} is not in the restore of ${service.name} to ${describePoint(point)}: check the name, or restore to an earlier point`);
      const [count] = await restored.db.query<{ n: number }>(`SELECT COUNT(*) AS n FROM ${quoteIdent(t.database)}.${quoteIdent(t.table)}`);
      delivered.push({ table: t, rows: Number(count?.n ?? 0) });
      const tablespace = await tablespaceOf(restored.db, t);
      // Kept as the source has it (loaded back there, the table is where it was); a server without it refuses the CREATE.
      if (tablespace !== undefined && tablespace !== "innodb_system") {
        notes.push(`-- ${tableLabel(t)} is in the general tablespace ${tablespace}: a server without it refuses its CREATE TABLE; create it first (CREATE TABLESPACE ${quoteIdent(tablespace)} ADD DATAFILE '…'), or delete the TABLESPACE option`);
      }
    }
    const dumpStarted = performance.now();
    const client = restored.server.clientOptionFile;
    if (!client) throw new Error(`the restored server on ${restored.target.description} has no client option file`);
    const { dump: program, dumpArgs } = backupTool(restored.backup.meta.tool, service.backup.toolchain, restored.manifest.server.flavor).flavor;
    const byDatabase = new Map<string, string[]>();
    for (const t of tables) byDatabase.set(t.database, [...(byDatabase.get(t.database) ?? []), t.table]);
    const header = `-- restoretest: ${tables.map(tableLabel).join(", ")} of ${service.name} as at ${describePoint(point)}`;
    const lines = [`echo ${shellQuote([header, ...notes].join("\n"))}`];
    for (const [database, names] of byDatabase) {
      const args = [`--defaults-file=${client}`, "--single-transaction", "--hex-blob", "--skip-add-drop-table", "--skip-add-locks", "--no-create-db", "--triggers", ...dumpArgs, database, ...names];
      lines.push(`echo ${shellQuote(`USE ${quoteIdent(database)};`)}`, [program, ...args].map(shellQuote).join(" "));
    }
    // Streamed from the restore host straight into the file (owner-only: production data), never held in memory: a
    // table's dump can be gigabytes, past V8's string limit.
    await restored.target.exec("bash", ["-c", lines.join(" && ")], { timeoutMs: service.restore.timeout, outputFile: dump });
    chmodSync(dump, 0o600);
    const steps = [...restoreSteps, { step: "dump", durationMs: performance.now() - dumpStarted }];
    return { point, tables: delivered, dump, steps, durationMs: performance.now() - started };
  } finally {
    await restored.destroy();
  }
}
