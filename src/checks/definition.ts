// definition: SHOW CREATE TABLE equals the baseline's; a difference comes with a unified diff.
import { z } from "zod";
import { showCreateTable } from "../db/introspect.ts";
import type { TableCheck } from "./types.ts";
import { unifiedDiff } from "./diff.ts";

const Schema = z.strictObject({ createTable: z.string(), autoIncrement: z.number().int().nullable() });

/** AUTO_INCREMENT moves with every insert; it is kept beside the definition, not inside it. */
export function splitAutoIncrement(createTable: string): { createTable: string; autoIncrement: number | null } {
  const match = / AUTO_INCREMENT=(\d+)/.exec(createTable);
  return {
    createTable: createTable.replace(/ AUTO_INCREMENT=\d+/, ""),
    autoIncrement: match ? Number(match[1]) : null,
  };
}

export const definition: TableCheck<z.infer<typeof Schema>> = {
  name: "definition",
  scope: "table",
  description: "SHOW CREATE TABLE equals the baseline's (columns, types, charset, indexes, engine)",
  schema: Schema,
  capture: async (db, t) => splitAutoIncrement(await showCreateTable(db, t.database, t.table)),
  compare(expected, actual, t) {
    if (expected.createTable === actual.createTable) return { ok: true, summary: "definition unchanged" };
    const diff = unifiedDiff(expected.createTable, actual.createTable, "baseline", "restored");
    const changed = diff
      .split("\n")
      .filter((l) => /^[-+]\s/.test(l))
      .slice(0, 6)
      .join("\n");
    return {
      ok: false,
      message: `definition of ${t.database}.${t.table} differs from the baseline:\n${changed}`,
      expected: expected.createTable,
      actual: actual.createTable,
      diff,
    };
  },
};
