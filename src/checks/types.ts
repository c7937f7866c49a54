// What a check is: capture a property of one table (or database), and compare the baseline's value with the restored one.
import type { z } from "zod";
import type { Queryable } from "../db/connection.ts";

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

export interface TableCaptureContext<T> {
  sizeBytes: number;
  options: CheckOptions;
  /** On the restored server: the baseline's value, so the same chunk boundaries are measured. */
  baseline?: T;
}

export interface TableCheck<T = unknown> {
  name: string;
  scope: "table";
  /** The statement commits implicitly (CHECK TABLE): never run inside a baseline's snapshot transaction. */
  implicitCommit?: boolean;
  /** One line for docs and reports. */
  description: string;
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

export type Check = TableCheck | DatabaseCheck;
