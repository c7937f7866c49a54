// Capturing a baseline manifest from a source server at one binlog position (quiescent, or inside a consistent snapshot).
import { captureDatabaseChecks, captureTableChecks, tableKey, type Captured, type CaptureTask } from "../checks/capture.ts";
import { databaseChecks, tableChecks } from "../checks/index.ts";
import type { CheckOptions, TableCheck } from "../checks/types.ts";
import type { Db, Queryable, Session } from "../db/connection.ts";
import { binlogPosition, databaseExists, listDatabases, listTables, serverInfo, type BinlogPosition, type TableInfo } from "../db/introspect.ts";
import { MANIFEST_VERSION, type Manifest } from "./manifest.ts";

export interface BaselineOptions {
  service: string;
  /** Databases to capture; default every non-system database. */
  databases?: string[];
  checks: readonly string[];
  options: CheckOptions;
  concurrency: number;
  /** `quiescent`: nothing writes (verified by the binlog position not moving); `snapshot`: writes go on. */
  mode: "quiescent" | "snapshot";
}

/** Engines whose reads honour a consistent snapshot. */
const TRANSACTIONAL = new Set(["InnoDB"]);

type Results = Map<string, Record<string, Captured>>;

function merge(into: Results, from: Results): void {
  for (const [key, row] of from) into.set(key, { ...(into.get(key) ?? {}), ...row });
}

/** Capture the baseline. In `snapshot` mode the returned position is the snapshot's, which the restore replays to. */
export async function captureBaseline(db: Db, options: BaselineOptions): Promise<Manifest> {
  const started = performance.now();
  const databases = options.databases ?? (await listDatabases(db));
  for (const name of databases) {
    if (!(await databaseExists(db, name))) throw new Error(`database "${name}" listed for service ${options.service} does not exist on ${db.description}`);
  }
  const tablesByDb = new Map<string, TableInfo[]>();
  for (const name of databases) tablesByDb.set(name, await listTables(db, name));
  const baseTables = [...tablesByDb.values()].flat().filter((t) => t.type === "BASE TABLE");
  const tasks = (tables: TableInfo[]): CaptureTask[] => tables.map((t) => ({ database: t.database, table: t.name, sizeBytes: t.sizeBytes, engine: t.engine }));
  const tChecks = tableChecks(options.checks);
  const dChecks = databaseChecks(options.checks);
  const pool: Queryable[] = Array.from({ length: options.concurrency }, () => db);

  let position: BinlogPosition | null;
  let tableResults: Results;
  let dbResults: Results;
  let nonTransactional: Manifest["nonTransactional"];
  if (options.mode === "quiescent") {
    const before = await binlogPosition(db);
    tableResults = await captureTableChecks(pool, tasks(baseTables), tChecks, options.options);
    dbResults = await captureDatabaseChecks(db, databases, dChecks);
    position = await binlogPosition(db);
    if (JSON.stringify(before) !== JSON.stringify(position)) {
      throw new Error(
        `the source was written to while the baseline was captured (binlog moved from ${describe(before)} to ${describe(position)}); ` +
          `use backup.consistency: snapshot, or pausedReplica on a replica`,
      );
    }
  } else {
    const snapshot = await captureInSnapshot(db, options.concurrency, databases, baseTables, tChecks, dChecks, options.options);
    ({ position, tableResults, dbResults } = snapshot);
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
    databases: databases.map((name) => ({
      name,
      checks: values(dbResults.get(name) ?? {}, name),
      tables: (tablesByDb.get(name) ?? []).map((t) => ({
        name: t.name,
        type: t.type,
        engine: t.engine,
        sizeBytes: t.sizeBytes,
        checks: t.type === "BASE TABLE" ? values(tableResults.get(tableKey({ database: name, table: t.name })) ?? {}, `${name}.${t.name}`) : {},
      })),
    })),
  };
  manifest.durationMs = Math.round(performance.now() - started);
  return manifest;
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
 * Hold FLUSH TABLES WITH READ LOCK just long enough to open N snapshot transactions at one binlog position and to
 * capture the non-transactional tables, then capture InnoDB tables inside the snapshots while writes go on.
 */
async function captureInSnapshot(
  db: Db,
  concurrency: number,
  databases: string[],
  baseTables: TableInfo[],
  tChecks: TableCheck[],
  dChecks: ReturnType<typeof databaseChecks>,
  options: CheckOptions,
): Promise<{ position: BinlogPosition | null; tableResults: Results; dbResults: Results; nonTransactional: Manifest["nonTransactional"] }> {
  const lock = await db.session();
  const snapshots: Session[] = [];
  const tableResults: Results = new Map();
  let dbResults: Results;
  let position: BinlogPosition | null;
  const plain = baseTables.filter((t) => !TRANSACTIONAL.has(t.engine ?? ""));
  const transactional = baseTables.filter((t) => TRANSACTIONAL.has(t.engine ?? ""));
  const asTasks = (tables: TableInfo[]) => tables.map((t) => ({ database: t.database, table: t.name, sizeBytes: t.sizeBytes, engine: t.engine }));
  try {
    for (let i = 0; i < concurrency; i++) snapshots.push(await db.session());
    await lock.query("FLUSH TABLES WITH READ LOCK");
    try {
      for (const s of snapshots) await s.query("START TRANSACTION WITH CONSISTENT SNAPSHOT");
      position = await binlogPosition(lock);
      // Writes are blocked here: what is captured now is exactly the state at `position`.
      merge(tableResults, await captureTableChecks([lock], asTasks(plain), tChecks, options));
      dbResults = await captureDatabaseChecks(lock, databases, dChecks);
    } finally {
      await lock.query("UNLOCK TABLES");
    }
    const inSnapshot = tChecks.filter((c) => !c.implicitCommit);
    merge(tableResults, await captureTableChecks(snapshots, asTasks(transactional), inSnapshot, options));
    for (const s of snapshots) await s.query("COMMIT");
    // Checks that would end a snapshot (CHECK TABLE) run afterwards: their baseline value is informative only.
    const afterwards = tChecks.filter((c) => c.implicitCommit);
    merge(tableResults, await captureTableChecks(snapshots, asTasks(transactional), afterwards, options));
  } finally {
    for (const s of snapshots) s.release();
    lock.release();
  }
  const nonTransactional = plain.length
    ? { tables: plain.map((t) => `${t.database}.${t.name}`), capturedUnder: "FLUSH TABLES WITH READ LOCK at the snapshot's position" }
    : undefined;
  return { position, tableResults, dbResults, nonTransactional };
}

function describe(p: { file: string; position: number } | null): string {
  return p ? `${p.file}:${p.position}` : "none";
}
