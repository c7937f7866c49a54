// integrity: CHECK TABLE (what mysqlcheck runs) reports status OK on the restored server.
import { z } from "zod";
import { checkTable } from "../db/introspect.ts";
import type { TableCheck } from "./types.ts";

const Schema = z.strictObject({ status: z.string(), messages: z.array(z.strictObject({ type: z.string(), text: z.string() })) });

export const integrity: TableCheck<z.infer<typeof Schema>> = {
  name: "integrity",
  scope: "table",
  implicitCommit: true,
  // InnoDB: "Index … contains N entries, should be M"; MyISAM: "Found N keys of M". Either makes the status not OK.
  checksIndexCounts: true,
  description: "CHECK TABLE reports status OK (EXTENDED when the service asks for it)",
  schema: Schema,
  async capture(db, t, context) {
    const messages = await checkTable(db, t.database, t.table, context.options.extendedCheck);
    const status = messages.findLast((m) => m.type.toLowerCase() === "status")?.text ?? "no status";
    return { status, messages };
  },
  compare(_expected, actual, t) {
    const problems = actual.messages.filter((m) => m.type.toLowerCase() !== "status" || m.text !== "OK");
    if (actual.status === "OK" && problems.length === 0) return { ok: true, summary: "CHECK TABLE: OK" };
    const detail = problems.map((m) => `  ${m.type}: ${m.text}`).join("\n");
    return {
      ok: false,
      message: `CHECK TABLE ${t.database}.${t.table} status is "${actual.status}", expected "OK"${detail ? `:\n${detail}` : ""}`,
      expected: "OK",
      actual: actual.status,
    };
  },
};
