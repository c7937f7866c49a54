// checksum: CHECKSUM TABLE over every row, equal before and after the restore.
import { z } from "zod";
import { checksumTable } from "../db/introspect.ts";
import type { TableCheck } from "./types.ts";

const Schema = z.strictObject({ checksum: z.string().nullable() });

export const checksum: TableCheck<z.infer<typeof Schema>> = {
  name: "checksum",
  description: "CHECKSUM TABLE of all rows equals the baseline's",
  schema: Schema,
  capture: async (db, t) => ({ checksum: await checksumTable(db, t.database, t.table) }),
  compare(expected, actual, t) {
    if (expected.checksum === actual.checksum) return { ok: true, summary: `checksum ${actual.checksum}` };
    return {
      ok: false,
      message: `table data differs from the baseline: CHECKSUM TABLE ${t.database}.${t.table} is ${actual.checksum}, baseline ${expected.checksum}`,
      expected: String(expected.checksum),
      actual: String(actual.checksum),
    };
  },
};
