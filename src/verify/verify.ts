// Verification: capture the restored server with the same checks as the baseline and turn each pair into a finding.
import { baseTables, type Manifest } from "../baseline/manifest.ts";
import { captureChecks, tableKey, type Captured } from "../checks/capture.ts";
import { tableCheck } from "../checks/index.ts";
import type { Finding, TableRef } from "../checks/types.ts";
import type { Db } from "../db/connection.ts";
import { listTables, type TableInfo } from "../db/introspect.ts";

export interface Verification {
  manifest: Manifest;
  /** What the restored server holds per database (base tables, views…). */
  objects: Map<string, TableInfo[]>;
  captured: Map<string, Record<string, Captured>>;
  durationMs: number;
}

/** Capture every manifest table on the restored server, concurrently, biggest first. */
export async function captureRestored(db: Db, manifest: Manifest, checks: readonly string[], concurrency: number): Promise<Verification> {
  const started = performance.now();
  const objects = new Map<string, TableInfo[]>();
  for (const d of manifest.databases) objects.set(d.name, await listTables(db, d.name));
  const present = new Set([...objects.values()].flat().map((t) => tableKey({ database: t.database, table: t.name })));
  const tasks = baseTables(manifest)
    .filter(({ database, table }) => present.has(tableKey({ database, table: table.name })))
    .map(({ database, table }) => ({ database, table: table.name, sizeBytes: table.sizeBytes }));
  const captured = await captureChecks(db, tasks, checks.map(tableCheck), concurrency);
  return { manifest, objects, captured, durationMs: performance.now() - started };
}

/** The finding for one check of one table. */
export function tableFinding(v: Verification, ref: TableRef, checkName: string): Finding {
  const check = tableCheck(checkName);
  const baseline = v.manifest.databases.find((d) => d.name === ref.database)?.tables.find((t) => t.name === ref.table);
  if (!baseline) return { ok: false, message: `${ref.database}.${ref.table} is not in the baseline manifest` };
  const row = v.captured.get(tableKey(ref));
  if (!row) return { ok: false, message: `table ${ref.database}.${ref.table} is missing from the restored server` };
  const actual = row[checkName];
  if (!actual) return { ok: false, message: `check ${checkName} was not captured on the restored server` };
  if (!actual.ok) return { ok: false, message: `${checkName} could not be read on the restored server: ${actual.error}` };
  if (!(checkName in baseline.checks)) {
    return { ok: false, message: `the baseline has no ${checkName} value for ${ref.database}.${ref.table}: take a new backup with this check enabled` };
  }
  const expected = check.schema.safeParse(baseline.checks[checkName]);
  if (!expected.success) return { ok: false, message: `the baseline's ${checkName} value for ${ref.database}.${ref.table} is malformed` };
  return check.compare(expected.data, actual.value, ref);
}

/** Missing and extra tables/views of one database, by name. */
export function objectsFinding(v: Verification, database: string): Finding {
  const baseline = v.manifest.databases.find((d) => d.name === database);
  const restored = v.objects.get(database) ?? [];
  const expected = new Map((baseline?.tables ?? []).map((t) => [t.name, t.type]));
  const actual = new Map(restored.map((t) => [t.name, t.type]));
  const missing = [...expected.keys()].filter((n) => !actual.has(n));
  const extra = [...actual.keys()].filter((n) => !expected.has(n));
  const changedType = [...expected.entries()].filter(([n, type]) => actual.has(n) && actual.get(n) !== type).map(([n]) => n);
  if (missing.length + extra.length + changedType.length === 0) return { ok: true, summary: `${expected.size} tables and views present` };
  const parts = [
    missing.length ? `missing from the restore: ${missing.join(", ")}` : "",
    extra.length ? `not in the baseline: ${extra.join(", ")}` : "",
    changedType.length ? `type changed: ${changedType.map((n) => `${n} (${expected.get(n)} → ${actual.get(n)})`).join(", ")}` : "",
  ].filter(Boolean);
  return { ok: false, message: `database ${database}: ${parts.join("; ")}`, expected: [...expected.keys()].join("\n"), actual: [...actual.keys()].join("\n") };
}
