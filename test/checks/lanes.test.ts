// A big table's primary-key ranges read in parallel on the sessions that see the same state (src/checks/lanes.ts), cut
// by arithmetic on a one-column integer key, each the sum of its rows' hashes: the ranges decide (no CHECKSUM TABLE
// besides), with the same ranges and values as one session reading them in turn, and a difference still localised to
// its one range. A system-versioned table, whose history only the whole-table value reads, keeps CHECKSUM TABLE.
import { describe, expect, it } from "vitest";
import { captureBaseline } from "../../src/baseline/capture.ts";
import { ReadLanes } from "../../src/checks/lanes.ts";
import { DEFAULT_CHECK_OPTIONS } from "../../src/checks/types.ts";
import type { Queryable } from "../../src/db/connection.ts";
import type { Manifest } from "../../src/store/manifest.ts";
import { captureRestored, tableFinding } from "../../src/verify/verify.ts";
import { useSandboxDb } from "../support/sandboxDb.ts";

const sandbox = useSandboxDb("lanes", [
  "CREATE TABLE s.dense (id INT PRIMARY KEY, a INT NOT NULL, b VARCHAR(20), c DATETIME NOT NULL, KEY ka (a)) ENGINE=InnoDB",
  "INSERT INTO s.dense SELECT seq, seq % 97, IF(seq % 7 = 0, NULL, CONCAT('b', seq)), '2026-01-01' + INTERVAL seq SECOND FROM s.seq_1_to_10000",
  // Keys three apart, starting far from 1: the arithmetic cut must follow the key's gaps.
  "CREATE TABLE s.sparse (id BIGINT PRIMARY KEY, v DOUBLE) ENGINE=InnoDB",
  "INSERT INTO s.sparse SELECT 5000000000 + seq * 3, seq / 7 FROM s.seq_1_to_6000",
  "CREATE TABLE s.versioned (id INT PRIMARY KEY, v INT NOT NULL) ENGINE=InnoDB WITH SYSTEM VERSIONING",
  "INSERT INTO s.versioned SELECT seq, seq FROM s.seq_1_to_3000",
  // Two character sets neither of which is Unicode (CONCAT_WS of their text is an error), and a TIMESTAMP (its text
  // is in the session's time zone).
  "CREATE TABLE s.mixed (id INT PRIMARY KEY, a VARCHAR(10) CHARACTER SET latin1, b VARCHAR(10) CHARACTER SET cp1251, ts TIMESTAMP(3) NULL) ENGINE=InnoDB",
  "INSERT INTO s.mixed SELECT seq, CONCAT('é', seq), CONCAT(CONVERT(0xE6 USING cp1251), seq), FROM_UNIXTIME(1774740000 + seq * 7.125) FROM s.seq_1_to_3000",
  // Generated columns (the ranges decide) and history: the ranges must read the history rows as the row count does.
  "CREATE TABLE s.genhist (id INT PRIMARY KEY, v INT NOT NULL, w INT AS (v * 2) VIRTUAL) ENGINE=InnoDB WITH SYSTEM VERSIONING",
  "INSERT INTO s.genhist (id, v) SELECT seq, seq FROM s.seq_1_to_1500",
  "UPDATE s.genhist SET v = v + 1 WHERE id <= 200",
  "ANALYZE TABLE s.dense, s.sparse, s.versioned, s.mixed, s.genhist",
]);

const OPTIONS = { ...DEFAULT_CHECK_OPTIONS, chunkMinBytes: 0, chunkRows: 1000 };
type Chunks = { key: string[]; list: { lower: string | null; upper: string | null; rows: number; crc: string }[]; hash?: string };
type Stored = { checksum: string | null; chunks?: Chunks };

function baseline(concurrency: number, mode: "quiescent" | "snapshot"): Promise<Manifest> {
  return captureBaseline(sandbox.db, { service: "lanes", databases: ["s"], checks: ["checksum"], options: OPTIONS, concurrency, mode });
}

function storedOf(manifest: Manifest, table: string): Stored {
  return manifest.databases[0]?.tables.find((t) => t.name === table)?.checks.checksum as Stored;
}

const chunksOf = (manifest: Manifest, table: string): Chunks | undefined => storedOf(manifest, table).chunks;

async function finding(manifest: Manifest, table: string): Promise<string> {
  const f = tableFinding(await captureRestored(sandbox.db, manifest, ["checksum"], OPTIONS, 2), { database: "s", table }, "checksum");
  return f.ok ? "green" : f.message;
}

describe("read lanes", () => {
  it("spreads one caller's jobs over a helping session, results in order", async () => {
    const [own, helper] = [await sandbox.db.session(), await sandbox.db.session()];
    try {
      const ids = await Promise.all([own, helper].map(async (s) => Number((await s.query<{ id: number }>("SELECT CONNECTION_ID() AS id"))[0]?.id)));
      const lanes = new ReadLanes();
      const helping = lanes.help(helper);
      const jobs = Array.from({ length: 12 }, (_, i) => async (s: Queryable) => (await s.query<{ i: number; id: number }>("SELECT ? AS i, CONNECTION_ID() AS id, SLEEP(0.02) AS z", [i]))[0]);
      const results = await lanes.submit(jobs).finish(own);
      lanes.close();
      await helping;
      expect(results.map((r) => Number(r?.i))).toEqual(Array.from({ length: 12 }, (_, i) => i));
      // Both sessions read: the helper took jobs while the caller's session ran its own.
      expect(new Set(results.map((r) => Number(r?.id)))).toEqual(new Set(ids));
    } finally {
      own.release();
      helper.release();
    }
  });

  it("a failed job fails the caller with the server's message, after every job has settled", async () => {
    const session = await sandbox.db.session();
    try {
      const lanes = new ReadLanes();
      const ran: number[] = [];
      const jobs = [0, 1, 2].map((i) => async (s: Queryable) => {
        await s.query(i === 1 ? "SELECT * FROM s.no_such_table" : "SELECT 1");
        ran.push(i);
      });
      await expect(lanes.submit(jobs).finish(session)).rejects.toThrow(/no_such_table/);
      expect(ran).toEqual([0, 2]);
    } finally {
      session.release();
    }
  });

  it("a dense integer key is cut every chunkRows keys, as the row walk cuts it, and the values match one session's", async () => {
    const parallel = await baseline(2, "snapshot");
    const serial = await baseline(1, "quiescent");
    const dense = chunksOf(parallel, "dense");
    expect(dense?.hash).toBe("sum");
    // The ranges decide: no CHECKSUM TABLE read the table a second time.
    expect(storedOf(parallel, "dense").checksum).toBeNull();
    expect(dense?.list.length).toBe(11);
    expect(dense?.list.slice(0, 2).map((c) => [c.lower, c.upper, c.rows])).toEqual([
      [null, "[1000]", 1000],
      ["[1000]", "[2000]", 1000],
    ]);
    // 10,000 rows, 1,000 a range: the last range is empty, as the walk leaves it.
    expect(dense?.list.at(-1)).toMatchObject({ lower: "[10000]", upper: null, rows: 0, crc: "0" });
    expect(chunksOf(serial, "dense")).toEqual(dense);
    expect(chunksOf(serial, "sparse")).toEqual(chunksOf(parallel, "sparse"));
  });

  it("a key with gaps is cut by its average gap: ranges of about chunkRows rows", async () => {
    const sparse = chunksOf(await baseline(2, "snapshot"), "sparse");
    expect(sparse?.list.reduce((n, c) => n + c.rows, 0)).toBe(6000);
    const full = sparse?.list.filter((c) => c.upper !== null) ?? [];
    expect(full.length).toBeGreaterThanOrEqual(5);
    // The gap comes from the server's row estimate: about chunkRows rows a range, never one range for all.
    for (const c of full) {
      expect(c.rows).toBeGreaterThanOrEqual(500);
      expect(c.rows).toBeLessThanOrEqual(2000);
    }
  });

  it("a changed row, a NULL made empty and a deleted row are each localised to their one range", async () => {
    const manifest = await baseline(2, "snapshot");
    expect(await finding(manifest, "dense")).toBe("green");
    await sandbox.db.query("UPDATE s.dense SET c = c + INTERVAL 1 SECOND WHERE id = 4321");
    expect(await finding(manifest, "dense")).toBe(
      "table data differs from the baseline in 1 of 11 primary-key ranges of s.dense:\n  id in (4000, 5000]: same row count, content differs",
    );
    await sandbox.db.query("UPDATE s.dense SET c = c - INTERVAL 1 SECOND WHERE id = 4321");
    await sandbox.db.query("UPDATE s.dense SET b = '' WHERE id = 7007");
    expect(await finding(manifest, "dense")).toMatch(/1 of 11 primary-key ranges of s\.dense:\n {2}id in \(7000, 8000\]: same row count, content differs$/);
    await sandbox.db.query("UPDATE s.dense SET b = NULL WHERE id = 7007");
    await sandbox.db.query("DELETE FROM s.sparse WHERE id = 5000000000 + 2500 * 3");
    expect(await finding(manifest, "sparse")).toMatch(/1 of \d+ primary-key ranges of s\.sparse:\n {2}id in \(\d+, \d+\]: 999 rows, baseline 1000$/);
    await sandbox.db.query("INSERT INTO s.sparse VALUES (5000000000 + 2500 * 3, 2500 / 7)");
    expect(await finding(manifest, "sparse")).toBe("green");
  });

  it("the same change to two rows of one range, and two values swapped between rows, are red: a sum of row hashes", async () => {
    const manifest = await baseline(2, "snapshot");
    // Rows 4103 and 4104 have texts of equal length: the same one-character change XORs their CRC32s alike, so an
    // XOR of row hashes (and a column's BIT_XOR) would not change; the sum does.
    const xorOf = async () => (await sandbox.db.query<{ x: string }>("SELECT BIT_XOR(CRC32(CONCAT_WS('#', id, a, b, c))) AS x FROM s.dense WHERE id IN (4103, 4104)"))[0]?.x;
    const before = await xorOf();
    await sandbox.db.query("UPDATE s.dense SET b = CONCAT('c', SUBSTRING(b, 2)) WHERE id IN (4103, 4104)");
    expect(await xorOf()).toBe(before);
    expect(await finding(manifest, "dense")).toBe(
      "table data differs from the baseline in 1 of 11 primary-key ranges of s.dense:\n  id in (4000, 5000]: same row count, content differs",
    );
    await sandbox.db.query("UPDATE s.dense SET b = CONCAT('b', SUBSTRING(b, 2)) WHERE id IN (4103, 4104)");
    // a of 6001 is 84, of 6002 is 85: swapped, every column's sum and XOR stay the same.
    await sandbox.db.query("UPDATE s.dense SET a = IF(id = 6001, 85, 84) WHERE id IN (6001, 6002)");
    expect(await finding(manifest, "dense")).toMatch(/1 of 11 primary-key ranges of s\.dense:\n {2}id in \(6000, 7000\]: same row count, content differs$/);
    await sandbox.db.query("UPDATE s.dense SET a = id % 97 WHERE id IN (6001, 6002)");
    expect(await finding(manifest, "dense")).toBe("green");
  });

  it("hashes character columns by their stored bytes and a TIMESTAMP by its epoch: any character sets, any session time zone", async () => {
    const manifest = await baseline(2, "snapshot");
    expect(chunksOf(manifest, "mixed")?.list.length).toBe(4);
    // The restore host in another time zone: new sessions, another zone, the same rows.
    await sandbox.db.query("SET GLOBAL time_zone = '+05:00'");
    const elsewhere = await sandbox.server.connect({ poolSize: 2 });
    try {
      expect((await elsewhere.query<{ z: string }>("SELECT @@time_zone AS z"))[0]?.z).toBe("+05:00");
      const found = async () => {
        const f = tableFinding(await captureRestored(elsewhere, manifest, ["checksum"], OPTIONS, 2), { database: "s", table: "mixed" }, "checksum");
        return f.ok ? "green" : f.message;
      };
      expect(await found()).toBe("green");
      // One byte of one cp1251 value (ж → з), and one millisecond of one TIMESTAMP: each red in its range.
      await elsewhere.query("UPDATE s.mixed SET b = CONCAT(CONVERT(0xE7 USING cp1251), id) WHERE id = 1234");
      expect(await found()).toBe("table data differs from the baseline in 1 of 4 primary-key ranges of s.mixed:\n  id in (1000, 2000]: same row count, content differs");
      await elsewhere.query("UPDATE s.mixed SET b = CONCAT(CONVERT(0xE6 USING cp1251), id) WHERE id = 1234");
      await elsewhere.query("UPDATE s.mixed SET ts = ts + INTERVAL 0.001 SECOND WHERE id = 2345");
      expect(await found()).toMatch(/1 of 4 primary-key ranges of s\.mixed:\n {2}id in \(2000, 3000\]: same row count, content differs$/);
      await elsewhere.query("UPDATE s.mixed SET ts = ts - INTERVAL 0.001 SECOND WHERE id = 2345");
      expect(await found()).toBe("green");
    } finally {
      await elsewhere.close();
      await sandbox.db.query("SET GLOBAL time_zone = SYSTEM");
    }
  });

  it("a system-versioned table with generated columns: the ranges read its history, their counts are its row count", async () => {
    const manifest = await captureBaseline(sandbox.db, { service: "lanes", databases: ["s"], checks: ["checksum", "rowCount", "integrity"], options: OPTIONS, concurrency: 2, mode: "snapshot" });
    const table = manifest.databases[0]?.tables.find((t) => t.name === "genhist");
    // 1,500 rows and 200 history rows: the ranges' counts and the row count agree.
    expect((table?.checks.checksum as Stored).chunks?.list.reduce((n, c) => n + c.rows, 0)).toBe(1700);
    expect(table?.checks.rowCount).toEqual({ rows: 1700 });
    const findings = async () => {
      const v = await captureRestored(sandbox.db, manifest, ["checksum", "rowCount", "integrity"], OPTIONS, 2);
      return ["checksum", "rowCount"].map((c) => tableFinding(v, { database: "s", table: "genhist" }, c)).map((f) => (f.ok ? "green" : f.message));
    };
    expect(await findings()).toEqual(["green", "green"]);
    // History lost: red, in the ranges that held it.
    await sandbox.db.query("DELETE HISTORY FROM s.genhist");
    const [checksum, rows] = await findings();
    expect(checksum).toBe("table data differs from the baseline in 1 of 2 primary-key ranges of s.genhist:\n  id <= 1000: 1000 rows, baseline 1200");
    expect(rows).toBe("row count differs: s.genhist has 1500 rows, baseline 1700 (-200)");
  });

  it("a system-versioned table keeps CHECKSUM TABLE, which reads its history, and ranges that locate", async () => {
    const manifest = await baseline(2, "snapshot");
    const stored = storedOf(manifest, "versioned");
    expect(stored.checksum).toMatch(/^\d+$/);
    expect(stored.chunks?.hash).toBe("columns");
    expect(await finding(manifest, "versioned")).toBe("green");
    await sandbox.db.query("UPDATE s.versioned SET v = v + 1 WHERE id = 1500");
    expect(await finding(manifest, "versioned")).toBe("table data differs from the baseline in 1 of 4 primary-key ranges of s.versioned:\n  id in (1000, 2000]: same row count, content differs");
  });
});
