// indexes: every index is defined as in the baseline, and each B-tree index reaches exactly the table's rows.
import { z } from "zod";
import { countRows, countThroughIndex, listIndexes } from "../db/introspect.ts";
import type { TableCheck } from "./types.ts";

const Index = z.strictObject({
  name: z.string(),
  unique: z.boolean(),
  type: z.string(),
  columns: z.array(z.strictObject({ column: z.string().nullable(), subPart: z.number().nullable(), order: z.string().nullable() })),
  /** Rows counted through this index; null where an index cannot be scanned on its own (FULLTEXT, SPATIAL). */
  rows: z.number().int().nullable(),
});
const Schema = z.strictObject({ tableRows: z.number().int(), indexes: z.array(Index) });
type Value = z.infer<typeof Schema>;

const shape = (i: z.infer<typeof Index>): string =>
  `${i.unique ? "UNIQUE " : ""}${i.type} ${i.name} (${i.columns.map((c) => `${c.column ?? "expr"}${c.subPart ? `(${c.subPart})` : ""}${c.order === "D" ? " DESC" : ""}`).join(", ")})`;

export const indexes: TableCheck<Value> = {
  name: "indexes",
  scope: "table",
  description: "index definitions equal the baseline's and every B-tree index reaches exactly the table's rows",
  scan: "uses",
  schema: Schema,
  async capture(db, t, context) {
    // Each index's count is compared with the table's rows: the checksum's full scan counted them when it ran (the
    // clustered index for InnoDB, the data file for MyISAM), else COUNT(*).
    const tableRows = context.scan?.rows ?? (await countRows(db, t.database, t.table, context.type));
    const defs = await listIndexes(db, t.database, t.table);
    const out: Value["indexes"] = [];
    for (const d of defs) {
      const first = d.columns[0]?.column;
      const scannable = d.type === "BTREE" && first;
      out.push({ ...d, rows: scannable ? await countThroughIndex(db, t.database, t.table, d.name, first, context.type) : null });
    }
    return { tableRows, indexes: out };
  },
  compare(expected, actual, t) {
    const problems: string[] = [];
    const restored = new Map(actual.indexes.map((i) => [i.name, i]));
    const baseline = new Map(expected.indexes.map((i) => [i.name, i]));
    for (const e of expected.indexes) {
      const a = restored.get(e.name);
      if (!a) problems.push(`index ${e.name} is missing (baseline: ${shape(e)})`);
      else if (shape(a) !== shape(e)) problems.push(`index ${e.name} changed: ${shape(a)}, baseline ${shape(e)}`);
    }
    for (const a of actual.indexes) if (!baseline.has(a.name)) problems.push(`index ${a.name} is not in the baseline: ${shape(a)}`);
    for (const a of actual.indexes) {
      if (a.rows !== null && a.rows !== actual.tableRows) {
        problems.push(`index ${a.name} reaches ${a.rows} rows but the table has ${actual.tableRows}: the index is damaged (rebuild it)`);
      }
    }
    if (problems.length === 0) return { ok: true, summary: `${actual.indexes.length} indexes, each reaching ${actual.tableRows} rows` };
    return { ok: false, message: `indexes of ${t.database}.${t.table}:\n${problems.map((p) => `  ${p}`).join("\n")}` };
  },
};
