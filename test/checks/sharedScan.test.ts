// Checks that share a scan: rowCount and indexes take the row count from the checksum's CHECKSUM TABLE scan, counted
// by the server on the same session, instead of reading every row again; a count that cannot be proven falls back to
// COUNT(*), and a row deleted or inserted on the restored server still turns rowCount red.
import { describe, expect, it } from "vitest";
import { captureBaseline } from "../../src/baseline/capture.ts";
import type { Manifest } from "../../src/store/manifest.ts";
import { captureTableChecks } from "../../src/checks/capture.ts";
import { tableChecks } from "../../src/checks/index.ts";
import { DEFAULT_CHECK_OPTIONS } from "../../src/checks/types.ts";
import type { Queryable, Row, Session } from "../../src/db/connection.ts";
import { checksumTableCountingRows } from "../../src/db/introspect.ts";
import { captureRestored, tableFinding } from "../../src/verify/verify.ts";
import { useSandboxDb } from "../support/sandboxDb.ts";

// Big enough (over 1 MiB) that the checksum counts its scan rather than leaving the count to COUNT(*).
const TABLES = [
  "CREATE TABLE s.inno (id INT PRIMARY KEY, a INT, pad CHAR(60), KEY ka (a)) ENGINE=InnoDB",
  "INSERT INTO s.inno SELECT seq, seq % 97, REPEAT('x', 60) FROM s.seq_1_to_30000",
  "CREATE TABLE s.myi (id INT PRIMARY KEY, t TEXT) ENGINE=MyISAM",
  "INSERT INTO s.myi SELECT seq, REPEAT('y', 80) FROM s.seq_1_to_20000",
  // Deleted records leave holes the scan must skip.
  "DELETE FROM s.myi WHERE id % 10 = 0",
  "CREATE TABLE s.empty (id INT PRIMARY KEY) ENGINE=InnoDB",
  // A live checksum: CHECKSUM TABLE answers from the header without scanning.
  "CREATE TABLE s.live (id INT PRIMARY KEY) ENGINE=MyISAM CHECKSUM=1",
  "INSERT INTO s.live SELECT seq FROM s.seq_1_to_700",
  // Each row passes through two handlers (the partition's and the partitioned table's).
  "CREATE TABLE s.part (id INT PRIMARY KEY) PARTITION BY HASH (id) PARTITIONS 3",
  "INSERT INTO s.part SELECT seq FROM s.seq_1_to_900",
  // Fresh statistics, so information_schema's size (which the baseline records) is the table's.
  "ANALYZE TABLE s.inno, s.myi",
];

const sandbox = useSandboxDb("shared-scan", TABLES);

async function count(table: string): Promise<number> {
  const [row] = await sandbox.db.query<{ n: string }>(`SELECT COUNT(*) AS n FROM s.${table}`);
  return Number(row?.n);
}

/** One session that remembers every statement it ran. */
function recording(session: Session): Queryable & { sql: string[] } {
  const sql: string[] = [];
  return {
    sql,
    description: session.description,
    query: <T extends Row = Row>(text: string, params?: unknown[]) => {
      sql.push(text);
      return session.query<T>(text, params);
    },
  };
}

async function captureOn(table: string, checks: string[], sizeBytes = 64 * 1024 * 1024) {
  const session = await sandbox.db.session();
  try {
    const spy = recording(session);
    const out = await captureTableChecks([spy], [{ database: "s", table, sizeBytes }], tableChecks(checks), DEFAULT_CHECK_OPTIONS);
    const row = out.get(`s\u0000${table}`) ?? {};
    const value = (name: string) => {
      const c = row[name];
      if (!c?.ok) throw new Error(`${name} failed: ${c && !c.ok ? c.error : "not captured"}`);
      return c.value as Record<string, unknown>;
    };
    const counted = spy.sql.some((q) => q === `SELECT COUNT(*) AS n FROM \`s\`.\`${table}\``);
    return { value, counted, sql: spy.sql };
  } finally {
    session.release();
  }
}

const ALL = ["checksum", "definition", "rowCount", "integrity", "indexes"];

describe("the row count from the checksum's scan", () => {
  it("CHECKSUM TABLE's scan is counted exactly: InnoDB, MyISAM with deleted records, an empty table", async () => {
    for (const table of ["inno", "myi", "empty"]) {
      const session = await sandbox.db.session();
      try {
        expect(await checksumTableCountingRows(session, "s", table), table).toMatchObject({ rows: await count(table) });
      } finally {
        session.release();
      }
    }
  });

  it("a scan it cannot prove gives no count: a live checksum (no scan), a partitioned table (rows counted twice)", async () => {
    for (const table of ["live", "part"]) {
      const session = await sandbox.db.session();
      try {
        const r = await checksumTableCountingRows(session, "s", table);
        expect(r.checksum, table).not.toBeNull();
        expect(r.rows, table).toBeUndefined();
      } finally {
        session.release();
      }
    }
  });

  it("rowCount and indexes take it instead of COUNT(*) when CHECK TABLE runs too", async () => {
    for (const table of ["inno", "myi", "empty"]) {
      const c = await captureOn(table, ALL);
      expect(c.counted, `${table}: ${c.sql.join("; ")}`).toBe(false);
      expect(c.value("rowCount"), table).toEqual({ rows: await count(table) });
      expect(c.value("indexes").tableRows, table).toBe(await count(table));
    }
  });

  it("falls back to COUNT(*) where the scan is not proven, the table is small, or CHECK TABLE does not run", async () => {
    for (const table of ["live", "part"]) {
      const c = await captureOn(table, ALL);
      expect(c.counted, table).toBe(true);
      expect(c.value("rowCount"), table).toEqual({ rows: await count(table) });
    }
    // A small table: its COUNT(*) is cheaper than reading the counters twice.
    expect((await captureOn("inno", ALL, 16384)).counted).toBe(true);
    // Without CHECK TABLE nothing proves every index holds the scanned rows: rowCount counts for itself.
    const withoutIntegrity = await captureOn("inno", ["checksum", "rowCount"]);
    expect(withoutIntegrity.counted).toBe(true);
    expect(withoutIntegrity.value("rowCount")).toEqual({ rows: await count("inno") });
  });

  it("a row deleted or inserted after the baseline turns rowCount red through the shared count (fault test)", async () => {
    const manifest: Manifest = await captureBaseline(sandbox.db, {
      service: "shared-scan",
      databases: ["s"],
      checks: ALL,
      options: DEFAULT_CHECK_OPTIONS,
      concurrency: 2,
      mode: "quiescent",
    });
    const size = (table: string) => manifest.databases[0]?.tables.find((t) => t.name === table)?.sizeBytes ?? 0;
    expect(size("inno")).toBeGreaterThan(1024 * 1024);
    expect(size("myi")).toBeGreaterThan(1024 * 1024);
    const clean = await captureRestored(sandbox.db, manifest, ALL, DEFAULT_CHECK_OPTIONS, 2);
    for (const table of ["inno", "myi"]) expect(tableFinding(clean, { database: "s", table }, "rowCount").ok, table).toBe(true);

    await sandbox.db.query("DELETE FROM s.inno WHERE id = 12345");
    await sandbox.db.query("INSERT INTO s.myi VALUES (20001, 'z')");
    const faulty = await captureRestored(sandbox.db, manifest, ALL, DEFAULT_CHECK_OPTIONS, 2);
    const inno = tableFinding(faulty, { database: "s", table: "inno" }, "rowCount");
    const myi = tableFinding(faulty, { database: "s", table: "myi" }, "rowCount");
    expect(inno.ok ? "" : inno.message).toBe("row count differs: s.inno has 29999 rows, baseline 30000 (-1)");
    expect(myi.ok ? "" : myi.message).toBe("row count differs: s.myi has 18001 rows, baseline 18000 (+1)");
    // The same scan's count feeds the indexes check, which still sees every index agree with the table.
    expect(tableFinding(faulty, { database: "s", table: "inno" }, "indexes").ok).toBe(true);
  });
});
