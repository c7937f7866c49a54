// autoIncrement: the restored AUTO_INCREMENT counter is ahead of the data and not behind the baseline's.
import { z } from "zod";
import { autoIncrementState } from "../db/introspect.ts";
import type { TableCheck } from "./types.ts";

const Schema = z.strictObject({ counter: z.number().int().nullable(), maxValue: z.number().nullable(), column: z.string().nullable() });

export const autoIncrement: TableCheck<z.infer<typeof Schema>> = {
  name: "autoIncrement",
  scope: "table",
  description: "the AUTO_INCREMENT counter is above the largest id, restored and baseline (else new inserts fail)",
  schema: Schema,
  capture: (db, t) => autoIncrementState(db, t.database, t.table),
  compare(expected, actual, t) {
    if (actual.column === null) return { ok: true, summary: "no AUTO_INCREMENT column" };
    const problems: string[] = [];
    if (actual.counter !== null && actual.maxValue !== null && actual.counter <= actual.maxValue) {
      problems.push(`counter ${actual.counter} is not above the largest ${actual.column} ${actual.maxValue}: the next insert collides`);
    }
    // The baseline's MAX() is read inside its snapshot; its live counter may be ahead of that instant, so it is not compared.
    if (actual.counter !== null && expected.maxValue !== null && actual.counter <= expected.maxValue) {
      problems.push(`counter ${actual.counter} is behind the baseline's largest ${actual.column} ${expected.maxValue}: ids already handed out would be reused`);
    }
    if (problems.length === 0) return { ok: true, summary: `AUTO_INCREMENT ${actual.counter} > max ${actual.column} ${actual.maxValue}` };
    return { ok: false, message: `AUTO_INCREMENT of ${t.database}.${t.table}: ${problems.join("; ")}`, expected: `> ${expected.maxValue}`, actual: String(actual.counter) };
  },
};
