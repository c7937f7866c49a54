// A table's state for comparing a restored copy with the original: its checksum and every row in order.
import type { TableName } from "../../src/db/quote.ts";
import type { Db } from "../../src/db/connection.ts";

export type TableState = { checksum: string; rows: string };

export async function tableState(on: Db, table: TableName): Promise<TableState> {
  const q = `\`${table.database}\`.\`${table.table}\``;
  const [sum] = await on.query<{ Checksum: string }>(`CHECKSUM TABLE ${q}`);
  const rows = await on.query(`SELECT * FROM ${q} ORDER BY 1, 2`);
  return { checksum: String(sum?.Checksum), rows: JSON.stringify(rows) };
}

/**
 * Records in `before` each table's state and a time a second before `statement` breaks it, then runs `around` (a write
 * to another table, so the breaking statement is not the archive's last event).
 */
export function breaker(db: Db, before: Map<string, { state: TableState; at: Date }>) {
  return async (table: TableName, statement: string, around: string): Promise<void> => {
    before.set(table.table, { state: await tableState(db, table), at: new Date(Date.now() - 1000) });
    await db.query(statement);
    await db.query(around);
  };
}
