// rowCount: the exact COUNT(*), equal before and after the restore.
import { z } from "zod";
import { countRows } from "../db/introspect.ts";
import type { TableCheck } from "./types.ts";

const Schema = z.strictObject({ rows: z.number().int().nonnegative() });

export const rowCount: TableCheck<z.infer<typeof Schema>> = {
  name: "rowCount",
  scope: "table",
  description: "exact COUNT(*) equals the baseline's",
  scan: "uses",
  schema: Schema,
  async capture(db, t, context) {
    // The rows the checksum's CHECKSUM TABLE scan read on this server, counted by the server (checksumTableCountingRows):
    // a second full pass for COUNT(*) would read the same rows again. Taken only where CHECK TABLE runs too, which fails
    // unless every index holds exactly that many entries, so nothing COUNT(*) could see through an index is lost.
    if (context.scan?.rows !== undefined && context.scan.indexCountsChecked) return { rows: context.scan.rows };
    return { rows: await countRows(db, t.database, t.table, context.type) };
  },
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
