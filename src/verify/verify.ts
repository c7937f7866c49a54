// Verification: capture the restored server with the same checks as the baseline and turn each pair into a finding.
import { baseTables, type Manifest } from "../baseline/manifest.ts";
import { captureDatabaseChecks, captureTableChecks, tableKey, type Captured } from "../checks/capture.ts";
import { check, databaseChecks, tableChecks } from "../checks/index.ts";
import type { CheckOptions, Finding, TableRef } from "../checks/types.ts";
import type { Db, Queryable } from "../db/connection.ts";
import { listTableNames } from "../db/introspect.ts";

export interface Verification {
  manifest: Manifest;
  /** Database-wide captures by database name, then check name. */
  databases: Map<string, Record<string, Captured>>;
  /** Table captures by tableKey(), then check name; a table missing on the restored server has no entry. */
  tables: Map<string, Record<string, Captured>>;
  durationMs: number;
}

/** Capture every manifest table on the restored server, concurrently, biggest first, at the baseline's chunk boundaries. */
export async function captureRestored(db: Db, manifest: Manifest, checks: readonly string[], options: CheckOptions, concurrency: number): Promise<Verification> {
  const started = performance.now();
  const present = new Set<string>();
  for (const d of manifest.databases) for (const t of await listTableNames(db, d.name)) present.add(tableKey({ database: d.name, table: t.name }));
  const tasks = baseTables(manifest)
    .filter(({ database, table }) => present.has(tableKey({ database, table: table.name })))
    .map(({ database, table }) => ({ database, table: table.name, sizeBytes: table.sizeBytes, engine: table.engine, baseline: table.checks }));
  const sessions: Queryable[] = Array.from({ length: concurrency }, () => db);
  const tables = await captureTableChecks(sessions, tasks, tableChecks(checks), options);
  const databases = await captureDatabaseChecks(db, manifest.databases.map((d) => d.name), databaseChecks(checks));
  return { manifest, databases, tables, durationMs: performance.now() - started };
}

/** Compare one captured value with its baseline through the check's own schema and comparison. */
function judge(checkName: string, baselineValue: unknown, captured: Captured | undefined, where: string, compare: (expected: unknown, actual: unknown) => Finding): Finding {
  const c = check(checkName);
  if (!captured) return { ok: false, message: `check ${checkName} was not captured on the restored server` };
  if (!captured.ok) return { ok: false, message: `${checkName} could not be read on the restored server for ${where}: ${captured.error}` };
  if (baselineValue === undefined) {
    return { ok: false, message: `the baseline has no ${checkName} value for ${where}: take a new backup with this check enabled` };
  }
  const expected = c.schema.safeParse(baselineValue);
  if (!expected.success) return { ok: false, message: `the baseline's ${checkName} value for ${where} is malformed` };
  return compare(expected.data, captured.value);
}

/** The finding for one check of one table. */
export function tableFinding(v: Verification, ref: TableRef, checkName: string): Finding {
  const c = check(checkName);
  if (c.scope !== "table") throw new Error(`${checkName} is not a table check`);
  const baseline = v.manifest.databases.find((d) => d.name === ref.database)?.tables.find((t) => t.name === ref.table);
  if (!baseline) return { ok: false, message: `${ref.database}.${ref.table} is not in the baseline manifest` };
  const row = v.tables.get(tableKey(ref));
  if (!row) return { ok: false, message: `table ${ref.database}.${ref.table} is missing from the restored server` };
  return judge(checkName, baseline.checks[checkName], row[checkName], `${ref.database}.${ref.table}`, (e, a) => c.compare(e, a, ref));
}

/** The finding for one database-wide check (tables, views, triggers, routines, events, database). */
export function databaseFinding(v: Verification, database: string, checkName: string): Finding {
  const c = check(checkName);
  if (c.scope !== "database") throw new Error(`${checkName} is not a database check`);
  const baseline = v.manifest.databases.find((d) => d.name === database);
  if (!baseline) return { ok: false, message: `database ${database} is not in the baseline manifest` };
  return judge(checkName, baseline.checks[checkName], v.databases.get(database)?.[checkName], `database ${database}`, (e, a) => c.compare(e, a, database));
}
