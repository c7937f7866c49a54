// Capturing checks over many tables at once: a pool sized by the caller, biggest tables first.
import type { Db } from "../db/connection.ts";
import { errorMessage } from "../db/connection.ts";
import type { TableCheck, TableRef } from "./types.ts";

export interface CaptureTask extends TableRef {
  sizeBytes: number;
}

/** What one check captured for one table, or why it could not. */
export type Captured = { ok: true; value: unknown; durationMs: number } | { ok: false; error: string; durationMs: number };

export function tableKey(t: TableRef): string {
  return `${t.database}\u0000${t.table}`;
}

/** Run `fn` over `items` with at most `concurrency` in flight, preserving result order. */
export async function mapConcurrent<T, R>(items: readonly T[], concurrency: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  const workers = Array.from({ length: Math.min(concurrency, items.length) }, async () => {
    while (next < items.length) {
      const i = next++;
      results[i] = await fn(items[i] as T);
    }
  });
  await Promise.all(workers);
  return results;
}

/** Every check on every table; results keyed by tableKey() then check name. Never throws for one table's failure. */
export async function captureChecks(
  db: Db,
  tables: readonly CaptureTask[],
  checks: readonly TableCheck[],
  concurrency: number,
): Promise<Map<string, Record<string, Captured>>> {
  const ordered = [...tables].sort((a, b) => b.sizeBytes - a.sizeBytes);
  const out = new Map<string, Record<string, Captured>>();
  await mapConcurrent(ordered, concurrency, async (t) => {
    const row: Record<string, Captured> = {};
    for (const check of checks) {
      const started = performance.now();
      try {
        const value = await check.capture(db, t);
        row[check.name] = { ok: true, value, durationMs: performance.now() - started };
      } catch (error) {
        row[check.name] = { ok: false, error: errorMessage(error), durationMs: performance.now() - started };
      }
    }
    out.set(tableKey(t), row);
  });
  return out;
}
