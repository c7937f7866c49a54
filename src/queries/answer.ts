// Asking a team query read-only within its time limit, and the keyed digest that stands for its answer: the rows
// themselves are compared in memory and never written or printed anywhere (they are production data).
import { createHash, createHmac } from "node:crypto";
import type { Dialect } from "../server/flavor.ts";
import { formatDuration } from "../base/duration.ts";
import { ServerError, type Answer, type Queryable, type Session } from "../db/connection.ts";
import { PLACEHOLDERS, runnable, substitute } from "../config/querySql.ts";

/** One query as it is run: its name, its SQL as written (placeholders in it), and its limit. */
export interface TeamQuery {
  name: string;
  sql: string;
  timeoutMs: number;
}

export type Asked =
  | { ok: true; answer: Answer; durationMs: number }
  | { ok: false; timedOut: boolean; message: string; durationMs: number };

/** What the manifest keeps of one `expect: baseline` query's answer at the snapshot: never a row. */
export interface BaselineAnswer {
  name: string;
  /** Keyed digest of the SQL the answer is for: a query changed since the backup is named, not compared. */
  sql: string;
  rows?: number;
  /** Keyed digest of the answer (columns and rows, in any order). */
  digest?: string;
  /** Why the source gave no answer (timed out, refused): the nightly test says so. */
  error?: string;
}

/** ER_QUERY_INTERRUPTED: what KILL QUERY (the backstop below) ends a statement with. */
const QUERY_INTERRUPTED = 1317;
/** After its limit, how long a statement the server's own limit did not stop may go on before KILL QUERY stops it. */
const KILL_GRACE_MS = 2000;

/** Begin the read-only transaction queries run in; `snapshot`: at a consistent snapshot (opened under the baseline's lock). */
export async function beginReadOnly(session: Session, snapshot = false): Promise<void> {
  await session.query(snapshot ? "START TRANSACTION WITH CONSISTENT SNAPSHOT, READ ONLY" : "START TRANSACTION READ ONLY");
}

/** The placeholders' values now, on the server behind `db` (under the baseline's lock: the snapshot's moment). */
export async function readPlaceholders(db: Queryable): Promise<Record<string, string>> {
  const columns = Object.entries(PLACEHOLDERS).map(([name, expression]) => `${expression} AS ${name}`);
  const [row] = await db.query(`SELECT ${columns.join(", ")}`);
  return Object.fromEntries(Object.keys(PLACEHOLDERS).map((name) => [name, String(row?.[name])]));
}

/**
 * Ask `sql` on `session` (inside a read-only transaction), stopped after `timeoutMs`: by the server's own statement
 * limit, and where that does not apply (MySQL's covers SELECT only) by KILL QUERY from `killer`, another connection of
 * the same account. A statement the limit interrupts quietly (SLEEP returns 1) still took the whole limit: timed out.
 */
export async function ask(session: Session, killer: Queryable, dialect: Dialect, sql: string, timeoutMs: number): Promise<Asked> {
  const [row] = await session.query<{ id: number | string }>("SELECT CONNECTION_ID() AS id");
  const id = Number(row?.id);
  await session.query(dialect.statementTimeout.set(timeoutMs));
  const started = performance.now();
  const backstop = setTimeout(() => void killer.query(`KILL QUERY ${id}`).catch(() => undefined), timeoutMs + KILL_GRACE_MS);
  const timedOut = (): Asked => {
    const durationMs = performance.now() - started;
    return { ok: false, timedOut: true, durationMs, message: `did not answer within its timeout of ${formatDuration(timeoutMs)} (stopped after ${formatDuration(durationMs)}); raise verify.queryTimeout or the query's timeout` };
  };
  try {
    const answer = await session.answer(runnable(sql));
    if (performance.now() - started >= timeoutMs) return timedOut();
    return { ok: true, answer, durationMs: performance.now() - started };
  } catch (error) {
    const errno = error instanceof ServerError ? error.errno : undefined;
    if ((errno !== undefined && (dialect.statementTimeout.errnos.includes(errno) || errno === QUERY_INTERRUPTED)) || performance.now() - started >= timeoutMs) return timedOut();
    return { ok: false, timedOut: false, message: (error as Error).message, durationMs: performance.now() - started };
  } finally {
    clearTimeout(backstop);
    await session.query(dialect.statementTimeout.set(0)).catch(() => undefined);
  }
}

/** The SQL as compared between backup and verification: placeholders unsubstituted, runs of white space as one. */
export function sqlDigest(key: Buffer, sql: string): string {
  return createHmac("sha256", key).update("restoretest team query sql\0").update(runnable(sql).replace(/\s+/g, " ")).digest("hex");
}

/** 2^256 - 1: row digests are added modulo 2^256. */
const MASK = (1n << 256n) - 1n;

/**
 * Keyed digest of an answer: its column names, its row count and its rows as a multiset (each row's SHA-256, added
 * modulo 2^256), so the order rows come in (a plan's choice, without ORDER BY) does not matter, but every value does.
 * HMAC-SHA256 under the backup's own key: nothing of the rows can be read back from it without the key.
 */
export function answerDigest(key: Buffer, answer: Answer): string {
  let sum = 0n;
  for (const row of answer.rows) sum = (sum + BigInt(`0x${createHash("sha256").update(encodeRow(row)).digest("hex")}`)) & MASK;
  return createHmac("sha256", key)
    .update("restoretest team query answer\0")
    .update(encodeRow(answer.columns))
    .update(`${answer.rows.length}\0${sum.toString(16).padStart(64, "0")}`)
    .digest("hex");
}

/** One row as bytes: each value's type and length before it, so no two different rows encode alike. */
function encodeRow(values: readonly unknown[]): Buffer {
  return Buffer.concat(
    values.flatMap((value) => {
      const [tag, bytes] = encodeValue(value);
      return [Buffer.from(`${tag}${bytes.length}:`), bytes];
    }),
  );
}

function encodeValue(value: unknown): [string, Buffer] {
  if (value === null || value === undefined) return ["N", Buffer.alloc(0)];
  if (Buffer.isBuffer(value)) return ["b", value];
  if (typeof value === "string") return ["s", Buffer.from(value)];
  if (typeof value === "number" || typeof value === "bigint") return ["n", Buffer.from(String(value))];
  // A JSON column (MySQL's driver parses it) or a geometry: its structure as JSON.
  return ["j", Buffer.from(JSON.stringify(value))];
}

/**
 * The `expect: baseline` queries answered at the snapshot on `session` (already inside its read-only transaction):
 * what the manifest keeps of each, under the backup's key. A query the source cannot answer does not fail the backup
 * (a backup matters more than a test): its error is kept, and its nightly test says so.
 */
export async function captureAnswers(session: Session, killer: Queryable, dialect: Dialect, queries: readonly TeamQuery[], placeholders: Readonly<Record<string, string>>, key: Buffer): Promise<BaselineAnswer[]> {
  const answers: BaselineAnswer[] = [];
  for (const query of queries) {
    const asked = await ask(session, killer, dialect, substitute(query.sql, placeholders), query.timeoutMs);
    const sql = sqlDigest(key, query.sql);
    answers.push(asked.ok ? { name: query.name, sql, rows: asked.answer.rows.length, digest: answerDigest(key, asked.answer) } : { name: query.name, sql, error: asked.message });
  }
  return answers;
}
