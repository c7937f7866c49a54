// Capturing a baseline manifest from a source server at one binlog position (quiescent, or inside a consistent snapshot).
import { captureDatabaseChecks, captureServerChecks, captureTableChecks, tableKey, type Captured, type CaptureTask } from "../checks/capture.ts";
import { ReadLanes } from "../checks/lanes.ts";
import { assertCovered, SYSTEM_SCHEMAS, tableChecksFor } from "../checks/coverage.ts";
import { databaseChecks, serverChecks, tableChecks } from "../checks/index.ts";
import type { CheckOptions, DatabaseCheck, ServerCaptureContext, ServerCheck, TableCheck } from "../checks/types.ts";
import { Catalog } from "../db/batch.ts";
import type { Db, Queryable, Session } from "../db/connection.ts";
import {
  binlogPosition,
  databaseExists,
  listDatabases,
  listTables,
  listTriggerNames,
  objectCounts,
  serverInfo,
  type BinlogPosition,
  type TableInfo,
} from "../db/introspect.ts";
import { dialectOf, type Dialect } from "../server/flavor.ts";
import { beginReadOnly, captureAnswers, readPlaceholders, type TeamQuery } from "../queries/answer.ts";
import { hiddenObjects, hiddenObjectsMessage, readDatadirObjects } from "./hidden.ts";
import { MANIFEST_VERSION, type Manifest } from "../store/manifest.ts";

export interface BaselineOptions {
  service: string;
  /** Databases to capture; default every non-system database. */
  databases?: string[];
  checks: readonly string[];
  options: CheckOptions;
  concurrency: number;
  /** `quiescent`: nothing writes (verified by the binlog position not moving); `snapshot`: writes go on. */
  mode: "quiescent" | "snapshot";
  /**
   * The whole server as the service: the system schemas (whatever `databases` says) and the server-wide checks
   * (accounts, settings), with what they need, and every object covered by a check (coverage.ts). Absent: only the
   * databases' own objects with the checks asked for (the rejoin's comparison).
   */
  server?: ServerCaptureContext;
  /** The backup is a logical dump: the restore rebuilds the system schemas, whose rows are then not compared. */
  logical?: boolean;
  /**
   * The source's datadir, where it can be read (the backup job runs beside the server): the objects its files hold
   * must all be in the catalog the source user sees, or the baseline is refused (hidden.ts).
   */
  datadir?: string;
  /**
   * The team's queries (services.yaml verify.queries): the placeholders' values are read at the baseline's position,
   * and the `expect: baseline` ones in `list` are answered there, their answers kept as digests under `digestKey`.
   */
  queries?: { list: readonly TeamQuery[]; digestKey: Buffer };
}

/** Engines whose reads honour a consistent snapshot. */
const TRANSACTIONAL = new Set(["InnoDB"]);

type Results = Map<string, Record<string, Captured>>;

function merge(into: Results, from: Results): void {
  for (const [key, row] of from) into.set(key, { ...(into.get(key) ?? {}), ...row });
}

interface Plan {
  databases: { name: string; system: boolean; tables: TableInfo[] }[];
  tasks: CaptureTask[];
}

/** What is captured, from the server's catalog: every object with the checks coverage.ts says apply, or a CoverageError. */
async function planCapture(db: Db, options: BaselineOptions): Promise<Plan> {
  const own = options.databases ?? (await listDatabases(db));
  for (const name of own) {
    if (!(await databaseExists(db, name))) throw new Error(`database "${name}" listed for service ${options.service} does not exist on ${db.description}`);
  }
  const system: string[] = [];
  if (options.server) for (const name of SYSTEM_SCHEMAS) if (!own.includes(name) && (await databaseExists(db, name))) system.push(name);
  const databases = [];
  for (const name of [...own, ...system]) databases.push({ name, system: system.includes(name), tables: await listTables(db, name) });
  const logical = { logical: options.logical === true };
  // A backup's baseline covers every object; a comparison of some checks (the rejoin's) covers what it asks for.
  if (options.server) {
    const objects = [];
    for (const d of databases) {
      const counts = await objectCounts(db, d.name);
      objects.push({ name: d.name, tables: d.tables.map((t) => ({ database: d.name, name: t.name, type: t.type, system: d.system })), ...counts });
    }
    assertCovered(objects, options.checks, true, logical);
    if (options.datadir) await assertNothingHidden(db, options, databases);
  }
  const tasks = databases.flatMap((d) =>
    d.tables
      .filter((t) => t.type !== "VIEW")
      .map((t) => ({
        database: t.database,
        table: t.name,
        sizeBytes: t.sizeBytes,
        engine: t.engine,
        type: t.type,
        checks: tableChecksFor({ database: d.name, name: t.name, type: t.type, system: d.system }, options.checks, logical),
      })),
  );
  return { databases, tasks };
}

/** Refuse a baseline whose source user cannot see every table, view and trigger the datadir holds (hidden.ts). */
async function assertNothingHidden(db: Db, options: BaselineOptions, databases: Plan["databases"]): Promise<void> {
  const names = databases.map((d) => d.name);
  const onDisk = readDatadirObjects(options.datadir as string, names);
  const catalog = [];
  for (const d of databases) {
    const triggers = options.checks.includes("triggers") ? (await listTriggerNames(db, d.name)) : undefined;
    catalog.push({ database: d.name, tables: d.tables.map((t) => t.name), ...(triggers ? { triggers } : {}) });
  }
  const hidden = hiddenObjects(onDisk, catalog);
  if (hidden) {
    const [who] = await db.query<{ u: string }>("SELECT CURRENT_USER() AS u");
    throw new Error(hiddenObjectsMessage(who?.u ?? "the source user", hidden));
  }
}

/** Capture the baseline. In `snapshot` mode the returned position is the snapshot's, which the restore replays to. */
export async function captureBaseline(db: Db, options: BaselineOptions): Promise<Manifest> {
  const started = performance.now();
  const plan = await planCapture(db, options);
  const databases = plan.databases.map((d) => d.name);
  const tChecks = tableChecks(options.checks);
  const dChecks = databaseChecks(options.checks);
  const sChecks = options.server ? serverChecks(options.checks) : [];
  const serverContext = options.server ?? {};
  const pool: Queryable[] = Array.from({ length: options.concurrency }, () => db);

  let position: BinlogPosition | null;
  let tableResults: Results;
  let dbResults: Results;
  let serverResults: Record<string, Captured>;
  let nonTransactional: Manifest["nonTransactional"];
  let queries: Manifest["queries"];
  const teamQueries = options.queries && { ...options.queries, dialect: await dialectOf(db) };
  if (options.mode === "quiescent") {
    const before = await binlogPosition(db);
    const placeholders = teamQueries && (await readPlaceholders(db));
    tableResults = await captureTableChecks(pool, plan.tasks, tChecks, options.options);
    dbResults = await captureDatabaseChecks(db, databases, dChecks);
    serverResults = await captureServerChecks(db, sChecks, serverContext);
    if (teamQueries && placeholders) queries = { placeholders, answers: await answerReadOnly(db, teamQueries, placeholders) };
    position = await binlogPosition(db);
    if (JSON.stringify(before) !== JSON.stringify(position)) {
      throw new Error(
        `the source was written to while the baseline was captured (binlog moved from ${describe(before)} to ${describe(position)}); ` +
          `use backup.consistency: snapshot, or pausedReplica on a replica`,
      );
    }
  } else {
    const snapshot = await captureInSnapshot(db, options.concurrency, databases, plan.tasks, { tChecks, dChecks, sChecks, serverContext }, options.options, teamQueries);
    ({ position, tableResults, dbResults, serverResults, queries } = snapshot);
    nonTransactional = snapshot.nonTransactional;
  }

  const manifest: Manifest = {
    version: MANIFEST_VERSION,
    service: options.service,
    capturedAt: new Date().toISOString(),
    durationMs: 0,
    server: await serverInfo(db),
    position,
    consistency: options.mode,
    nonTransactional,
    checks: [...options.checks],
    ...(queries ? { queries } : {}),
    ...(sChecks.length ? { serverChecks: values(serverResults, "the server") } : {}),
    databases: plan.databases.map((d) => ({
      name: d.name,
      ...(d.system ? { system: true } : {}),
      checks: values(dbResults.get(d.name) ?? {}, d.name),
      tables: d.tables.map((t) => ({
        name: t.name,
        type: t.type,
        engine: t.engine,
        sizeBytes: t.sizeBytes,
        checks: t.type === "VIEW" ? {} : values(tableResults.get(tableKey({ database: d.name, table: t.name })) ?? {}, `${d.name}.${t.name}`),
      })),
    })),
  };
  manifest.durationMs = Math.round(performance.now() - started);
  return manifest;
}

type QueriesToAnswer = NonNullable<BaselineOptions["queries"]> & { dialect: Dialect };

/** The `expect: baseline` queries answered on a session of their own, in a read-only transaction (nothing writes). */
async function answerReadOnly(db: Db, queries: QueriesToAnswer, placeholders: Record<string, string>): Promise<NonNullable<Manifest["queries"]>["answers"]> {
  const session = await db.session();
  try {
    await beginReadOnly(session);
    const answers = await captureAnswers(session, db, queries.dialect, queries.list, placeholders, queries.digestKey);
    await session.query("COMMIT");
    return answers;
  } finally {
    session.release();
  }
}

function values(row: Record<string, Captured>, where: string): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [check, result] of Object.entries(row)) {
    if (!result.ok) throw new Error(`baseline check ${check} failed on ${where}: ${result.error}`);
    out[check] = result.value;
  }
  return out;
}

/**
 * Tables one snapshot transaction reads at most. Every statement in a transaction costs more the more tables the
 * transaction has read (measured on 10,000 small tables, CHECKSUM TABLE and COUNT(*) in batches of 200: 3.9 s in one
 * transaction, 0.78 s in transactions of 1,000, 0.72 s outside any; one statement per table in one transaction, 48 s).
 */
const TABLES_PER_SNAPSHOT = 1000;
/** Snapshot transactions (each a connection to the source) one baseline holds at most. */
const MAX_SNAPSHOTS = 16;

/** The InnoDB tables dealt biggest first into `count` groups, one snapshot each: no group is much bigger than another. */
function snapshotGroups(tasks: readonly CaptureTask[], count: number): CaptureTask[][] {
  const groups: CaptureTask[][] = Array.from({ length: count }, () => []);
  [...tasks].sort((a, b) => b.sizeBytes - a.sizeBytes).forEach((t, i) => groups[i % count]?.push(t));
  return groups;
}

/**
 * Each group's InnoDB tables in its snapshot, `concurrency` groups at a time. A session whose group is done while
 * no group waits keeps its snapshot open and reads the ranges of the big tables still being read (lanes.ts: every
 * snapshot was opened at the one position) until the last group is done; then each commits. Checks that would end a
 * snapshot (CHECK TABLE) run after it, on the same session outside any transaction, while its tables are still open:
 * their baseline value is informative only.
 */
async function captureGroups(groups: { group: CaptureTask[]; snapshot: Session }[], concurrency: number, tChecks: TableCheck[], options: CheckOptions, catalog: Catalog): Promise<Results> {
  const results: Results = new Map();
  const inSnapshot = tChecks.filter((c) => !c.implicitCommit);
  const afterwards = tChecks.filter((c) => c.implicitCommit);
  const lanes = new ReadLanes();
  let next = 0;
  let unfinished = groups.length;
  const worker = async () => {
    while (next < groups.length) {
      const { group, snapshot } = groups[next++] as (typeof groups)[number];
      try {
        merge(results, await captureTableChecks([snapshot], group, inSnapshot, options, catalog, lanes));
      } finally {
        if (--unfinished === 0) lanes.close();
      }
      if (next >= groups.length) await lanes.help(snapshot);
      await snapshot.query("COMMIT");
      if (afterwards.length) merge(results, await captureTableChecks([snapshot], group, afterwards, options, catalog));
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, groups.length) }, worker));
  return results;
}

/**
 * Hold FLUSH TABLES WITH READ LOCK just long enough to open the snapshot transactions at one binlog position and to
 * capture the non-transactional tables (and the server-wide checks: grant tables are not InnoDB), then capture InnoDB
 * tables inside the snapshots while writes go on: at least one snapshot per session of `concurrency`, and enough that
 * none reads more than TABLES_PER_SNAPSHOT tables (up to MAX_SNAPSHOTS); each commits once its tables are read and no
 * big table's ranges are left to help with (captureGroups). A batch of small tables is one more statement in its snapshot.
 */
async function captureInSnapshot(
  db: Db,
  concurrency: number,
  databases: string[],
  tasks: CaptureTask[],
  checks: { tChecks: TableCheck[]; dChecks: DatabaseCheck[]; sChecks: ServerCheck[]; serverContext: ServerCaptureContext },
  options: CheckOptions,
  queries?: QueriesToAnswer,
): Promise<{
  position: BinlogPosition | null;
  tableResults: Results;
  dbResults: Results;
  serverResults: Record<string, Captured>;
  nonTransactional: Manifest["nonTransactional"];
  queries: Manifest["queries"];
}> {
  const { tChecks, dChecks, sChecks, serverContext } = checks;
  // Sessions that take several statements per round trip: a batch of small tables is read inside the lock or the
  // snapshot like any single statement (captureTableChecks never mixes a snapshot's checks with CHECK TABLE's).
  const lock = await db.session({ manyStatements: true });
  const snapshots: Session[] = [];
  const tableResults: Results = new Map();
  let dbResults: Results;
  let serverResults: Record<string, Captured>;
  let position: BinlogPosition | null;
  // A sequence is InnoDB underneath, but SELECT and CHECKSUM TABLE of one read its current state, not the snapshot's:
  // read in use during the backup, it was past the position and red on every sound restore. Under the lock, where
  // NEXTVAL cannot write its table, it is exactly the position's.
  const snapshotted = (t: CaptureTask) => TRANSACTIONAL.has(t.engine ?? "") && t.type !== "SEQUENCE";
  const plain = tasks.filter((t) => !snapshotted(t));
  const transactional = tasks.filter(snapshotted);
  // The catalog is read once for all of them: the lock's tables and every snapshot's (information_schema is not
  // transactional, and a definition changed after the snapshots opened fails their reads anyway).
  const catalog = new Catalog();
  const snapshotCount = Math.max(concurrency, Math.min(MAX_SNAPSHOTS, Math.ceil(transactional.length / TABLES_PER_SNAPSHOT)));
  // The team's queries get a snapshot of their own, read-only, one statement at a time (a pooled connection).
  let querySnapshot: Session | undefined;
  let placeholders: Record<string, string> | undefined;
  let answered: NonNullable<Manifest["queries"]>["answers"] = [];
  try {
    for (let i = 0; i < snapshotCount; i++) snapshots.push(await db.session({ manyStatements: true }));
    if (queries) querySnapshot = await db.session();
    await lock.query("FLUSH TABLES WITH READ LOCK");
    try {
      for (const s of snapshots) await s.query("START TRANSACTION WITH CONSISTENT SNAPSHOT");
      if (querySnapshot) await beginReadOnly(querySnapshot, true);
      position = await binlogPosition(lock);
      if (queries) placeholders = await readPlaceholders(lock);
      // Writes are blocked here: what is captured now is exactly the state at `position`.
      merge(tableResults, await captureTableChecks([lock], plain, tChecks, options, catalog));
      dbResults = await captureDatabaseChecks(lock, databases, dChecks);
      serverResults = await captureServerChecks(lock, sChecks, serverContext);
    } finally {
      await lock.query("UNLOCK TABLES");
    }
    answered = await captureSnapshotGroups(db, snapshots, transactional, { concurrency, tChecks, options, catalog, tableResults }, queries, querySnapshot, placeholders);
  } finally {
    for (const s of snapshots) s.release();
    querySnapshot?.release();
    lock.release();
  }
  const nonTransactional = plain.length
    ? { tables: plain.map((t) => `${t.database}.${t.table}`), capturedUnder: "FLUSH TABLES WITH READ LOCK at the snapshot's position" }
    : undefined;
  return { position, tableResults, dbResults, serverResults, nonTransactional, queries: placeholders ? { placeholders, answers: answered } : undefined };
}

/**
 * The InnoDB tables read inside the snapshots (open at the position), one group per snapshot, each committed as soon
 * as its tables are read; the team's queries beside them in their own snapshot. Their answers (none without queries).
 */
async function captureSnapshotGroups(
  db: Db,
  snapshots: readonly Session[],
  transactional: CaptureTask[],
  read: { concurrency: number; tChecks: TableCheck[]; options: CheckOptions; catalog: Catalog; tableResults: Results },
  queries: QueriesToAnswer | undefined,
  querySnapshot: Session | undefined,
  placeholders: Record<string, string> | undefined,
): Promise<NonNullable<Manifest["queries"]>["answers"]> {
  const { concurrency, tChecks, options, catalog, tableResults } = read;
  let answered: NonNullable<Manifest["queries"]>["answers"] = [];
  const groups = snapshotGroups(transactional, snapshots.length).map((group, i) => ({ group, snapshot: snapshots[i] as Session }));
  // The queries read beside the table captures, in their own snapshot at the same position.
  const answering = async () => {
    if (!queries || !querySnapshot || !placeholders) return;
    answered = await captureAnswers(querySnapshot, db, queries.dialect, queries.list, placeholders, queries.digestKey);
    await querySnapshot.query("COMMIT");
  };
  // Both run to their end before the sessions are released, whichever fails.
  const settled = await Promise.allSettled([
    answering(),
    captureGroups(groups, concurrency, tChecks, options, catalog).then((results) => merge(tableResults, results)),
  ]);
  for (const result of settled) if (result.status === "rejected") throw result.reason;
  return answered;
}

function describe(p: { file: string; position: number } | null): string {
  return p ? `${p.file}:${p.position}` : "none";
}
