// MyISAM and Aria tables are compared by a row sum (COUNT(*) + SUM(CRC32(row))) instead of CHECKSUM TABLE, which reads
// their rows one system call each. Every fault the checksum exists to catch still turns it red, and two faults that
// weaker whole-table values miss (equal rows changed alike; a live checksum's data file changed on disk) do too.
import { openSync, closeSync, writeSync, statSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { captureBaseline } from "../../src/baseline/capture.ts";
import type { Manifest } from "../../src/store/manifest.ts";
import { DEFAULT_CHECK_OPTIONS, type CheckOptions } from "../../src/checks/types.ts";
import { checksumTable } from "../../src/db/introspect.ts";
import { captureRestored, tableFinding } from "../../src/verify/verify.ts";
import { useSandboxDb } from "../support/sandboxDb.ts";

const TABLES = [
  "CREATE TABLE s.fixed (id INT PRIMARY KEY, a INT NOT NULL, c DATETIME) ENGINE=MyISAM",
  "INSERT INTO s.fixed SELECT seq, seq % 13, '2026-01-01' + INTERVAL seq MINUTE FROM s.seq_1_to_3000",
  "CREATE TABLE s.dyn (id INT PRIMARY KEY, name VARCHAR(40), note TEXT) ENGINE=MyISAM",
  "INSERT INTO s.dyn SELECT seq, IF(seq % 5 = 0, NULL, CONCAT('n', seq)), REPEAT('t', seq % 30) FROM s.seq_1_to_3000",
  // No key: rows 1..50 twice each.
  "CREATE TABLE s.dup (v VARCHAR(10) NOT NULL) ENGINE=MyISAM",
  "INSERT INTO s.dup SELECT CONCAT('v', seq) FROM s.seq_1_to_50",
  "INSERT INTO s.dup SELECT CONCAT('v', seq) FROM s.seq_1_to_50",
  "CREATE TABLE s.aria (id INT PRIMARY KEY, v VARCHAR(20)) ENGINE=Aria",
  "INSERT INTO s.aria SELECT seq, CONCAT('a', seq) FROM s.seq_1_to_1000",
  // A live checksum: CHECKSUM TABLE answers from the header the server keeps up to date, not from the data file.
  "CREATE TABLE s.live (id INT PRIMARY KEY, v CHAR(20) NOT NULL) ENGINE=MyISAM CHECKSUM=1",
  "INSERT INTO s.live SELECT seq, CONCAT('live-', seq) FROM s.seq_1_to_2000",
  // Two character sets neither of which is Unicode, and a TIMESTAMP: the row text must take neither through a conversion.
  "CREATE TABLE s.mixed (id INT PRIMARY KEY, a VARCHAR(10) CHARACTER SET latin1, b VARCHAR(10) CHARACTER SET cp1251, ts TIMESTAMP NULL) ENGINE=MyISAM",
  "INSERT INTO s.mixed SELECT seq, CONCAT('é', seq), CONCAT(CONVERT(0xE6 USING cp1251), seq), FROM_UNIXTIME(1774740000 + seq * 7) FROM s.seq_1_to_500",
  "CREATE TABLE s.stamped (id INT PRIMARY KEY, ts TIMESTAMP NULL) ENGINE=MyISAM",
  "INSERT INTO s.stamped SELECT seq, FROM_UNIXTIME(1774740000 + seq * 7) FROM s.seq_1_to_500",
  "CREATE TABLE s.inno (id INT PRIMARY KEY, v INT) ENGINE=InnoDB",
  "INSERT INTO s.inno SELECT seq, seq FROM s.seq_1_to_1000",
];

const sandbox = useSandboxDb("row-sum", TABLES);

const CHECKS = ["checksum", "rowCount", "integrity"];

function baseline(options: CheckOptions = DEFAULT_CHECK_OPTIONS): Promise<Manifest> {
  return captureBaseline(sandbox.db, { service: "row-sum", databases: ["s"], checks: CHECKS, options, concurrency: 2, mode: "quiescent" });
}

function stored(manifest: Manifest, table: string): Record<string, unknown> {
  return manifest.databases[0]?.tables.find((t) => t.name === table)?.checks.checksum as Record<string, unknown>;
}

async function checksumFinding(manifest: Manifest, table: string, options: CheckOptions = DEFAULT_CHECK_OPTIONS): Promise<string> {
  const restored = await captureRestored(sandbox.db, manifest, CHECKS, options, 2);
  const f = tableFinding(restored, { database: "s", table }, "checksum");
  return f.ok ? "green" : f.message;
}

/** Run `change`, then put the table back exactly as it was (same rows, same live checksum). */
async function withChange(table: string, change: string[], fn: () => Promise<void>): Promise<void> {
  await sandbox.db.query(`CREATE TABLE s.saved_${table} AS SELECT * FROM s.${table}`);
  try {
    for (const sql of change) await sandbox.db.query(sql);
    await fn();
  } finally {
    await sandbox.db.query(`DELETE FROM s.${table}`);
    await sandbox.db.query(`INSERT INTO s.${table} SELECT * FROM s.saved_${table}`);
    await sandbox.db.query(`DROP TABLE s.saved_${table}`);
  }
}

describe("the row sum of MyISAM and Aria tables", () => {
  it("replaces CHECKSUM TABLE in the baseline for MyISAM and Aria only, and a clean copy is green", async () => {
    const manifest = await baseline();
    for (const table of ["fixed", "dyn", "dup", "aria", "live", "mixed"]) {
      expect(stored(manifest, table), table).toMatchObject({ checksum: null, rowSum: { rows: expect.any(Number), sum: expect.stringMatching(/^\d+$/) } });
    }
    expect(stored(manifest, "fixed")).toMatchObject({ rowSum: { rows: 3000 } });
    expect(stored(manifest, "inno")).toEqual({ checksum: expect.stringMatching(/^\d+$/) });
    for (const table of ["fixed", "dyn", "dup", "aria", "live", "inno"]) expect(await checksumFinding(manifest, table), table).toBe("green");
  });

  it("takes character columns by their stored bytes and a TIMESTAMP by its epoch; a row sum taken before that still compares", async () => {
    const manifest = await baseline();
    expect(stored(manifest, "mixed")).toMatchObject({ checksum: null, rowSum: { rows: 500, text: "stable" } });
    // Verified from sessions in another time zone, as on a restore host elsewhere.
    await sandbox.db.query("SET GLOBAL time_zone = '+05:00'");
    const elsewhere = await sandbox.server.connect({ poolSize: 2 });
    try {
      const finding = async (m: Manifest, table: string) => {
        const f = tableFinding(await captureRestored(elsewhere, m, CHECKS, DEFAULT_CHECK_OPTIONS, 2), { database: "s", table }, "checksum");
        return f.ok ? "green" : f.message;
      };
      expect(await finding(manifest, "mixed")).toBe("green");
      await elsewhere.query("UPDATE s.mixed SET b = CONCAT(CONVERT(0xE7 USING cp1251), id) WHERE id = 250");
      expect(await finding(manifest, "mixed")).toMatch(/^table data differs from the baseline: s\.mixed has 500 rows with row sum \d+, baseline 500 rows with row sum \d+$/);
      await elsewhere.query("UPDATE s.mixed SET b = CONCAT(CONVERT(0xE6 USING cp1251), id) WHERE id = 250");
      // A baseline written before (no text marker) is measured with the text it was taken with: here a TIMESTAMP's
      // text in this session's zone, which the stable text (its epoch) would not match.
      const old = structuredClone(manifest);
      const stamped = old.databases[0]?.tables.find((t) => t.name === "stamped")?.checks.checksum as { rowSum: { rows: number; sum: string; text?: string } };
      const plain = String((await elsewhere.query<{ s: string }>("SELECT SUM(CRC32(CONCAT_WS('#', id, ts, (ISNULL(ts) << 0)))) AS s FROM s.stamped"))[0]?.s);
      expect(plain).not.toBe(stamped.rowSum.sum);
      delete stamped.rowSum.text;
      stamped.rowSum.sum = plain;
      expect(await finding(old, "stamped")).toBe("green");
      expect(await finding(manifest, "stamped")).toBe("green");
    } finally {
      await elsewhere.close();
      await sandbox.db.query("SET GLOBAL time_zone = SYSTEM");
    }
  });

  it("a changed row is red, naming the counts and sums, never the row", async () => {
    const manifest = await baseline();
    await withChange("fixed", ["UPDATE s.fixed SET a = 987654 WHERE id = 17"], async () => {
      expect(await checksumFinding(manifest, "fixed")).toMatch(/^table data differs from the baseline: s\.fixed has 3000 rows with row sum \d+, baseline 3000 rows with row sum \d+$/);
      expect(await checksumFinding(manifest, "fixed")).not.toContain("987654");
    });
  });

  it("NULL changed to an empty string is red (NULL-safe row text)", async () => {
    const manifest = await baseline();
    await withChange("dyn", ["UPDATE s.dyn SET name = '' WHERE id = 10"], async () => {
      expect(await checksumFinding(manifest, "dyn")).toMatch(/^table data differs from the baseline: s\.dyn has 3000 rows/);
    });
  });

  it("a deleted Aria row is red with both row counts", async () => {
    const manifest = await baseline();
    await withChange("aria", ["DELETE FROM s.aria WHERE id = 500"], async () => {
      expect(await checksumFinding(manifest, "aria")).toMatch(/s\.aria has 999 rows with row sum \d+, baseline 1000 rows with row sum \d+$/);
    });
  });

  it("two equal rows changed alike are red: a sum, where an XOR of row hashes would cancel out", async () => {
    const manifest = await baseline();
    const xor = async () => (await sandbox.db.query<{ x: string }>("SELECT BIT_XOR(CRC32(v)) AS x FROM s.dup"))[0]?.x;
    const before = await xor();
    await withChange("dup", ["UPDATE s.dup SET v = 'changed' WHERE v = 'v7'"], async () => {
      // The premise: both copies of v7 changed, the XOR of the row hashes is unchanged.
      expect(await xor()).toBe(before);
      expect(await checksumFinding(manifest, "dup")).toMatch(/^table data differs from the baseline: s\.dup has 100 rows/);
    });
  });

  it("a live-checksum table whose data file changed on disk is red, where CHECKSUM TABLE still answers the old value", async () => {
    const manifest = await baseline();
    const header = await checksumTable(sandbox.db, "s", "live");
    await sandbox.db.query("FLUSH TABLES s.live");
    const file = join(sandbox.server.datadir, "s", "live.MYD");
    const at = Math.floor(statSync(file).size / 2);
    const fd = openSync(file, "r+");
    writeSync(fd, Buffer.from("ZZZZ"), 0, 4, at);
    closeSync(fd);
    await sandbox.db.query("FLUSH TABLES s.live");
    // The premise: the header's live checksum does not see the file change.
    expect(await checksumTable(sandbox.db, "s", "live")).toBe(header);
    expect(await checksumFinding(manifest, "live")).toMatch(/^table data differs from the baseline: s\.live has 2000 rows with row sum \d+, baseline 2000 rows with row sum \d+$/);
    await sandbox.db.query("DROP TABLE s.live");
  });

  it("a big MyISAM table is its ranges' sums, the row sum by range: a changed row is localised to one", async () => {
    const options = { ...DEFAULT_CHECK_OPTIONS, chunkMinBytes: 0, chunkRows: 1000 };
    const manifest = await baseline(options);
    expect(stored(manifest, "fixed")).toMatchObject({ checksum: null, chunks: { key: ["id"], hash: "sum" } });
    expect(stored(manifest, "fixed").rowSum).toBeUndefined();
    expect(await checksumFinding(manifest, "fixed", options)).toBe("green");
    await withChange("fixed", ["UPDATE s.fixed SET a = a + 1 WHERE id = 1500"], async () => {
      expect(await checksumFinding(manifest, "fixed", options)).toBe(
        "table data differs from the baseline in 1 of 4 primary-key ranges of s.fixed:\n  id in (1000, 2000]: same row count, content differs",
      );
    });
  });
});
