// checksum: every row's content equals the baseline's; big tables are compared per primary-key range so a failure says where.
import { z } from "zod";
import { onOneConnection, type Queryable } from "../db/connection.ts";
import { catalogRows } from "../db/batch.ts";
import { checksumTable, checksumTableCountingRows, listColumns, primaryKey, rowSource, type ColumnInfo } from "../db/introspect.ts";
import { qualifiedName, quoteIdent } from "../db/quote.ts";
import { ReadLanes, type Submitted } from "./lanes.ts";
import type { TableCaptureContext, TableCheck, TableRef } from "./types.ts";

const Chunk = z.strictObject({
  /** Exclusive lower bound (primary key tuple as JSON), null for the first chunk. */
  lower: z.string().nullable(),
  /** Inclusive upper bound, null for the last chunk. */
  upper: z.string().nullable(),
  rows: z.number().int().nonnegative(),
  crc: z.string(),
});

const RowSum = z.strictObject({
  rows: z.number().int().nonnegative(),
  sum: z.string(),
  /** `stable`: the row text of stableText (issue 30); absent: the plain text, as row sums before it were taken. */
  text: z.literal("stable").optional(),
});

const Schema = z.strictObject({
  /** CHECKSUM TABLE of the whole table; null where it cannot be trusted (generated columns) or is not taken (rowSum). */
  checksum: z.string().nullable(),
  /**
   * MyISAM and Aria tables: COUNT(*) and SUM of a per-row CRC32 of the whole table, instead of CHECKSUM TABLE. Their
   * CHECKSUM TABLE reads one row per system call; a SELECT reads through the server's read cache (measured 17–20×
   * faster, 1M rows 4.5 s → 0.23 s). SUM, not BIT_XOR: two equal rows changed alike must not cancel out.
   */
  rowSum: RowSum.optional(),
  chunks: z
    .strictObject({
      key: z.array(z.string()),
      list: z.array(Chunk),
      /**
       * How a range's `crc` is computed.
       * - `sum`: the SUM of each row's CRC32 over its NULL-safe text (rowText), as the row sum of a MyISAM table: the
       *   ranges decide, and the table's whole value is theirs (`checksum` null). A big table's baseline since issue 30:
       *   one read of its rows instead of two, spread over the snapshot sessions. SUM, not BIT_XOR: CRC32 is linear,
       *   so the same change to two rows of equal length cancels out in an XOR of their CRCs, never in a sum.
       * - `columns`: CRC32 of each column's BIT_XOR over the range (an integer column's own value, any other's CRC32),
       *   with each nullable column's non-NULL count: ranges that only locate a difference a whole-table value
       *   (CHECKSUM TABLE, the row sum) decides. Baselines taken before issue 30.
       * - absent: the row hash's BIT_XOR, where the ranges decided (generated columns) before issue 30.
       */
      hash: z.enum(["columns", "sum"]).optional(),
    })
    .optional(),
});
type Value = z.infer<typeof Schema>;
type RowSumValue = z.infer<typeof RowSum>;
type ChunkValue = z.infer<typeof Chunk>;
type RangeHash = "row" | "columns" | "sum";
type Range = { lower: string | null; upper: string | null };

/** Engines whose whole-table value is the row sum (see Schema.rowSum). */
const ROW_SUM_ENGINES = new Set(["MyISAM", "Aria"]);

/** `(a, b) > (x, y)` written out so the optimizer uses the primary key for a range (row constructors may not). */
function after(key: string[], values: unknown[]): { sql: string; params: unknown[] } {
  const clauses: string[] = [];
  const params: unknown[] = [];
  for (let i = 0; i < key.length; i++) {
    const parts = key.slice(0, i).map((c) => `${quoteIdent(c)} = ?`);
    parts.push(`${quoteIdent(key[i] as string)} > ?`);
    clauses.push(`(${parts.join(" AND ")})`);
    params.push(...values.slice(0, i + 1));
  }
  return { sql: `(${clauses.join(" OR ")})`, params };
}

/** `(a, b) <= (x, y)` written out the same way: a plain NOT would hide the range from the optimizer. */
function notAfter(key: string[], values: unknown[]): { sql: string; params: unknown[] } {
  const clauses: string[] = [];
  const params: unknown[] = [];
  for (let i = 0; i < key.length; i++) {
    const last = i === key.length - 1;
    const parts = key.slice(0, i).map((c) => `${quoteIdent(c)} = ?`);
    parts.push(`${quoteIdent(key[i] as string)} ${last ? "<=" : "<"} ?`);
    clauses.push(`(${parts.join(" AND ")})`);
    params.push(...values.slice(0, i + 1));
  }
  return { sql: `(${clauses.join(" OR ")})`, params };
}

/** Integer types: a key of one of these is cut by arithmetic (integerBoundaries). */
const INTEGER_TYPES = new Set(["tinyint", "smallint", "mediumint", "int", "integer", "bigint"]);

/** A key value as the driver returns it (supportBigNumbers): a number where it is exact, else its digits. */
const keyValue = (v: bigint) => (v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : String(v));

/**
 * Boundaries of a one-column integer key without reading the rows: from MIN and MAX (two index dives) every `rows`
 * key values, times the key's average gap (rounded; 1 for a dense key) from the server's row estimate. A dense key
 * gets exactly the ranges the row walk finds (the last one empty when `rows` divides the count, as there); a key whose values cluster gets ranges of uneven size,
 * each still named in a difference. The row walk (boundaries) reads every row once more than the checksum does:
 * measured on 5M rows, about 0.6× a CHECKSUM TABLE.
 */
async function integerBoundaries(db: Queryable, t: TableRef, column: string, rows: number): Promise<(string | null)[]> {
  const col = quoteIdent(column);
  const [range] = await db.query<{ lo: string | number | null; hi: string | number | null }>(`SELECT MIN(${col}) AS lo, MAX(${col}) AS hi FROM ${qualifiedName(t.database, t.table)}`);
  if (range?.lo === null || range?.lo === undefined || range.hi === null) return [null, null];
  const [estimate] = (await catalogRows(db, "TABLES", "TABLE_ROWS AS n", t.database, t.table)) as { n: string | number | null }[];
  const lo = BigInt(String(range.lo));
  const hi = BigInt(String(range.hi));
  const span = hi - lo + 1n;
  const estimated = BigInt(Math.max(1, Math.round(Number(estimate?.n ?? 0))));
  const gap = span / estimated > 1n ? (span + estimated / 2n) / estimated : 1n;
  const width = BigInt(rows) * gap;
  const bounds: (string | null)[] = [null];
  for (let upper = lo - 1n + width; upper <= hi; upper += width) bounds.push(JSON.stringify([keyValue(upper)]));
  bounds.push(null);
  return bounds;
}

/** Chunk boundaries every `rows` rows along the primary key: by arithmetic for a one-column integer key, else by a walk. */
async function chunkBoundaries(db: Queryable, t: TableRef, key: string[], columns: readonly ColumnInfo[], rows: number): Promise<(string | null)[]> {
  const type = key.length === 1 ? columns.find((c) => c.name === key[0])?.dataType : undefined;
  return type && INTEGER_TYPES.has(type) ? integerBoundaries(db, t, key[0] as string, rows) : boundaries(db, t, key, rows);
}

/** Chunk boundaries every `rows` rows along the primary key. */
async function boundaries(db: Queryable, t: TableRef, key: string[], rows: number): Promise<(string | null)[]> {
  const cols = key.map(quoteIdent).join(", ");
  const bounds: (string | null)[] = [null];
  let last: unknown[] | null = null;
  for (;;) {
    const where: { sql: string; params: unknown[] } = last ? after(key, last) : { sql: "1", params: [] };
    const found: Record<string, unknown>[] = await db.query<Record<string, unknown>>(
      `SELECT ${cols} FROM ${qualifiedName(t.database, t.table)} WHERE ${where.sql} ORDER BY ${cols} LIMIT 1 OFFSET ${rows - 1}`,
      where.params,
    );
    const row = found[0];
    if (!row) break;
    last = key.map((c) => row[c]);
    bounds.push(JSON.stringify(last));
  }
  bounds.push(null);
  return bounds;
}

/** Character types whose bytes the `sum` row text takes as they are stored (no conversion, so no collation mix). */
const CHARACTER_TYPES = new Set(["char", "varchar", "tinytext", "text", "mediumtext", "longtext", "enum", "set"]);

/**
 * A column as the `sum` hash's row text takes it: the same on any server and in any session. A character column by
 * its stored bytes (CONCAT_WS over two character sets neither of which is Unicode, latin1 and cp1251, is an error,
 * and a conversion would hash other bytes than those stored); a TIMESTAMP by its seconds since the epoch (its text is
 * in the session's time zone, which the restore host may not share).
 */
function stableText(c: ColumnInfo): string {
  const col = quoteIdent(c.name);
  if (c.dataType === "timestamp") return `UNIX_TIMESTAMP(${col})`;
  return CHARACTER_TYPES.has(c.dataType) ? `CAST(${col} AS BINARY)` : col;
}

/**
 * One row's text over every stored column, NULL-safe (as pt-table-checksum does): what the row hashes hash. `stable`
 * (the `sum` hash): each column by stableText; without it, as baselines before issue 30 were taken (the row sum of a
 * MyISAM table, the `row` ranges), so that they still compare.
 */
async function rowText(db: Queryable, t: TableRef, known?: readonly ColumnInfo[], stable = false): Promise<string> {
  const stored = (known ?? (await listColumns(db, t.database, t.table))).filter((c) => !c.generated);
  const columns = stored.map((c) => (stable ? stableText(c) : quoteIdent(c.name)));
  // CONCAT_WS skips NULLs, so a bitmask of the nullable columns' NULLs keeps (NULL, 'a') apart from ('a', NULL);
  // NOT NULL columns need no marker, which keeps the per-row cost near CHECKSUM TABLE's.
  const nullable = stored.filter((c) => c.nullable).map((c, i) => `(ISNULL(${quoteIdent(c.name)}) << ${i % 63})`);
  return `CONCAT_WS('#', ${[...columns, ...(nullable.length ? [nullable.join(" | ")] : [])].join(", ")})`;
}

/** The whole table's row sum; its count also serves the checks that need the row count. */
async function rowSum(db: Queryable, t: TableRef, context: TableCaptureContext<unknown>, stable: boolean): Promise<RowSumValue> {
  const [row] = await db.query<{ n: string | number; s: string | number | null }>(
    `SELECT COUNT(*) AS n, COALESCE(SUM(CRC32(${await rowText(db, t, undefined, stable)})), 0) AS s FROM ${rowSource(t.database, t.table, context.type)}`,
  );
  const value: RowSumValue = { rows: Number(row?.n ?? 0), sum: String(row?.s ?? 0), ...(stable ? { text: "stable" as const } : {}) };
  if (context.scan) context.scan.rows = value.rows;
  return value;
}

const sameSum = (a: RowSumValue | undefined, b: RowSumValue | undefined) => a !== undefined && b !== undefined && a.rows === b.rows && a.sum === b.sum;

/** A range's hash over the stored columns (see Schema.chunks.hash); 0 for an empty range, as the row hash. */
function columnsHash(columns: readonly ColumnInfo[]): string {
  const parts = columns
    .filter((c) => !c.generated)
    .flatMap((c) => {
      const col = quoteIdent(c.name);
      const value = INTEGER_TYPES.has(c.dataType) ? `BIT_XOR(${col})` : `BIT_XOR(CRC32(${col}))`;
      return c.nullable ? [value, `COUNT(${col})`] : [value];
    });
  return `IF(COUNT(*) = 0, 0, CRC32(CONCAT_WS(',', ${parts.join(", ")})))`;
}

/** A range's hash as `hash` names it (Schema.chunks.hash): the column hash, or the SUM or BIT_XOR of row hashes. */
async function rangeHash(db: Queryable, t: TableRef, columns: readonly ColumnInfo[], hash: RangeHash): Promise<string> {
  if (hash === "columns") return columnsHash(columns);
  const text = await rowText(db, t, columns, hash === "sum");
  return hash === "sum" ? `COALESCE(SUM(CRC32(${text})), 0)` : `COALESCE(BIT_XOR(CRC32(${text})), 0)`;
}

/**
 * COUNT(*) and the hash of each primary-key range, one job per range: queued on `lanes` (helpers start on them at
 * once), the rest run on the caller's session when it calls finish(). Without lanes, all run on that session.
 */
async function submitRanges(db: Queryable, t: TableRef, key: string[], bounds: readonly Range[], hash: RangeHash, lanes?: ReadLanes, type?: string): Promise<Submitted<ChunkValue>> {
  const columns = await listColumns(db, t.database, t.table);
  // The `sum` ranges decide, so they read every row the table has: a system-versioned table's history too, as its
  // row count does (rowSource). The older hashes read the current rows, as their baselines were taken.
  const from = hash === "sum" ? rowSource(t.database, t.table, type) : qualifiedName(t.database, t.table);
  const crc = await rangeHash(db, t, columns, hash);
  const jobs = bounds.map(({ lower, upper }) => async (session: Queryable): Promise<ChunkValue> => {
    const conditions: { sql: string; params: unknown[] }[] = [];
    if (lower) conditions.push(after(key, JSON.parse(lower) as unknown[]));
    if (upper) conditions.push(notAfter(key, JSON.parse(upper) as unknown[]));
    const where = conditions.length ? conditions.map((c) => c.sql).join(" AND ") : "1";
    const [row] = await session.query<{ n: string | number; crc: string | number | null }>(
      `SELECT COUNT(*) AS n, ${crc} AS crc FROM ${from} WHERE ${where}`,
      conditions.flatMap((c) => c.params),
    );
    return { lower, upper, rows: Number(row?.n ?? 0), crc: String(row?.crc ?? 0) };
  });
  // A batch (db/batch.ts) runs one table's statements among others': its ranges stay on it, in order.
  return (db.unbatched ? new ReadLanes() : (lanes ?? new ReadLanes())).submit(jobs);
}

/**
 * Every range's COUNT(*) and hash, sequentially or spread over the lanes (submitRanges). Ranges that cover the table
 * and decide (`sum`) read every row once: their counts are the scan's, for the checks that need the row count.
 */
async function chunkChecksums(db: Queryable, t: TableRef, key: string[], bounds: readonly Range[], hash: RangeHash, context: TableCaptureContext<unknown>): Promise<ChunkValue[]> {
  const list = await (await submitRanges(db, t, key, bounds, hash, context.lanes, context.type)).finish(db);
  if (hash === "sum" && context.scan) context.scan.rows = list.reduce((n, c) => n + c.rows, 0);
  return list;
}

/**
 * Below this size (the server's estimate) a table's own COUNT(*) costs less than the two reads of the session counters
 * that count CHECKSUM TABLE's scan (measured: about 0.6 ms each, COUNT(*) of a 16 KiB table 0.4 ms).
 */
const COUNT_SCAN_MIN_BYTES = 1024 * 1024;

/** CHECKSUM TABLE of the whole table; where another check needs the row count, the rows its scan read go to `scan`. */
async function wholeChecksum(db: Queryable, t: TableRef, context: TableCaptureContext<unknown>): Promise<string | null> {
  const scan = context.scan;
  if (!scan || context.sizeBytes < COUNT_SCAN_MIN_BYTES) return checksumTable(db, t.database, t.table);
  const { checksum, rows } = await onOneConnection(db, (session) => checksumTableCountingRows(session, t.database, t.table));
  if (rows !== undefined) scan.rows = rows;
  return checksum;
}

function describeRange(key: string[], c: { lower: string | null; upper: string | null }): string {
  const name = key.length === 1 ? (key[0] as string) : `(${key.join(", ")})`;
  const show = (v: string) => {
    const values = JSON.parse(v) as unknown[];
    return values.length === 1 ? JSON.stringify(values[0]) : `(${values.map((x) => JSON.stringify(x)).join(", ")})`;
  };
  if (c.lower && c.upper) return `${name} in (${show(c.lower)}, ${show(c.upper)}]`;
  if (c.lower) return `${name} > ${show(c.lower)}`;
  if (c.upper) return `${name} <= ${show(c.upper)}`;
  return "all rows";
}

/**
 * The baseline's value. A big table's ranges are queued first, so that sessions with nothing else to do (the lanes)
 * hash them while this session reads the whole-table value; then this session takes what is left.
 */
async function captureBaseline(db: Queryable, t: TableRef, context: TableCaptureContext<unknown>): Promise<Value> {
  const big = context.sizeBytes >= context.options.chunkMinBytes;
  const columns = await listColumns(db, t.database, t.table);
  // CHECKSUM TABLE is not stable across servers for tables with generated columns (measured: a restored copy of
  // a table with a VIRTUAL column checksums differently); those are compared by the row hash of stored columns.
  const generated = columns.some((c) => c.generated);
  // The primary key bounds the ranges of a big table, and keys a generated-column table's one range.
  const key = big || generated ? await primaryKey(db, t.database, t.table) : [];
  const chunked = big && key.length > 0;
  const bounds = chunked ? await chunkBoundaries(db, t, key, columns, context.options.chunkRows) : [null, null];
  const ranges = bounds.slice(1).map((upper, i) => ({ lower: bounds[i] ?? null, upper }));
  // The ranges decide where their rows are the table's (not a system-versioned table's history, which only the whole
  // table's value reads): one read of every row, spread over the lanes, instead of a CHECKSUM TABLE and then the ranges.
  if (generated || (chunked && context.type !== "SYSTEM VERSIONED")) return { checksum: null, chunks: { key, list: await chunkChecksums(db, t, key, ranges, "sum", context), hash: "sum" } };
  // Where a whole-table value decides, the ranges only locate: the cheaper column hash.
  const submitted = chunked ? await submitRanges(db, t, key, ranges, "columns", context.lanes) : undefined;
  const rowSumEngine = ROW_SUM_ENGINES.has(context.engine ?? "");
  const whole = rowSumEngine ? { checksum: null, rowSum: await rowSum(db, t, context, true) } : { checksum: await wholeChecksum(db, t, context) };
  if (!submitted) return whole;
  return { ...whole, chunks: { key, list: await submitted.finish(db), hash: "columns" } };
}

export const checksum: TableCheck<Value> = {
  name: "checksum",
  scope: "table",
  description: "the content of every row equals the baseline's (CHECKSUM TABLE, or a row sum for MyISAM/Aria; big tables also keep per-primary-key-range checksums to locate a difference)",
  scan: "produces",
  schema: Schema,
  async capture(db, t, context) {
    const planned = context.baseline?.chunks;
    // The baseline's ranges, measured the baseline's way, to locate a difference (or to decide, for generated columns).
    const measure = async () => {
      if (!planned) return undefined;
      return { ...planned, list: await chunkChecksums(db, t, planned.key, planned.list, planned.hash ?? "row", context) };
    };
    if (context.baseline?.rowSum) {
      // The baseline's way: the row sum; the per-range pass runs only to locate a difference.
      const sum = await rowSum(db, t, context, context.baseline.rowSum.text === "stable");
      if (sameSum(sum, context.baseline.rowSum) || !planned) return { checksum: null, rowSum: sum };
      return { checksum: null, rowSum: sum, chunks: await measure() };
    }
    if (planned) {
      if (context.baseline?.checksum === null) return { checksum: null, chunks: await measure() };
      // The nightly path: one CHECKSUM TABLE; the slower per-range pass runs only to locate a difference.
      const whole = await wholeChecksum(db, t, context);
      if (whole !== null && whole === context.baseline?.checksum) return { checksum: whole };
      return { checksum: whole, chunks: await measure() };
    }
    if (context.baseline !== undefined) return { checksum: await wholeChecksum(db, t, context) };
    return captureBaseline(db, t, context);
  },
  compare(expected, actual, t) {
    const describeSum = (v: RowSumValue | undefined) => (v ? `${v.rows} rows with row sum ${v.sum}` : "no row sum");
    if (expected.rowSum && sameSum(expected.rowSum, actual.rowSum)) return { ok: true, summary: describeSum(actual.rowSum) };
    if (expected.checksum !== null && expected.checksum === actual.checksum) return { ok: true, summary: `checksum ${actual.checksum}` };
    if (expected.chunks && actual.chunks) {
      const key = expected.chunks.key;
      const diverging = expected.chunks.list
        .map((e, i) => ({ e, a: actual.chunks?.list[i] }))
        .filter(({ e, a }) => !a || a.rows !== e.rows || a.crc !== e.crc);
      if (diverging.length === 0 && expected.checksum === null && !expected.rowSum) return { ok: true, summary: `${expected.chunks.list.length} chunks equal` };
      if (diverging.length === 0 && expected.rowSum) {
        return {
          ok: false,
          message: `${t.database}.${t.table} has ${describeSum(actual.rowSum)}, baseline ${describeSum(expected.rowSum)}, yet every primary-key range's rows match: never green`,
        };
      }
      if (diverging.length === 0) {
        // Every row matches but the table checksum does not: a difference in how rows are stored, never green.
        return {
          ok: false,
          message:
            expected.chunks.hash === "columns"
              ? `CHECKSUM TABLE ${t.database}.${t.table} is ${actual.checksum}, baseline ${expected.checksum}, yet every primary-key range's column sums match: the rows are stored differently (row format), or changes to several rows of one range cancel out in its sums`
              : `CHECKSUM TABLE ${t.database}.${t.table} is ${actual.checksum}, baseline ${expected.checksum}, yet every primary-key range's rows match: the rows are stored differently (row format or a column outside the row hash)`,
        };
      }
      const lines = diverging.slice(0, 10).map(({ e, a }) => {
        const rows = a && a.rows !== e.rows ? `${a.rows} rows, baseline ${e.rows}` : "same row count, content differs";
        return `  ${describeRange(key, e)}: ${rows}`;
      });
      const more = diverging.length > 10 ? `\n  … and ${diverging.length - 10} more ranges` : "";
      return {
        ok: false,
        message: `table data differs from the baseline in ${diverging.length} of ${expected.chunks.list.length} primary-key ranges of ${t.database}.${t.table}:\n${lines.join("\n")}${more}`,
      };
    }
    if (expected.rowSum) {
      return {
        ok: false,
        message: `table data differs from the baseline: ${t.database}.${t.table} has ${describeSum(actual.rowSum)}, baseline ${describeSum(expected.rowSum)}`,
        expected: describeSum(expected.rowSum),
        actual: describeSum(actual.rowSum),
      };
    }
    if (expected.checksum === actual.checksum) return { ok: true, summary: `checksum ${actual.checksum}` };
    return {
      ok: false,
      message: `table data differs from the baseline: CHECKSUM TABLE ${t.database}.${t.table} is ${actual.checksum}, baseline ${expected.checksum}`,
      expected: String(expected.checksum),
      actual: String(actual.checksum),
    };
  },
};
