// Capturing checks over many tables at once: one worker per session, biggest tables first, small tables in batches.
import { Catalog, StatementBatch } from "../db/batch.ts";
import { errorMessage, type Queryable } from "../db/connection.ts";
import { ReadLanes } from "./lanes.ts";
import type { CheckOptions, DatabaseCheck, ServerCaptureContext, ServerCheck, TableCaptureContext, TableCheck, TableRef, TableScan } from "./types.ts";

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

async function timed(fn: () => Promise<unknown>): Promise<Captured> {
  const started = performance.now();
  try {
    return { ok: true, value: await fn(), durationMs: performance.now() - started };
  } catch (error) {
    return { ok: false, error: errorMessage(error), durationMs: performance.now() - started };
  }
}

/** Tables under this size (the server's estimate) are captured in batches: their time is mostly round trips. */
const BATCH_TABLE_MAX_BYTES = 1024 * 1024;
/**
 * At most this many tables, and this many bytes together, in one batch: every statement sent for a batch costs about
 * the same whatever its size (a catalog query lists the database's files; inside a snapshot every statement costs more
 * the more tables the transaction has read), and no batch holds up a big table for long.
 */
const BATCH_MAX_TABLES = 1000;
const BATCH_MAX_BYTES = 64 * 1024 * 1024;
/** Batches per session at least, where there are tables enough (batches of BATCH_MIN_TABLES): the sessions finish together. */
const BATCHES_PER_SESSION = 4;
const BATCH_MIN_TABLES = 50;

type WorkItem = { tables: CaptureTask[]; bytes: number };

/** Work for one session at a time: a table alone, or a batch of small tables; biggest first. */
function workItems(tables: readonly CaptureTask[], sessions: number): WorkItem[] {
  const ordered = [...tables].sort((a, b) => b.sizeBytes - a.sizeBytes);
  const small = ordered.filter((t) => t.sizeBytes < BATCH_TABLE_MAX_BYTES).length;
  const perBatch = Math.min(BATCH_MAX_TABLES, Math.max(BATCH_MIN_TABLES, Math.ceil(small / (sessions > 1 ? sessions * BATCHES_PER_SESSION : 1))));
  const items: WorkItem[] = [];
  let batch: WorkItem | undefined;
  for (const t of ordered) {
    if (t.sizeBytes >= BATCH_TABLE_MAX_BYTES) {
      items.push({ tables: [t], bytes: t.sizeBytes });
      continue;
    }
    if (!batch || batch.tables.length >= perBatch || batch.bytes + t.sizeBytes > BATCH_MAX_BYTES) {
      batch = { tables: [], bytes: 0 };
      items.push(batch);
    }
    batch.tables.push(t);
    batch.bytes += t.sizeBytes;
  }
  return items.sort((a, b) => b.bytes - a.bytes);
}

/** What one table's checks share: its own checks, in the order they run, and the scan one may count for the others. */
function tablePlan(t: CaptureTask, checks: readonly TableCheck[]) {
  const own = t.checks ? checks.filter((c) => t.checks?.includes(c.name)) : [...checks];
  // A check that scans the table anyway runs first and counts the rows it read, for the checks that need the count.
  const shareScan = own.some((c) => c.scan === "produces") && own.some((c) => c.scan === "uses");
  const scan = shareScan ? { indexCountsChecked: own.some((c) => c.checksIndexCounts === true) } : undefined;
  return { own, scan, row: {} as Record<string, Captured> };
}

/** Producers of a shared scan first, the rest in the given order. */
const runOrder = (checks: readonly TableCheck[]) => [...checks].sort((a, b) => Number(b.scan === "produces") - Number(a.scan === "produces"));

function contextFor(t: CaptureTask, check: TableCheck, options: CheckOptions, scan: TableScan | undefined, lanes?: ReadLanes): TableCaptureContext<unknown> {
  return { sizeBytes: t.sizeBytes, engine: t.engine, type: t.type, options, baseline: t.baseline?.[check.name], scan, ...(lanes ? { lanes } : {}) };
}

/**
 * Every check on every table, one worker per session (sessions may be one pool repeated, or snapshot transactions).
 * Small tables go in batches (db/batch.ts): each check runs on every table of the batch side by side, so what they ask
 * reaches the server in one round trip; each table's values, and the failures, are exactly its own. `catalog`: the
 * catalog rows read for the batches, shared by calls that capture the same databases at one point (a snapshot's).
 * Results are keyed by tableKey() then check name; one table's failure never stops the others. A session whose work is
 * done helps the others with a big table's ranges (lanes.ts) until every session's is; with `lanes` given, the caller
 * owns them instead: its sessions all see one state, and it closes them once that state may no longer be read.
 */
export async function captureTableChecks(
  sessions: readonly Queryable[],
  tables: readonly CaptureTask[],
  checks: readonly TableCheck[],
  options: CheckOptions,
  catalog: Catalog = new Catalog(),
  lanes?: ReadLanes,
): Promise<Map<string, Record<string, Captured>>> {
  const out = new Map<string, Record<string, Captured>>();
  const items = workItems(tables, sessions.length);
  const shared = lanes ?? new ReadLanes();
  let next = 0;
  let working = sessions.length;
  await Promise.all(
    sessions.map(async (session) => {
      while (next < items.length) {
        const item = items[next++] as WorkItem;
        for (const [key, row] of await captureItem(session, item, checks, options, catalog, shared)) out.set(key, row);
      }
      if (lanes) return;
      if (--working === 0) shared.close();
      else await shared.help(session);
    }),
  );
  return out;
}

/** One work item's checks on one session: a table alone (its ranges may go to the lanes), or a batch of small tables. */
async function captureItem(session: Queryable, item: WorkItem, checks: readonly TableCheck[], options: CheckOptions, catalog: Catalog, lanes: ReadLanes) {
  const plans = item.tables.map((t) => ({ t, ...tablePlan(t, checks) }));
  if (plans.length === 1) {
    const [{ t, own, scan, row }] = plans as [(typeof plans)[number]];
    for (const check of runOrder(own)) row[check.name] = await timed(() => check.capture(session, t, contextFor(t, check, options, scan, lanes)));
  } else {
    const batch = new StatementBatch(session, catalog);
    for (const check of runOrder(checks)) {
      const members = plans.filter((p) => p.own.includes(check));
      if (members.length === 0) continue;
      const started = performance.now();
      const results = await Promise.all(members.map((p) => timed(() => check.capture(batch, p.t, contextFor(p.t, check, options, p.scan)))));
      // The batch's time, shared among its tables: summed over tables it is the time the check took.
      const share = (performance.now() - started) / members.length;
      members.forEach((p, i) => (p.row[check.name] = { ...(results[i] as Captured), durationMs: share }));
    }
  }
  return plans.map(({ t, own, row }) => [tableKey(t), Object.fromEntries(own.map((c) => [c.name, row[c.name] as Captured]))] as const);
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
