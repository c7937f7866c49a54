// Capturing a baseline manifest from a source server.
import type { Db } from "../db/connection.ts";
import { binlogPosition, databaseExists, listDatabases, listTables, serverInfo, type TableInfo } from "../db/introspect.ts";
import { captureChecks, tableKey } from "../checks/capture.ts";
import type { TableCheck } from "../checks/types.ts";
import { MANIFEST_VERSION, type Manifest } from "./manifest.ts";

export interface BaselineOptions {
  service: string;
  /** Databases to capture; default every non-system database. */
  databases?: string[];
  checks: readonly TableCheck[];
  concurrency: number;
}

/** Capture every check on every base table. The caller makes the source quiescent (or snapshots it) first. */
export async function captureBaseline(db: Db, options: BaselineOptions): Promise<Manifest> {
  const started = performance.now();
  const databases = options.databases ?? (await listDatabases(db));
  for (const name of databases) {
    if (!(await databaseExists(db, name))) throw new Error(`database "${name}" listed for service ${options.service} does not exist on ${db.description}`);
  }
  const positionBefore = await binlogPosition(db);
  const tablesByDb = new Map<string, TableInfo[]>();
  for (const name of databases) tablesByDb.set(name, await listTables(db, name));
  const baseTables = [...tablesByDb.values()].flat().filter((t) => t.type === "BASE TABLE");
  const captured = await captureChecks(
    db,
    baseTables.map((t) => ({ database: t.database, table: t.name, sizeBytes: t.sizeBytes })),
    options.checks,
    options.concurrency,
  );
  const positionAfter = await binlogPosition(db);
  if (JSON.stringify(positionBefore) !== JSON.stringify(positionAfter)) {
    throw new Error(
      `the source was written to while the baseline was captured (binlog moved from ${describe(positionBefore)} to ${describe(positionAfter)}); ` +
        `pause replication on the backup replica or stop writes first`,
    );
  }
  const info = await serverInfo(db);
  const manifest: Manifest = {
    version: MANIFEST_VERSION,
    service: options.service,
    capturedAt: new Date().toISOString(),
    durationMs: 0,
    server: info,
    position: positionAfter,
    consistency: "quiescent",
    checks: options.checks.map((c) => c.name),
    databases: databases.map((name) => ({
      name,
      tables: (tablesByDb.get(name) ?? []).map((t) => {
        const checks: Record<string, unknown> = {};
        for (const [check, result] of Object.entries(captured.get(tableKey({ database: name, table: t.name })) ?? {})) {
          if (!result.ok) throw new Error(`baseline check ${check} failed on ${name}.${t.name}: ${result.error}`);
          checks[check] = result.value;
        }
        return { name: t.name, type: t.type, engine: t.engine, sizeBytes: t.sizeBytes, checks };
      }),
    })),
  };
  manifest.durationMs = Math.round(performance.now() - started);
  return manifest;
}

function describe(p: { file: string; position: number } | null): string {
  return p ? `${p.file}:${p.position}` : "none";
}
