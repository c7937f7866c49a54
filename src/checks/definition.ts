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

/**
 * Where a table's files live (`DATA DIRECTORY='…'`, `INDEX DIRECTORY='…'`, of the table or of a partition) is the
 * host's, not the table's: a restore keeps every file in its own datadir, so SHOW CREATE TABLE there has no such clause.
 */
const PLACEMENT = / (?:DATA|INDEX) DIRECTORY ?= ?'(?:[^'\\]|\\.|'')*'/g;

export function withoutPlacement(createTable: string): string {
  return createTable.replace(PLACEMENT, "");
}

export const definition: TableCheck<z.infer<typeof Schema>> = {
  name: "definition",
  scope: "table",
  description: "SHOW CREATE TABLE equals the baseline's (columns, types, charset, indexes, engine)",
  schema: Schema,
  capture: async (db, t) => splitAutoIncrement(await showCreateTable(db, t.database, t.table)),
  compare(expected, actual, t) {
    const [before, after] = [withoutPlacement(expected.createTable), withoutPlacement(actual.createTable)];
    if (before === after) {
      const placed = before !== expected.createTable || after !== actual.createTable;
      return { ok: true, summary: placed ? "definition unchanged (DATA/INDEX DIRECTORY not compared: a restore keeps the files in its own datadir)" : "definition unchanged" };
    }
    const diff = unifiedDiff(before, after, "baseline", "restored");
    // The changed lines, after the two header lines: the first (`CREATE TABLE`) and last (`) ENGINE=…`) count too.
    const changed = diff
      .split("\n")
      .slice(2)
      .filter((l) => /^[-+]/.test(l))
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
