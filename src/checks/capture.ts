// Capturing checks over many tables at once: one worker per session, biggest tables first.
import { errorMessage, type Queryable } from "../db/connection.ts";
import type { CheckOptions, DatabaseCheck, ServerCaptureContext, ServerCheck, TableCheck, TableRef } from "./types.ts";

export interface CaptureTask extends TableRef {
  sizeBytes: number;
  engine?: string | null;
  /** TABLE_TYPE (BASE TABLE, SYSTEM VERSIONED, SEQUENCE). */
  type?: string;
  /** The checks that apply to this table (coverage.ts); default every check given. */
  checks?: readonly string[];
  /** The baseline's values by check name (on the restored server only). */
  baseline?: Record<string, unknown>;
}

/** What one check captured for one table, or why it could not. */
export type Captured = { ok: true; value: unknown; durationMs: number } | { ok: false; error: string; durationMs: number };

export function tableKey(t: TableRef): string {
  return `${t.database}\u0000${t.table}`;
}

/** Run `fn` over `items` with at most `concurrency` in flight, preserving result order. */
export async function mapConcurrent<T, R>(items: readonly T[], concurrency: number, fn: (item: T, worker: number) => Promise<R>): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  const workers = Array.from({ length: Math.min(concurrency, items.length) }, async (_, worker) => {
    while (next < items.length) {
      const i = next++;
      results[i] = await fn(items[i] as T, worker);
    }
  });
  await Promise.all(workers);
  return results;
}

async function timed(fn: () => Promise<unknown>): Promise<Captured> {
  const started = performance.now();
  try {
    return { ok: true, value: await fn(), durationMs: performance.now() - started };
  } catch (error) {
    return { ok: false, error: errorMessage(error), durationMs: performance.now() - started };
  }
}

/**
 * Every check on every table, one worker per session (sessions may be one pool repeated, or snapshot transactions).
 * Results are keyed by tableKey() then check name; one table's failure never stops the others.
 */
export async function captureTableChecks(
  sessions: readonly Queryable[],
  tables: readonly CaptureTask[],
  checks: readonly TableCheck[],
  options: CheckOptions,
): Promise<Map<string, Record<string, Captured>>> {
  const ordered = [...tables].sort((a, b) => b.sizeBytes - a.sizeBytes);
  const out = new Map<string, Record<string, Captured>>();
  await mapConcurrent(ordered, sessions.length, async (t, worker) => {
    const session = sessions[worker] as Queryable;
    const own = t.checks ? checks.filter((c) => t.checks?.includes(c.name)) : checks;
    // A check that scans the table anyway runs first and counts the rows it read, for the checks that need the count.
    const shareScan = own.some((c) => c.scan === "produces") && own.some((c) => c.scan === "uses");
    const scan = shareScan ? { indexCountsChecked: own.some((c) => c.checksIndexCounts === true) } : undefined;
    const runOrder = [...own].sort((a, b) => Number(b.scan === "produces") - Number(a.scan === "produces"));
    const row: Record<string, Captured> = {};
    for (const check of runOrder) {
      const context = { sizeBytes: t.sizeBytes, engine: t.engine, type: t.type, options, baseline: t.baseline?.[check.name], scan };
      row[check.name] = await timed(() => check.capture(session, t, context));
    }
    out.set(tableKey(t), Object.fromEntries(own.map((c) => [c.name, row[c.name] as Captured])));
  });
  return out;
}

/** Every server-wide check, once. */
export async function captureServerChecks(db: Queryable, checks: readonly ServerCheck[], context: ServerCaptureContext): Promise<Record<string, Captured>> {
  const row: Record<string, Captured> = {};
  for (const check of checks) row[check.name] = await timed(() => check.capture(db, context));
  return row;
}

/** Every database-wide check on every database. */
export async function captureDatabaseChecks(db: Queryable, databases: readonly string[], checks: readonly DatabaseCheck[]): Promise<Map<string, Record<string, Captured>>> {
  const out = new Map<string, Record<string, Captured>>();
  for (const database of databases) {
    const row: Record<string, Captured> = {};
    for (const check of checks) row[check.name] = await timed(() => check.capture(db, database));
    out.set(database, row);
  }
  return out;
}
