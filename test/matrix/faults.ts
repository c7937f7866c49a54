// Faults the matrix injects into generated objects: for each kind of object a schema holds, how to break one on the
// restored server, and exactly which tests must go red (the first names the object in its message).
import { escape as literal } from "mysql2";
import { qualifiedName, quoteIdent } from "../../src/db/quote.ts";
import type { Schema, Table } from "./schema.ts";

export interface MatrixFault {
  /** What is broken, and how: `trigger dropped`. */
  kind: string;
  /** The object, as the report names it. */
  object: string;
  /** The name a red message must show. */
  named: string;
  /** Run on the restored server (foreign_key_checks off). */
  sql: string[];
  /** Exactly these tests go red (`db.t:check`, `db:check`, `accounts`); the first one's message names the object. */
  red: string[];
}

const key = (t: { database: string; name: string }, check: string) => `${t.database}.${t.name}:${check}`;

/**
 * Whether a routine grant to `user` in `where` (a database, or `db.routine`) means anything once the grant tables are
 * read from disk. MariaDB 10.11 writes mysql.procs_priv's Db and User double-encoded when they go beyond ASCII ("dé"
 * as 64 C383 C2A9, where mysql.db, mysql.tables_priv and mysql.proc hold 64 C3A9): after any restart (any restore)
 * such a grant matches no routine, DROP leaves it and REVOKE says "There is no such grant". Found by this matrix
 * (MariaDB seeds 1, 3, 4): a server bug, not restoretest's (the grant tables are compared as stored, and equal).
 * MySQL 9.7 shows the same symptom for a user name beyond ASCII (seed 2: on the restored server REVOKE EXECUTE said "There is
 * no such grant defined for user 'u_ñé名前29'o'", and DROP left the grant).
 */
function routineGrantLoads(user: string, where: string): boolean {
  const ascii = (x: string) => /^[\x20-\x7e]*$/.test(x);
  return ascii(user) && ascii(where);
}

/** Every fault the schema offers, one or more per kind of object, in a stable order. */
export function faultsOf(s: Schema): MatrixFault[] {
  const mysql = s.flavor === "mysql";
  const out: MatrixFault[] = [];
  const label = (t: { database: string; name: string }) => `${t.database}.${t.name}`;
  const withRows = (t: Table) => t.rows.length > 0 && !t.versioned;
  for (const t of s.tables) {
    const q = qualifiedName(t.database, t.name);
    if (withRows(t)) {
      out.push({ kind: "row changed", object: label(t), named: t.name, sql: [`UPDATE ${q} SET ${quoteIdent(t.n)} = COALESCE(${quoteIdent(t.n)}, 0) + 7 ORDER BY ${quoteIdent(t.pk)} LIMIT 1`], red: [key(t, "checksum")] });
      out.push({ kind: "row deleted", object: label(t), named: t.name, sql: [`DELETE FROM ${q} ORDER BY ${quoteIdent(t.pk)} LIMIT 1`], red: [key(t, "checksum"), key(t, "rowCount")] });
    }
    if (t.versioned && t.rows.some((_, i) => (i + 1) % 3 === 0)) {
      out.push({ kind: "history rows lost", object: label(t), named: t.name, sql: [`DELETE HISTORY FROM ${q}`], red: [key(t, "checksum"), key(t, "rowCount")] });
    }
    for (const ix of t.indexes) {
      // A functional index is a hidden generated column too: its loss changes CHECKSUM TABLE as well, unless the table
      // has generated columns of its own, whose rows are compared by the row hash of their stored columns (checksum.ts).
      const hashed = t.columns.some((c) => c.generated);
      const red = [key(t, "definition"), key(t, "indexes"), ...(ix.kind === "functional" && !hashed ? [key(t, "checksum")] : [])];
      out.push({ kind: `${ix.kind === "key" ? "secondary" : ix.kind} index dropped`, object: `${label(t)}.${ix.name}`, named: t.name, sql: [`ALTER TABLE ${q} DROP INDEX ${quoteIdent(ix.name)}`], red });
    }
    for (const c of t.checks) out.push({ kind: "CHECK constraint dropped", object: `${label(t)}.${c.name}`, named: t.name, sql: [`ALTER TABLE ${q} DROP CONSTRAINT ${quoteIdent(c.name)}`], red: [key(t, "definition")] });
    if (t.foreignKey) {
      out.push({ kind: "foreign key dropped", object: `${label(t)}.${t.foreignKey.name}`, named: t.name, sql: [`ALTER TABLE ${q} DROP FOREIGN KEY ${quoteIdent(t.foreignKey.name)}`], red: [key(t, "definition")] });
    }
  }
  for (const v of s.views) {
    const dependents = s.views.some((o) => o.database === v.database && o.from === v.name);
    out.push({
      kind: "view changed",
      object: label(v),
      named: v.name,
      sql: [`CREATE OR REPLACE VIEW ${qualifiedName(v.database, v.name)} AS SELECT ${v.columns.map(quoteIdent).join(", ")} FROM ${qualifiedName(v.database, v.from)} WHERE ${v.where} AND 1 = 0`],
      red: [`${v.database}:views`],
    });
    if (!dependents) out.push({ kind: "view dropped", object: label(v), named: v.name, sql: [`DROP VIEW ${qualifiedName(v.database, v.name)}`], red: [`${v.database}:views`, `${v.database}:tables`] });
  }
  for (const tr of s.triggers) out.push({ kind: "trigger dropped", object: label(tr), named: tr.name, sql: [`DROP TRIGGER ${qualifiedName(tr.database, tr.name)}`], red: [`${tr.database}:triggers`] });
  for (const r of s.routines) {
    // A routine's grants go with it (automatic_sp_privileges); on MariaDB it is a row of mysql.proc, compared too.
    const granted = s.accounts.some((a) => a.grants.some((g) => g.level === "routine" && g.on === `${r.database}.${r.name}` && routineGrantLoads(a.user, r.database)));
    const proc = mysql ? [] : ["mysql.proc:checksum"];
    out.push({
      kind: "routine dropped",
      object: label(r),
      named: r.name,
      sql: [`DROP ${r.kind} ${qualifiedName(r.database, r.name)}`],
      red: [`${r.database}:routines`, ...proc, ...(mysql ? [] : ["mysql.proc:rowCount"]), ...(granted ? ["accounts"] : [])],
    });
  }
  for (const e of s.events) {
    // MariaDB refuses DROP EVENT while the scheduler is off (as on a restored server): its row goes, as a lost restore's would.
    const sql = mysql ? `DROP EVENT ${qualifiedName(e.database, e.name)}` : `DELETE FROM mysql.event WHERE db = ${literal(e.database)} AND name = ${literal(e.name)}`;
    out.push({ kind: "event dropped", object: label(e), named: e.name, sql: [sql], red: [`${e.database}:events`] });
  }
  for (const q of s.sequences) {
    out.push({ kind: "sequence state changed", object: label(q), named: q.name, sql: [`ALTER SEQUENCE ${qualifiedName(q.database, q.name)} RESTART WITH ${q.start + 500}`], red: [key(q, "checksum")] });
  }
  for (const a of s.accounts) {
    const who = a.role && !mysql ? literal(a.user) : `${literal(a.user)}@${literal(a.host)}`;
    for (const g of a.grants) {
      if (g.level === "routine" && !routineGrantLoads(a.user, g.on)) continue;
      out.push({ kind: `${g.level} grant revoked`, object: `${a.user} on ${g.on}`, named: a.user, sql: [g.revoke], red: ["accounts"] });
    }
    if (!a.role) {
      out.push({ kind: "account dropped", object: `'${a.user}'@'${a.host}'`, named: a.user, sql: [`DROP USER ${who}`], red: ["accounts"] });
      out.push({ kind: "password changed", object: `'${a.user}'@'${a.host}'`, named: a.user, sql: [`ALTER USER ${who} IDENTIFIED BY ${literal(`${a.password}!`)}`], red: ["accounts"] });
    }
  }
  return out;
}

/**
 * One fault of each kind, the object picked by `pick` (the seed's choice); then grouped into batches whose red tests do
 * not overlap, so that several faults share one restore and each red test still belongs to exactly one fault.
 */
export function faultBatches(faults: readonly MatrixFault[], pick: (n: number) => number): MatrixFault[][] {
  const byKind = new Map<string, MatrixFault[]>();
  for (const f of faults) byKind.set(f.kind, [...(byKind.get(f.kind) ?? []), f]);
  const each = [...byKind.values()].map((list) => list[pick(list.length)] as MatrixFault);
  // The accounts test is one per restore: two account faults a schema (of the kinds it offers, the seed's pick), not one per kind.
  const accounts = each.filter((f) => f.red[0] === "accounts");
  const keep = new Set<MatrixFault>();
  const left = [...accounts];
  while (keep.size < 2 && left.length > 0) keep.add(left.splice(pick(left.length), 1)[0] as MatrixFault);
  const chosen = each.filter((f) => f.red[0] !== "accounts" || keep.has(f));
  const batches: { faults: MatrixFault[]; keys: Set<string>; tables: Set<string> }[] = [];
  for (const f of chosen) {
    // Faults on the same table, or with a red test in common, go to different restores.
    const table = f.red.find((k) => /\.[^:]*:/.test(k))?.replace(/:.*$/, "") ?? f.object;
    const batch = batches.find((b) => !f.red.some((k) => b.keys.has(k)) && !b.tables.has(table));
    if (batch) {
      batch.faults.push(f);
      f.red.forEach((k) => batch.keys.add(k));
      batch.tables.add(table);
    } else batches.push({ faults: [f], keys: new Set(f.red), tables: new Set([table]) });
  }
  return batches.map((b) => b.faults);
}
