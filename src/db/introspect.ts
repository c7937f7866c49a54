// Introspection queries: what databases, tables and positions a server has, written once for baseline and verify.
import type { Db } from "./connection.ts";
import { qualifiedName } from "./quote.ts";

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

export async function serverInfo(db: Db): Promise<ServerInfo> {
  const [row] = await db.query<{ version: string }>("SELECT VERSION() AS version");
  const version = String(row?.version ?? "");
  return { version, flavor: /mariadb/i.test(version) ? "mariadb" : "mysql" };
}

export async function listDatabases(db: Db): Promise<string[]> {
  const rows = await db.query<{ name: string }>("SELECT SCHEMA_NAME AS name FROM information_schema.SCHEMATA ORDER BY SCHEMA_NAME");
  return rows.map((r) => r.name).filter((name) => !SYSTEM_DATABASES.includes(name));
}

export async function listTables(db: Db, database: string): Promise<TableInfo[]> {
  const rows = await db.query<{ name: string; type: string; engine: string | null; size: string | null }>(
    `SELECT TABLE_NAME AS name, TABLE_TYPE AS type, ENGINE AS engine,
            COALESCE(DATA_LENGTH, 0) + COALESCE(INDEX_LENGTH, 0) AS size
       FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? ORDER BY TABLE_NAME`,
    [database],
  );
  return rows.map((r) => ({ database, name: r.name, type: r.type, engine: r.engine, sizeBytes: Number(r.size ?? 0) }));
}

export async function databaseExists(db: Db, database: string): Promise<boolean> {
  const rows = await db.query("SELECT 1 FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = ?", [database]);
  return rows.length > 0;
}

/** The binlog position and GTID state the server is at now (null when binary logging is off). */
export async function binlogPosition(db: Db): Promise<BinlogPosition | null> {
  const status = await db.query<{ File: string; Position: string | number }>("SHOW MASTER STATUS");
  const first = status[0];
  if (!first) return null;
  const [gtid] = await db.query<{ gtid: string | null }>("SELECT @@GLOBAL.gtid_binlog_pos AS gtid");
  return { file: first.File, position: Number(first.Position), gtid: String(gtid?.gtid ?? "") };
}

export async function checksumTable(db: Db, database: string, table: string): Promise<string | null> {
  const rows = await db.query<{ Checksum: string | number | null }>(`CHECKSUM TABLE ${qualifiedName(database, table)}`);
  const value = rows[0]?.Checksum;
  return value === null || value === undefined ? null : String(value);
}

export async function showCreateTable(db: Db, database: string, table: string): Promise<string> {
  const rows = await db.query<Record<string, string>>(`SHOW CREATE TABLE ${qualifiedName(database, table)}`);
  const text = rows[0]?.["Create Table"];
  if (text === undefined) throw new Error(`SHOW CREATE TABLE ${database}.${table} returned no definition`);
  return text;
}

export async function countRows(db: Db, database: string, table: string): Promise<number> {
  const rows = await db.query<{ n: string | number }>(`SELECT COUNT(*) AS n FROM ${qualifiedName(database, table)}`);
  return Number(rows[0]?.n ?? 0);
}

export interface CheckTableMessage {
  type: string;
  text: string;
}

/** CHECK TABLE's messages: what mysqlcheck prints per table. */
export async function checkTable(db: Db, database: string, table: string): Promise<CheckTableMessage[]> {
  const rows = await db.query<{ Msg_type: string; Msg_text: string }>(`CHECK TABLE ${qualifiedName(database, table)}`);
  return rows.map((r) => ({ type: r.Msg_type, text: r.Msg_text }));
}

export async function tableExists(db: Db, database: string, table: string): Promise<boolean> {
  const rows = await db.query("SELECT 1 FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ?", [database, table]);
  return rows.length > 0;
}

