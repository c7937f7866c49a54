// Small tables are captured in batches (src/db/batch.ts): one CHECKSUM TABLE and one CHECK TABLE naming every table of
// a batch, counts in one UNION ALL, catalog queries in one query, SHOW CREATE TABLEs in one round trip. Every table's
// values, test names and failure messages are exactly those of the table captured alone: a fault in one table of a
// batch is red for that table only, and a table dropped between the listing and the batch is named, alone.
import { describe, expect, it } from "vitest";
import { captureBaseline } from "../../src/baseline/capture.ts";
import type { Manifest } from "../../src/store/manifest.ts";
import { captureTableChecks, tableKey, type Captured, type CaptureTask } from "../../src/checks/capture.ts";
import { tableChecksFor } from "../../src/checks/coverage.ts";
import { tableChecks } from "../../src/checks/index.ts";
import { DEFAULT_CHECK_OPTIONS } from "../../src/checks/types.ts";
import type { Queryable, Row, Statement } from "../../src/db/connection.ts";
import { listTables } from "../../src/db/introspect.ts";
import { allFindings, captureRestored, planTests, type Verification } from "../../src/verify/verify.ts";
import { useSandboxDb } from "../support/sandboxDb.ts";

const SMALL = Array.from({ length: 40 }, (_, i) => `t${String(i).padStart(2, "0")}`);

const TABLES = [
  ...SMALL.flatMap((t) => [
    `CREATE TABLE s.${t} (id INT PRIMARY KEY AUTO_INCREMENT, v VARCHAR(20), KEY kv (v)) ENGINE=InnoDB`,
    `INSERT INTO s.${t} (v) SELECT CONCAT('${t}-', seq) FROM s.seq_1_to_5`,
  ]),
  "CREATE TABLE s.my (id INT PRIMARY KEY, v TEXT) ENGINE=MyISAM",
  "INSERT INTO s.my SELECT seq, REPEAT('m', seq) FROM s.seq_1_to_30",
  "CREATE TABLE s.ar (id INT PRIMARY KEY, v VARCHAR(20)) ENGINE=Aria",
  "INSERT INTO s.ar SELECT seq, CONCAT('a', seq) FROM s.seq_1_to_30",
  // CHECKSUM TABLE is not trusted for generated columns: the row hash of the stored columns instead.
  "CREATE TABLE s.gen (id INT PRIMARY KEY, a INT, b INT AS (a * 2) VIRTUAL, KEY kb (b)) ENGINE=InnoDB",
  "INSERT INTO s.gen (id, a) SELECT seq, seq FROM s.seq_1_to_20",
  "CREATE TABLE s.ver (id INT PRIMARY KEY, v INT) WITH SYSTEM VERSIONING",
  "INSERT INTO s.ver SELECT seq, seq FROM s.seq_1_to_10",
  "UPDATE s.ver SET v = v + 1 WHERE id <= 3",
  "CREATE TABLE s.part (id INT PRIMARY KEY) PARTITION BY HASH (id) PARTITIONS 3",
  "INSERT INTO s.part SELECT seq FROM s.seq_1_to_50",
  "CREATE SEQUENCE s.sq START WITH 100",
  "CREATE TABLE s.empty (id INT PRIMARY KEY) ENGINE=InnoDB",
  // Odd names, and two tables the server labels alike in a CHECK TABLE answer (`s`.`dot.ted`, `s.dot`.`ted`).
  "CREATE TABLE s.`we``ird` (id INT PRIMARY KEY, v INT)",
  "INSERT INTO s.`we``ird` VALUES (1, 1)",
  "CREATE TABLE s.`dot.ted` (id INT PRIMARY KEY, v INT)",
  "INSERT INTO s.`dot.ted` VALUES (1, 1)",
  "CREATE DATABASE `s.dot`",
  "CREATE TABLE `s.dot`.ted (id INT PRIMARY KEY, v INT)",
  "INSERT INTO `s.dot`.ted VALUES (1, 2)",
];

const sandbox = useSandboxDb("batch", TABLES);
const DATABASES = ["s", "s.dot"];
const CHECKS = ["checksum", "definition", "rowCount", "integrity", "indexes", "autoIncrement"];

function baseline(mode: "quiescent" | "snapshot" = "quiescent"): Promise<Manifest> {
  return captureBaseline(sandbox.db, { service: "batch", databases: DATABASES, checks: CHECKS, options: DEFAULT_CHECK_OPTIONS, concurrency: 2, mode });
}

/** Every table of the manifest as a capture task, listed now whether or not it still exists (as a listing taken before). */
function tasksOf(manifest: Manifest): CaptureTask[] {
  const plan = planTests(manifest, CHECKS);
  return plan.databases.flatMap((d) =>
    d.tables.map((t) => ({
      database: d.name,
      table: t.name,
      sizeBytes: t.sizeBytes,
      engine: t.engine,
      type: t.type,
      checks: t.checks,
      baseline: manifest.databases.find((m) => m.name === d.name)?.tables.find((m) => m.name === t.name)?.checks,
    })),
  );
}

/** All tables at once (batched), or each table captured on its own (the per-table path). */
async function capture(tasks: readonly CaptureTask[], how: "batched" | "alone", session: Queryable = sandbox.db): Promise<Map<string, Record<string, Captured>>> {
  if (how === "batched") return captureTableChecks([session, session], tasks, tableChecks(CHECKS), DEFAULT_CHECK_OPTIONS);
  const out = new Map<string, Record<string, Captured>>();
  for (const t of tasks) for (const [key, row] of await captureTableChecks([session], [t], tableChecks(CHECKS), DEFAULT_CHECK_OPTIONS)) out.set(key, row);
  return out;
}

/** The table tests' red findings (`db.table:check` → message) of a capture against the manifest. */
function red(manifest: Manifest, tables: Map<string, Record<string, Captured>>): Record<string, string> {
  const v: Verification = { manifest, plan: planTests(manifest, CHECKS), server: {}, databases: new Map(), tables, durationMs: 0 };
  return Object.fromEntries(allFindings(v).flatMap(({ key, finding }) => (finding.ok ? [] : [[key, finding.message]])));
}

/** Captured values without their timings. */
const values = (m: Map<string, Record<string, Captured>>) =>
  Object.fromEntries([...m].map(([k, row]) => [k, Object.fromEntries(Object.entries(row).map(([c, r]) => [c, r.ok ? { value: r.value } : { error: r.error }]))]));

/** The pool, counting its round trips and keeping every statement it was sent. */
function counting(): Queryable & { trips: number; sql: string[] } {
  const db = sandbox.db;
  const spy = {
    trips: 0,
    sql: [] as string[],
    description: db.description,
    query<T extends Row = Row>(sql: string, params?: unknown[]) {
      spy.trips++;
      spy.sql.push(sql);
      return db.query<T>(sql, params);
    },
    queryMany(statements: readonly Statement[]) {
      spy.trips++;
      spy.sql.push(...statements.map((s) => s.sql));
      return db.queryMany(statements);
    },
  };
  return spy;
}

describe("batched capture of small tables", () => {
  it("captures every table exactly as it captures the table alone, at backup time and at verify time, in a few round trips", async () => {
    // At backup time: the tables as the catalog lists them, each with the checks its kind takes.
    const tasks: CaptureTask[] = [];
    for (const database of DATABASES) {
      for (const t of await listTables(sandbox.db, database)) {
        const checks = tableChecksFor({ database, name: t.name, type: t.type, system: false }, CHECKS);
        tasks.push({ database, table: t.name, sizeBytes: t.sizeBytes, engine: t.engine, type: t.type, checks });
      }
    }
    expect(tasks.length).toBe(SMALL.length + 10);
    expect(tasks.every((t) => t.sizeBytes < 1024 * 1024)).toBe(true);
    const spy = counting();
    const batched = await capture(tasks, "batched", spy);
    const alone = await capture(tasks, "alone");
    expect(values(batched)).toEqual(values(alone));
    for (const row of batched.values()) for (const [c, r] of Object.entries(row)) expect(r.ok, `${c}: ${r.ok ? "" : r.error}`).toBe(true);
    // A batch names its tables in one CHECKSUM TABLE and one CHECK TABLE (the labels alike go alone).
    expect(spy.sql.filter((q) => /^CHECK TABLE `[^;]*`, `/.test(q)).length).toBeGreaterThan(0);
    expect(spy.sql.filter((q) => /^CHECKSUM TABLE `[^;]*`, `/.test(q)).length).toBeGreaterThan(0);
    expect(spy.trips, `${spy.trips} round trips for ${tasks.length} tables`).toBeLessThan(tasks.length);
    // Catalog queries: one read of each database's catalog per query, none of a single table.
    const catalog = spy.sql.filter((q) => q.includes("information_schema."));
    expect(catalog.filter((q) => q.includes("TABLE_NAME = ?"))).toEqual([]);
    for (const q of new Set(catalog)) expect(catalog.filter((c) => c === q).length, q).toBeLessThanOrEqual(DATABASES.length);

    const manifest = await baseline();
    const spyVerify = counting();
    const verifyBatched = await capture(tasksOf(manifest), "batched", spyVerify);
    expect(values(verifyBatched)).toEqual(values(await capture(tasksOf(manifest), "alone")));
    expect(spyVerify.trips).toBeLessThan(tasks.length);
  });

  it("a clean server verifies green, from a quiescent and from a snapshot baseline", async () => {
    for (const mode of ["quiescent", "snapshot"] as const) {
      const manifest = await baseline(mode);
      const v = await captureRestored(sandbox.db, manifest, CHECKS, DEFAULT_CHECK_OPTIONS, 2);
      const findings = allFindings(v);
      expect(findings.length).toBeGreaterThan(6 * SMALL.length);
      expect(Object.fromEntries(findings.flatMap(({ key, finding }) => (finding.ok ? [] : [[key, finding.message]]))), mode).toEqual({});
    }
  });

  it("a fault in one table of a batch is red for that table only, with the message the table alone gives (fault test)", async () => {
    const manifest = await baseline();
    const faults = [
      "UPDATE s.t07 SET v = 'changed' WHERE id = 2",
      "DELETE FROM s.t21 WHERE id = 3",
      "ALTER TABLE s.t30 DROP INDEX kv",
      "UPDATE s.gen SET a = 0 WHERE id = 5",
      "INSERT INTO s.my VALUES (99, 'x')",
      "UPDATE `s.dot`.ted SET v = 3",
    ];
    for (const sql of faults) await sandbox.db.query(sql);
    try {
      const batched = red(manifest, (await captureRestored(sandbox.db, manifest, CHECKS, DEFAULT_CHECK_OPTIONS, 2)).tables);
      expect(Object.keys(batched).sort()).toEqual(
        [
          "s.t07:checksum",
          "s.t21:checksum",
          "s.t21:rowCount",
          "s.t30:definition",
          "s.t30:indexes",
          "s.gen:checksum",
          "s.my:checksum",
          "s.my:rowCount",
          "s.dot.ted:checksum",
        ].sort(),
      );
      expect(batched).toEqual(red(manifest, await capture(tasksOf(manifest), "alone")));
      expect(batched["s.t07:checksum"]).toMatch(/^table data differs from the baseline: CHECKSUM TABLE s\.t07 is \d+, baseline \d+$/);
      expect(batched["s.t21:rowCount"]).toBe("row count differs: s.t21 has 4 rows, baseline 5 (-1)");
    } finally {
      await sandbox.db.query("UPDATE s.t07 SET v = 't07-2' WHERE id = 2");
      await sandbox.db.query("INSERT INTO s.t21 VALUES (3, 't21-3')");
      await sandbox.db.query("ALTER TABLE s.t30 ADD KEY kv (v)");
      await sandbox.db.query("UPDATE s.gen SET a = 5 WHERE id = 5");
      await sandbox.db.query("DELETE FROM s.my WHERE id = 99");
      await sandbox.db.query("UPDATE `s.dot`.ted SET v = 2");
    }
    expect(red(manifest, (await captureRestored(sandbox.db, manifest, CHECKS, DEFAULT_CHECK_OPTIONS, 2)).tables)).toEqual({});
  });

  it("a table dropped between the listing and its batch is named, alone; the rest of the batch is green (fault test)", async () => {
    const manifest = await baseline();
    const tasks = tasksOf(manifest);
    await sandbox.db.query("DROP TABLE s.t13, s.gen");
    const batched = await capture(tasks, "batched");
    const alone = await capture(tasks, "alone");
    const findings = red(manifest, batched);
    expect(Object.keys(findings).every((k) => k.startsWith("s.t13:") || k.startsWith("s.gen:")), Object.keys(findings).join(", ")).toBe(true);
    expect(findings).toEqual(red(manifest, alone));
    // autoIncrement reads only the catalog, which no longer lists the table: as green as for the table alone.
    for (const check of CHECKS.filter((c) => c !== "autoIncrement")) expect(findings[`s.t13:${check}`], check).toContain("s.t13");
    expect(findings["s.t13:definition"]).toMatch(/^definition could not be read on the restored server for s\.t13: .*Table 's\.t13' doesn't exist\n {2}SQL: SHOW CREATE TABLE `s`\.`t13`$/);
    expect(findings["s.t13:integrity"]).toMatch(/^CHECK TABLE s\.t13 status is "Operation failed", expected "OK":\n {2}Error: Table 's\.t13' doesn't exist/);
    expect(findings["s.t13:checksum"]).toMatch(/^table data differs from the baseline: CHECKSUM TABLE s\.t13 is null, baseline \d+$/);
    expect(batched.get(tableKey({ database: "s", table: "t12" }))?.checksum?.ok).toBe(true);
  });
});
