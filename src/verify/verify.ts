// Verification: capture the restored server with the same checks as the baseline and turn each pair into a finding.
import type { Manifest } from "../store/manifest.ts";
import { captureDatabaseChecks, captureServerChecks, captureTableChecks, tableKey, type Captured } from "../checks/capture.ts";
import { tableChecksFor } from "../checks/coverage.ts";
import { check, databaseChecks, serverChecks, tableChecks } from "../checks/index.ts";
import type { CheckOptions, Finding, ServerCaptureContext, TableRef } from "../checks/types.ts";
import type { Db, Queryable } from "../db/connection.ts";
import { listTableNames } from "../db/introspect.ts";
import { accountName } from "../db/accounts.ts";

/**
 * The tests a verification answers, from the manifest: each object with the checks its baseline recorded (coverage.ts
 * decided those at backup time), plus any check enabled now that the baseline's backup did not run at all and that
 * applies to the object (red, "take a new backup", until one records it); the same for databases and the server.
 */
export interface TestPlan {
  server: string[];
  databases: { name: string; system: boolean; checks: string[]; tables: { name: string; type: string; engine: string | null; sizeBytes: number; checks: string[] }[] }[];
}

export function planTests(manifest: Manifest, enabled: readonly string[]): TestPlan {
  const newSince = (names: readonly string[]) => names.filter((name) => !manifest.checks.includes(name));
  const union = (recorded: Iterable<string>, now: readonly string[]) => [...new Set([...recorded, ...newSince(now)])].filter((name) => enabled.includes(name));
  const scoped = (scope: string) => enabled.filter((name) => check(name).scope === scope);
  return {
    server: union(Object.keys(manifest.serverChecks ?? {}), scoped("server")),
    databases: manifest.databases.map((d) => ({
      name: d.name,
      system: d.system === true,
      checks: union(Object.keys(d.checks), scoped("database")),
      tables: d.tables
        .filter((t) => t.type !== "VIEW")
        .map((t) => ({
          name: t.name,
          type: t.type,
          engine: t.engine,
          sizeBytes: t.sizeBytes,
          checks: union(Object.keys(t.checks), tableChecksFor({ database: d.name, name: t.name, type: t.type, system: d.system }, enabled)),
        })),
    })),
  };
}

export interface Verification {
  manifest: Manifest;
  plan: TestPlan;
  /** Server-wide captures by check name. */
  server: Record<string, Captured>;
  /** Database-wide captures by database name, then check name. */
  databases: Map<string, Record<string, Captured>>;
  /** Table captures by tableKey(), then check name; a table missing on the restored server has no entry. */
  tables: Map<string, Record<string, Captured>>;
  durationMs: number;
}

/** Capture every planned object on the restored server, concurrently, biggest first, at the baseline's chunk boundaries. */
export async function captureRestored(
  db: Db,
  manifest: Manifest,
  checks: readonly string[],
  options: CheckOptions,
  concurrency: number,
  server: ServerCaptureContext = {},
): Promise<Verification> {
  const started = performance.now();
  const plan = planTests(manifest, checks);
  const present = new Set<string>();
  for (const d of plan.databases) for (const t of await listTableNames(db, d.name)) present.add(tableKey({ database: d.name, table: t.name }));
  const baseline = new Map(manifest.databases.flatMap((d) => d.tables.map((t) => [tableKey({ database: d.name, table: t.name }), t.checks] as const)));
  const tasks = plan.databases.flatMap((d) =>
    d.tables
      .filter((t) => present.has(tableKey({ database: d.name, table: t.name })))
      .map((t) => ({ database: d.name, table: t.name, sizeBytes: t.sizeBytes, engine: t.engine, type: t.type, checks: t.checks, baseline: baseline.get(tableKey({ database: d.name, table: t.name })) })),
  );
  const sessions: Queryable[] = Array.from({ length: concurrency }, () => db);
  const tables = await captureTableChecks(sessions, tasks, tableChecks(checks), options);
  const databases = await captureDatabaseChecks(db, plan.databases.map((d) => d.name), databaseChecks(checks));
  const serverCaptured = await captureServerChecks(db, serverChecks(plan.server), server);
  return { manifest, plan, server: serverCaptured, databases, tables, durationMs: performance.now() - started };
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

/** The finding for one server-wide check (accounts, server settings). */
export function serverFinding(v: Verification, checkName: string): Finding {
  const c = check(checkName);
  if (c.scope !== "server") throw new Error(`${checkName} is not a server check`);
  return judge(checkName, v.manifest.serverChecks?.[checkName], v.server[checkName], "the server", (e, a) => c.compare(e, a));
}

/** One planned test and its finding: `check` (server), `db:check` or `db.table:check`, as reports and the fault catalog name them. */
export interface PlannedFinding {
  key: string;
  database?: string;
  table?: string;
  check: string;
  finding: Finding;
}

/** Every planned test's finding, in plan order. */
export function allFindings(v: Verification): PlannedFinding[] {
  const out: PlannedFinding[] = v.plan.server.map((name) => ({ key: name, check: name, finding: serverFinding(v, name) }));
  for (const d of v.plan.databases) {
    for (const name of d.checks) out.push({ key: `${d.name}:${name}`, database: d.name, check: name, finding: databaseFinding(v, d.name, name) });
    for (const t of d.tables) {
      for (const name of t.checks) {
        out.push({ key: `${d.name}.${t.name}:${name}`, database: d.name, table: t.name, check: name, finding: tableFinding(v, { database: d.name, table: t.name }, name) });
      }
    }
  }
  return out;
}

/**
 * The manifest with `accounts` left out of its accounts baseline: with the same accounts in the capture's
 * `ignoreAccounts`, neither side holds them (accounts the tool itself manages, whose changes no binlog carries).
 */
export function leaveOutAccounts(manifest: Manifest, accounts: readonly { user: string; host: string }[]): Manifest {
  const recorded = manifest.serverChecks?.accounts;
  if (accounts.length === 0 || !recorded || typeof recorded !== "object") return manifest;
  const names = new Set(accounts.map((a) => accountName(a.user, a.host)));
  const kept = Object.fromEntries(Object.entries(recorded as Record<string, unknown>).filter(([name]) => !names.has(name)));
  return { ...manifest, serverChecks: { ...manifest.serverChecks, accounts: kept } };
}
