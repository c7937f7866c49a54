// What a check is: capture a property of one table (or database), and compare the baseline's value with the restored one.
import type { z } from "zod";
import type { Queryable } from "../db/connection.ts";
import type { ReadLanes } from "./lanes.ts";

export interface TableRef {
  database: string;
  table: string;
}

/** A check's verdict. Messages never hold row data: restored data is production data. */
export type Finding =
  | { ok: true; summary: string }
  | { ok: false; message: string; expected?: string; actual?: string; diff?: string; attachments?: Record<string, string> };

/** Tuning every table check may read. */
export interface CheckOptions {
  /** Tables at least this big (bytes, server estimate) get per-primary-key-range chunk checksums. */
  chunkMinBytes: number;
  /** Rows per chunk. */
  chunkRows: number;
  /** Run CHECK TABLE ... EXTENDED instead of the default (much slower, finds more). */
  extendedCheck: boolean;
}

export const DEFAULT_CHECK_OPTIONS: CheckOptions = { chunkMinBytes: 256 * 1024 * 1024, chunkRows: 100_000, extendedCheck: false };

/**
 * One table's full scan, shared by the checks of that table (captureTableChecks passes the same object to each): the
 * check that scans anyway (checksum: CHECKSUM TABLE reads every row) records how many rows the scan read, so checks that
 * need the row count (rowCount, indexes) do not scan again.
 */
export interface TableScan {
  /** Rows the scan read, measured on the restored (or source) server; absent when no scan could be counted. */
  rows?: number;
  /**
   * CHECK TABLE runs on this table in the same capture (the integrity check). It reports the table corrupt unless every
   * index holds exactly as many entries as the table has rows, so a count through any index (what COUNT(*) reads) then
   * equals the scan's: the scan's count may stand in for COUNT(*).
   */
  indexCountsChecked: boolean;
}

export interface TableCaptureContext<T> {
  sizeBytes: number;
  /** The table's storage engine, where known (information_schema.TABLES.ENGINE). */
  engine?: string | null;
  /** information_schema.TABLES.TABLE_TYPE (BASE TABLE, SYSTEM VERSIONED, SEQUENCE), where known. */
  type?: string;
  options: CheckOptions;
  /** On the restored server: the baseline's value, so the same chunk boundaries are measured. */
  baseline?: T;
  /** Present when a check of this capture scans the table and another could use the count (see TableScan). */
  scan?: TableScan;
  /** Other sessions that read the same state, free to take this table's independent reads (lanes.ts). */
  lanes?: ReadLanes;
}

export interface TableCheck<T = unknown> {
  name: string;
  scope: "table";
  /** The statement commits implicitly (CHECK TABLE): never run inside a baseline's snapshot transaction. */
  implicitCommit?: boolean;
  /** One line for docs and reports. */
  description: string;
  /** `produces`: scans the whole table anyway and records the rows it read; `uses`: needs the table's row count. */
  scan?: "produces" | "uses";
  /** Fails unless every index holds as many entries as the table has rows (CHECK TABLE). */
  checksIndexCounts?: boolean;
  /** The shape this check stores in the manifest. */
  schema: z.ZodType<T>;
  capture(db: Queryable, table: TableRef, context: TableCaptureContext<T>): Promise<T>;
  compare(expected: T, actual: T, table: TableRef): Finding;
}

/** A property of a whole database: its set of tables, views, triggers, routines, events, charset. */
export interface DatabaseCheck<T = unknown> {
  name: string;
  scope: "database";
  description: string;
  schema: z.ZodType<T>;
  capture(db: Queryable, database: string): Promise<T>;
  compare(expected: T, actual: T, database: string): Finding;
}

/** What a server-wide capture needs beyond the connection. */
export interface ServerCaptureContext {
  /**
   * Key of the keyed digest that stands in for every password hash (HMAC-SHA256): hashes never reach the manifest, a
   * report or a message, yet a changed password is still seen. Absent: passwords cannot be compared (named, red).
   */
  digestKey?: Buffer;
  /** Accounts this tool made itself on the restored server (the verifier), left out of every comparison. */
  ignoreAccounts?: readonly { user: string; host: string }[];
  /** The backup is a logical dump: its restore creates the accounts anew, so they are compared as SHOW CREATE USER / SHOW GRANTS render them. */
  logical?: boolean;
}

/** A property of the whole server: its accounts and grants, its settings. */
export interface ServerCheck<T = unknown> {
  name: string;
  scope: "server";
  description: string;
  schema: z.ZodType<T>;
  capture(db: Queryable, context: ServerCaptureContext): Promise<T>;
  compare(expected: T, actual: T): Finding;
}

export type Check = TableCheck | DatabaseCheck | ServerCheck;
