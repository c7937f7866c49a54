// What a check is: capture a property of one table, and compare the baseline's value with the restored one.
import type { z } from "zod";
import type { Db } from "../db/connection.ts";

export interface TableRef {
  database: string;
  table: string;
}

/** A check's verdict for one table. Messages never hold row data: restored data is production data. */
export type Finding =
  | { ok: true; summary: string }
  | { ok: false; message: string; expected?: string; actual?: string; diff?: string };

export interface TableCheck<T = unknown> {
  name: string;
  /** One line for docs and reports. */
  description: string;
  /** The shape this check stores in the manifest. */
  schema: z.ZodType<T>;
  capture(db: Db, table: TableRef): Promise<T>;
  compare(expected: T, actual: T, table: TableRef): Finding;
}
