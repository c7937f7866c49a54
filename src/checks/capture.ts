// Capturing checks over many tables at once: one worker per session, biggest tables first.
import { errorMessage, type Queryable } from "../db/connection.ts";
import type { CheckOptions, DatabaseCheck, TableCheck, TableRef } from "./types.ts";

export interface CaptureTask extends TableRef {
  sizeBytes: number;
  engine?: string | null;
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
  // A check that scans the table anyway runs first and counts the rows it read, for the checks that need the count.
  const shareScan = checks.some((c) => c.scan === "produces") && checks.some((c) => c.scan === "uses");
  const indexCountsChecked = checks.some((c) => c.checksIndexCounts === true);
  const runOrder = [...checks].sort((a, b) => Number(b.scan === "produces") - Number(a.scan === "produces"));
  await mapConcurrent(ordered, sessions.length, async (t, worker) => {
    const session = sessions[worker] as Queryable;
    const scan = shareScan ? { indexCountsChecked } : undefined;
    const row: Record<string, Captured> = {};
    for (const check of runOrder) {
      row[check.name] = await timed(() => check.capture(session, t, { sizeBytes: t.sizeBytes, engine: t.engine, options, baseline: t.baseline?.[check.name], scan }));
    }
    out.set(tableKey(t), Object.fromEntries(checks.map((c) => [c.name, row[c.name] as Captured])));
  });
  return out;
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
