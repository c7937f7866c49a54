// rowCount: the exact COUNT(*), equal before and after the restore.
import { z } from "zod";
import { countRows } from "../db/introspect.ts";
import type { TableCheck } from "./types.ts";

const Schema = z.strictObject({ rows: z.number().int().nonnegative() });

export const rowCount: TableCheck<z.infer<typeof Schema>> = {
  name: "rowCount",
  scope: "table",
  description: "exact COUNT(*) equals the baseline's",
  schema: Schema,
  capture: async (db, t) => ({ rows: await countRows(db, t.database, t.table) }),
  compare(expected, actual, t) {
    if (expected.rows === actual.rows) return { ok: true, summary: `${actual.rows} rows` };
    const delta = actual.rows - expected.rows;
    return {
      ok: false,
      message: `row count differs: ${t.database}.${t.table} has ${actual.rows} rows, baseline ${expected.rows} (${delta > 0 ? "+" : ""}${delta})`,
      expected: String(expected.rows),
      actual: String(actual.rows),
    };
  },
};
