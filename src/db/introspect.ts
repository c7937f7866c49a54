// Introspection queries: what databases, tables and positions a server has, written once for baseline and verify.
import { dialectOf, flavorOfVersion, replicationSyntax } from "../server/flavor.ts";
import { catalogRows, countFrom, tableStatement } from "./batch.ts";
import type { Queryable } from "./connection.ts";
import { qualifiedName, quoteIdent } from "./quote.ts";

export const SYSTEM_DATABASES = ["mysql", "information_schema", "performance_schema", "sys"];

export interface TableInfo {
  database: string;
  name: string;
  /** BASE TABLE, VIEW, SEQUENCE or SYSTEM VERSIONED. */
  type: string;
  engine: string | null;
  /** Data + index bytes as the server estimates them (for ordering work, never for checks). */
  sizeBytes: number;
}

export interface BinlogPosition {
  file: string;
  position: number;
  gtid: string;
}

export interface ServerInfo {
  version: string;
  flavor: "mariadb" | "mysql";
}

export async function serverInfo(db: Queryable): Promise<ServerInfo> {
  const [row] = await db.query<{ version: string }>("SELECT VERSION() AS version");
  const version = String(row?.version ?? "");
  return { version, flavor: flavorOfVersion(version) };
}

export async function listDatabases(db: Queryable): Promise<string[]> {
  const rows = await db.query<{ name: string }>("SELECT SCHEMA_NAME AS name FROM information_schema.SCHEMATA ORDER BY SCHEMA_NAME");
  return rows.map((r) => r.name).filter((name) => !SYSTEM_DATABASES.includes(name));
}

export async function listTables(db: Queryable, database: string): Promise<TableInfo[]> {
  const rows = await db.query<{ name: string; type: string; engine: string | null; size: string | null }>(
    `SELECT TABLE_NAME AS name, TABLE_TYPE AS type, ENGINE AS engine,
            COALESCE(DATA_LENGTH, 0) + COALESCE(INDEX_LENGTH, 0) AS size
       FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? ORDER BY TABLE_NAME`,
    [database],
  );
  return rows.map((r) => ({ database, name: r.name, type: r.type, engine: r.engine, sizeBytes: Number(r.size ?? 0) }));
}

/** Names and types only: information_schema answers these without opening each table (fast with 10,000 tables). */
export async function listTableNames(db: Queryable, database: string): Promise<{ name: string; type: string }[]> {
  return db.query<{ name: string; type: string }>(
    "SELECT TABLE_NAME AS name, TABLE_TYPE AS type FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? ORDER BY TABLE_NAME",
    [database],
  );
}

export async function databaseExists(db: Queryable, database: string): Promise<boolean> {
  const rows = await db.query("SELECT 1 FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = ?", [database]);
  return rows.length > 0;
}

/** The binlog position and GTID state the server is at now (null when binary logging is off). */
export async function binlogPosition(db: Queryable): Promise<BinlogPosition | null> {
  const syntax = await replicationSyntax(db);
  const status = await db.query<{ File: string; Position: string | number; Executed_Gtid_Set?: string | null }>(syntax.binlogStatus);
  const first = status[0];
  if (!first) return null;
  // MySQL reports its GTID set with the position (newlines between server UUIDs); MariaDB keeps it in a variable.
  if (first.Executed_Gtid_Set !== undefined) return { file: first.File, position: Number(first.Position), gtid: String(first.Executed_Gtid_Set ?? "").replace(/\s+/g, "") };
  const [gtid] = await db.query<{ gtid: string | null }>("SELECT @@GLOBAL.gtid_binlog_pos AS gtid");
  return { file: first.File, position: Number(first.Position), gtid: String(gtid?.gtid ?? "") };
}

/** The server's binlog files and their sizes, oldest first (`SHOW BINARY LOGS`). */
export async function binaryLogs(db: Queryable): Promise<{ name: string; size: number }[]> {
  const rows = await db.query<{ Log_name: string; File_size: string | number }>("SHOW BINARY LOGS");
  return rows.map((r) => ({ name: r.Log_name, size: Number(r.File_size) }));
}

export async function checksumTable(db: Queryable, database: string, table: string): Promise<string | null> {
  const rows = await tableStatement(db, "CHECKSUM TABLE", database, table);
  const value = rows[0]?.Checksum as string | number | null | undefined;
  return value === null || value === undefined ? null : String(value);
}

/** The two session counters that prove a full scan and count its rows (see checksumTableCountingRows). */
async function scanCounters(session: Queryable): Promise<{ rndNext: number; rowsRead: number } | null> {
  const rows = await session.query<{ Variable_name: string; Value: string }>("SHOW SESSION STATUS WHERE Variable_name IN ('Handler_read_rnd_next', 'Rows_read')");
  const value = (name: string) => rows.find((r) => r.Variable_name.toLowerCase() === name.toLowerCase())?.Value;
  const rndNext = value("Handler_read_rnd_next");
  const rowsRead = value("Rows_read");
  // MySQL has no Rows_read: no count from the scan there, the caller counts for itself.
  if (rndNext === undefined || rowsRead === undefined || !/^\d+$/.test(rndNext) || !/^\d+$/.test(rowsRead)) return null;
  return { rndNext: Number(rndNext), rowsRead: Number(rowsRead) };
}

/**
 * CHECKSUM TABLE, and the number of rows its full scan read, measured on the same session: MariaDB's Rows_read counts
 * the rows the storage engine handed to the server (temporary tables excluded, so SHOW STATUS itself does not count),
 * Handler_read_rnd_next every step of a table scan, the final end-of-table one included. The count is kept only when
 * the two agree on exactly one scan, Handler_read_rnd_next = Rows_read + 1: a live checksum (MyISAM/Aria CHECKSUM=1)
 * answers without scanning, a partitioned table counts each row twice, a checksum that failed (NULL) may have stopped
 * early; then `rows` is absent and the caller counts for itself. `session` must be one connection.
 */
export async function checksumTableCountingRows(session: Queryable, database: string, table: string): Promise<{ checksum: string | null; rows?: number }> {
  const before = await scanCounters(session);
  const checksum = await checksumTable(session, database, table);
  if (!before || checksum === null) return { checksum };
  const after = await scanCounters(session);
  if (!after) return { checksum };
  const rows = after.rowsRead - before.rowsRead;
  const steps = after.rndNext - before.rndNext;
  return steps === rows + 1 && rows >= 0 ? { checksum, rows } : { checksum };
}

export async function showCreateTable(db: Queryable, database: string, table: string): Promise<string> {
  const rows = await db.query<Record<string, string>>(`SHOW CREATE TABLE ${qualifiedName(database, table)}`);
  const text = rows[0]?.["Create Table"];
  if (text === undefined) throw new Error(`SHOW CREATE TABLE ${database}.${table} returned no definition`);
  return text;
}

/** A table to read from; a system-versioned table with its history rows (what CHECKSUM TABLE reads too). */
export function rowSource(database: string, table: string, type?: string): string {
  return `${qualifiedName(database, table)}${type === "SYSTEM VERSIONED" ? " FOR SYSTEM_TIME ALL" : ""}`;
}

export async function countRows(db: Queryable, database: string, table: string, type?: string): Promise<number> {
  const rows = await countFrom(db, rowSource(database, table, type));
  return Number(rows[0]?.n ?? 0);
}

export interface CheckTableMessage {
  type: string;
  text: string;
}

/** CHECK TABLE's messages: what mysqlcheck prints per table. */
export async function checkTable(db: Queryable, database: string, table: string, extended = false): Promise<CheckTableMessage[]> {
  const rows = await tableStatement(db, "CHECK TABLE", database, table, extended ? " EXTENDED" : "");
  return rows.map((r) => ({ type: r.Msg_type as string, text: r.Msg_text as string }));
}

export async function tableExists(db: Queryable, database: string, table: string): Promise<boolean> {
  const rows = await db.query("SELECT 1 FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ?", [database, table]);
  return rows.length > 0;
}


export interface IndexColumn {
  column: string | null;
  subPart: number | null;
  order: string | null;
}

export interface IndexDefinition {
  name: string;
  unique: boolean;
  type: string;
  columns: IndexColumn[];
}

/** Index definitions from information_schema.STATISTICS, in name order. */
export async function listIndexes(db: Queryable, database: string, table: string): Promise<IndexDefinition[]> {
  const rows = (await catalogRows(
    db,
    "STATISTICS",
    "INDEX_NAME AS name, NON_UNIQUE AS nonUnique, SEQ_IN_INDEX AS seq, COLUMN_NAME AS col, SUB_PART AS sub, COLLATION AS ord, INDEX_TYPE AS type",
    database,
    table,
    "",
    "INDEX_NAME, SEQ_IN_INDEX",
  )) as { name: string; nonUnique: string | number; seq: number; col: string | null; sub: number | null; ord: string | null; type: string }[];
  const byName = new Map<string, IndexDefinition>();
  for (const r of rows) {
    const index = byName.get(r.name) ?? { name: r.name, unique: Number(r.nonUnique) === 0, type: r.type, columns: [] };
    index.columns.push({ column: r.col, subPart: r.sub === null ? null : Number(r.sub), order: r.ord });
    byName.set(r.name, index);
  }
  return [...byName.values()];
}

/** Rows reachable through one B-tree index (FORCE INDEX, a range over its first column: never answered from table metadata). */
export async function countThroughIndex(db: Queryable, database: string, table: string, index: string, firstColumn: string, type?: string): Promise<number> {
  const col = quoteIdent(firstColumn);
  const rows = await countFrom(db, `${rowSource(database, table, type)} FORCE INDEX (${quoteIdent(index)}) WHERE ${col} IS NULL OR ${col} IS NOT NULL`);
  return Number(rows[0]?.n ?? 0);
}

/** The table's AUTO_INCREMENT counter and the largest value in its auto-increment column (null when it has none). */
export async function autoIncrementState(db: Queryable, database: string, table: string): Promise<{ counter: number | null; maxValue: number | null; column: string | null }> {
  const [info] = (await catalogRows(db, "TABLES", "AUTO_INCREMENT AS ai", database, table)) as { ai: string | number | null }[];
  const [column] = (await catalogRows(db, "COLUMNS", "COLUMN_NAME AS name", database, table, "EXTRA LIKE '%auto_increment%'")) as { name: string }[];
  if (!column) return { counter: null, maxValue: null, column: null };
  const [max] = await db.query<{ m: string | number | null }>(`SELECT MAX(${quoteIdent(column.name)}) AS m FROM ${qualifiedName(database, table)}`);
  return {
    counter: info?.ai === null || info?.ai === undefined ? null : Number(info.ai),
    maxValue: max?.m === null || max?.m === undefined ? null : Number(max.m),
    column: column.name,
  };
}

export interface ColumnInfo {
  name: string;
  generated: boolean;
  nullable: boolean;
  /** information_schema.COLUMNS.DATA_TYPE, lower case (int, bigint, varchar, …). */
  dataType: string;
}

export async function listColumns(db: Queryable, database: string, table: string): Promise<ColumnInfo[]> {
  // A generated column has a generation expression on both flavours (MariaDB's IS_GENERATED is not MySQL's).
  const rows = (await catalogRows(
    db,
    "COLUMNS",
    "COLUMN_NAME AS name, COALESCE(GENERATION_EXPRESSION, '') <> '' AS gen, IS_NULLABLE AS nullable, DATA_TYPE AS type",
    database,
    table,
    "",
    "ORDINAL_POSITION",
  )) as { name: string; gen: string | number; nullable: string; type: string }[];
  return rows.map((r) => ({ name: r.name, generated: Number(r.gen) === 1, nullable: r.nullable === "YES", dataType: String(r.type).toLowerCase() }));
}

/** The primary key's columns in order (empty when the table has none). */
export async function primaryKey(db: Queryable, database: string, table: string): Promise<string[]> {
  const rows = (await catalogRows(db, "STATISTICS", "COLUMN_NAME AS col", database, table, "INDEX_NAME = 'PRIMARY'", "SEQ_IN_INDEX")) as { col: string }[];
  return rows.map((r) => r.col);
}

export interface SchemaObject {
  name: string;
  /** The server's own CREATE text, compared verbatim. */
  definition: string;
}

async function showCreate(db: Queryable, what: string, database: string, name: string, column: string): Promise<string> {
  const rows = await db.query<Record<string, string | null>>(`SHOW CREATE ${what} ${qualifiedName(database, name)}`);
  const text = rows[0]?.[column];
  if (text === undefined || text === null) throw new Error(`SHOW CREATE ${what} ${database}.${name} returned no definition (missing privilege?)`);
  return text;
}

export async function listViews(db: Queryable, database: string): Promise<SchemaObject[]> {
  const names = await db.query<{ name: string }>("SELECT TABLE_NAME AS name FROM information_schema.VIEWS WHERE TABLE_SCHEMA = ? ORDER BY TABLE_NAME", [database]);
  return Promise.all(names.map(async ({ name }) => ({ name, definition: await showCreate(db, "VIEW", database, name, "Create View") })));
}

export async function listTriggers(db: Queryable, database: string): Promise<SchemaObject[]> {
  const names = await listTriggerNames(db, database);
  return Promise.all(names.map(async (name) => ({ name, definition: await showCreate(db, "TRIGGER", database, name, "SQL Original Statement") })));
}

export async function listRoutines(db: Queryable, database: string): Promise<SchemaObject[]> {
  const rows = await db.query<{ name: string; type: string }>(
    "SELECT ROUTINE_NAME AS name, ROUTINE_TYPE AS type FROM information_schema.ROUTINES WHERE ROUTINE_SCHEMA = ? ORDER BY ROUTINE_TYPE, ROUTINE_NAME",
    [database],
  );
  return Promise.all(
    rows.map(async ({ name, type }) => ({
      name: `${type.toLowerCase()} ${name}`,
      definition: await showCreate(db, type, database, name, type === "FUNCTION" ? "Create Function" : "Create Procedure"),
    })),
  );
}

/**
 * Events from mysql.event itself: SHOW CREATE EVENT refuses to run while the event scheduler is disabled (as it was on
 * restored servers started with --skip-grant-tables), and the rows say more (created, starts, status).
 */
export async function listEvents(db: Queryable, database: string): Promise<SchemaObject[]> {
  const rows = await db.query<Record<string, string | number | null>>(
    (await dialectOf(db)).eventsQuery,
    [database],
  );
  return rows.map((r) => ({
    name: String(r.name),
    definition: Object.entries(r)
      .filter(([k]) => k !== "name")
      .map(([k, v]) => `${k}: ${v === null ? "NULL" : String(v)}`)
      .join("\n"),
  }));
}

/** InnoDB's foreign keys on a MariaDB server, as its dictionary names them: `db/table` for child and parent, `db/name` for the key. */
export async function innodbForeignKeys(db: Queryable): Promise<{ id: string; child: string; parent: string }[]> {
  return db.query<{ id: string; child: string; parent: string }>("SELECT ID AS id, FOR_NAME AS child, REF_NAME AS parent FROM information_schema.INNODB_SYS_FOREIGN");
}

/** Every stored function on the server: `db.name`, and its name alone in lower case (as a statement calls it). */
export async function storedFunctions(db: Queryable): Promise<{ qualified: string; name: string }[]> {
  return db.query<{ qualified: string; name: string }>(
    "SELECT CONCAT(ROUTINE_SCHEMA, '.', ROUTINE_NAME) AS qualified, LOWER(ROUTINE_NAME) AS name FROM information_schema.ROUTINES WHERE ROUTINE_TYPE = 'FUNCTION'",
  );
}

export async function databaseCharset(db: Queryable, database: string): Promise<{ charset: string; collation: string }> {
  const [row] = await db.query<{ cs: string; co: string }>(
    "SELECT DEFAULT_CHARACTER_SET_NAME AS cs, DEFAULT_COLLATION_NAME AS co FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = ?",
    [database],
  );
  if (!row) throw new Error(`database ${database} does not exist`);
  return { charset: row.cs, collation: row.co };
}

/** The settings that change what stored data means, as the server reports them (all as text). */
export interface ServerSettings {
  version: string;
  lower_case_table_names: string;
  character_set_server: string;
  collation_server: string;
  sql_mode: string;
  innodb_page_size: string;
  explicit_defaults_for_timestamp: string;
  default_storage_engine: string;
  time_zone: string;
  system_time_zone: string;
  /** "yes" when mysql.time_zone_name has rows (named zones such as Europe/Berlin work), else "no". */
  time_zone_tables_loaded: string;
}

export async function serverSettings(db: Queryable): Promise<ServerSettings> {
  const [row] = await db.query<Record<string, unknown>>(
    `SELECT VERSION() AS version, @@lower_case_table_names AS lower_case_table_names,
            @@GLOBAL.character_set_server AS character_set_server, @@GLOBAL.collation_server AS collation_server,
            @@GLOBAL.sql_mode AS sql_mode, @@innodb_page_size AS innodb_page_size,
            @@GLOBAL.explicit_defaults_for_timestamp AS explicit_defaults_for_timestamp,
            @@GLOBAL.default_storage_engine AS default_storage_engine, @@GLOBAL.time_zone AS time_zone,
            @@system_time_zone AS system_time_zone`,
  );
  const [tz] = await db.query<{ n: string | number }>("SELECT COUNT(*) AS n FROM mysql.time_zone_name");
  const text = (name: string) => String(row?.[name] ?? "");
  return {
    version: text("version"),
    lower_case_table_names: text("lower_case_table_names"),
    character_set_server: text("character_set_server"),
    collation_server: text("collation_server"),
    sql_mode: text("sql_mode"),
    innodb_page_size: text("innodb_page_size"),
    explicit_defaults_for_timestamp: text("explicit_defaults_for_timestamp"),
    default_storage_engine: text("default_storage_engine"),
    time_zone: text("time_zone"),
    system_time_zone: text("system_time_zone"),
    time_zone_tables_loaded: Number(tz?.n ?? 0) > 0 ? "yes" : "no",
  };
}

/** How many triggers, routines and events a database holds (for the coverage rule: each needs a check). */
export async function objectCounts(db: Queryable, database: string): Promise<{ triggers: number; routines: number; events: number }> {
  const [row] = await db.query<{ triggers: string | number; routines: string | number; events: string | number }>(
    `SELECT (SELECT COUNT(*) FROM information_schema.TRIGGERS WHERE TRIGGER_SCHEMA = ?) AS triggers,
            (SELECT COUNT(*) FROM information_schema.ROUTINES WHERE ROUTINE_SCHEMA = ?) AS routines,
            (SELECT COUNT(*) FROM information_schema.EVENTS WHERE EVENT_SCHEMA = ?) AS events`,
    [database, database, database],
  );
  return { triggers: Number(row?.triggers ?? 0), routines: Number(row?.routines ?? 0), events: Number(row?.events ?? 0) };
}

/** The trigger names of a database the user can see (information_schema shows only those on tables it may trigger). */
export async function listTriggerNames(db: Queryable, database: string): Promise<string[]> {
  const rows = await db.query<{ name: string }>(
    "SELECT TRIGGER_NAME AS name FROM information_schema.TRIGGERS WHERE TRIGGER_SCHEMA = ? ORDER BY TRIGGER_NAME",
    [database],
  );
  return rows.map((r) => r.name);
}

/**
 * InnoDB's history list length: undo records committed but not yet purged, which an open snapshot or a stopped
 * replica SQL thread holds back. The same counter on MariaDB and MySQL (INNODB_METRICS trx_rseg_history_len, its
 * on/off column per flavour); null where it was disabled (innodb_monitor_disable).
 */
export async function historyListLength(db: Queryable): Promise<number | null> {
  const [row] = await db.query<{ n: number | string; enabled: number | string }>((await dialectOf(db)).historyListQuery);
  return row && Number(row.enabled) === 1 ? Number(row.n) : null;
}
