// `--before-destructive`'s search (src/binlog/destructive.ts) on binlogs a real MariaDB wrote: a source seeded with
// the small schema takes, in ROW and then in STATEMENT format, writes to other tables around each bad statement (a
// DELETE without WHERE, UPDATEs, a MyISAM and a partitioned table's DELETE, MariaDB's compressed events, TRUNCATE,
// ALTER … DROP COLUMN, RENAME, DROP TABLE), and each is found by kind, format, row count or statement, at the start
// of its transaction: where the server's binlog stood just before it (SHOW MASTER STATUS), the end of the transaction
// before it (walkBinlog), a GTID event. Then the statement reader alone, on the forms a server does not write itself.
import { cpSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { findDestructive, type DestructiveEvent } from "../../src/binlog/destructive.ts";
import { destructiveStatement } from "../../src/binlog/statement.ts";
import { walkBinlog } from "../../src/binlog/events.ts";
import type { Db } from "../../src/db/connection.ts";
import { runCommand } from "../../src/base/command.ts";
import { applySeed, startSourceSandbox, type SeededSource } from "../../src/hosts/sourceSandbox.ts";
import { SMALL_SEED } from "../support/services.ts";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const work = mkdtempSync(join(tmpdir(), "restoretest-destructive-"));
const closedDir = join(work, "closed");
const inUseDir = join(work, "in-use");

interface Mark {
  file: string;
  position: number;
}
let source: SeededSource | undefined;
let db: Db | undefined;
/** Where the source's binlog stood right before each bad statement (and `start`: after the setup). */
const marks: Record<string, Mark> = {};
/** A second boundary between the decoy UPDATE of shop.customers and its DELETE. */
let after = new Date(0);
const LONG_DELETE = `DELETE FROM wide WHERE id IN (${Array.from({ length: 120 }, (_, i) => 21 + i).join(", ")})`;

function binlogs(dir: string): { name: string; path: string }[] {
  return readdirSync(dir)
    .filter((f) => /^mysql-bin\.\d{6}$/.test(f))
    .sort()
    .map((name) => ({ name, path: join(dir, name) }));
}

const find = (table: string, search: { after?: Date; from?: Mark } = {}, dir = closedDir) => findDestructive(binlogs(dir), { database: "shop", table }, { from: marks.start, ...search });

beforeAll(async () => {
  source = await startSourceSandbox("destructive");
  await applySeed(source, SMALL_SEED, "shop");
  // One connection: binlog_format, binlog_row_image and foreign_key_checks are the session's.
  const conn = await source.server.connect({ database: "shop", poolSize: 1 });
  db = conn;
  const q = async (...sql: string[]) => {
    for (const s of sql) await conn.query(s);
  };
  const mark = async (name: string) => {
    const [status] = await conn.query<{ File: string; Position: string | number }>("SHOW MASTER STATUS");
    marks[name] = { file: String(status?.File), position: Number(status?.Position) };
  };
  await q(
    // shop.orders references shop.customers: its DELETE goes through as on a server whose checks someone turned off.
    "SET SESSION foreign_key_checks = 0",
    "CREATE TABLE customers2 LIKE customers",
    "INSERT INTO customers2 SELECT * FROM customers",
    "CREATE TABLE xcustomers LIKE customers",
    "INSERT INTO xcustomers SELECT * FROM customers",
    "CREATE TABLE stmt_customers LIKE customers",
    "INSERT INTO stmt_customers SELECT * FROM customers",
    "CREATE TABLE doomed (id INT PRIMARY KEY) ENGINE=InnoDB",
    "INSERT INTO doomed SELECT seq FROM seq_1_to_10",
    "CREATE TABLE wide (id INT PRIMARY KEY, body VARCHAR(2000) NOT NULL) ENGINE=InnoDB",
    "INSERT INTO wide SELECT seq, REPEAT(CONCAT('row ', seq, ' '), 100) FROM seq_1_to_200",
    // Every column type the rows images are read for, NULLs among them.
    `CREATE TABLE kinds (
       id INT NOT NULL PRIMARY KEY, t TINYINT, s SMALLINT UNSIGNED, m MEDIUMINT, b BIGINT, f FLOAT, d DOUBLE,
       dec1 DECIMAL(30,10), dec2 DECIMAL(5,0), bits BIT(13), bit1 BIT(1), dt DATE, tm TIME(3), tm0 TIME,
       dtm DATETIME(6), dtm0 DATETIME, ts TIMESTAMP(2) NULL, y YEAR, ch CHAR(10), chl CHAR(255) CHARACTER SET utf8mb4,
       bin BINARY(4), vb VARBINARY(300), vc VARCHAR(20) CHARACTER SET latin1, e ENUM('a','b','c'), st SET('x','y','z'),
       tt TINYTEXT, mb MEDIUMBLOB, lt LONGTEXT, j JSON, g POINT, ip INET6, u UUID, vcc VARCHAR(500) COMPRESSED,
       bc BLOB COMPRESSED
     ) ENGINE=InnoDB`,
    `INSERT INTO kinds SELECT seq, IF(seq % 3 = 0, NULL, seq - 20), seq * 100, -seq * 1000, seq * 1000000000000, seq / 3,
       seq / 7, seq / 11, seq, seq, seq % 2, '2026-01-01' + INTERVAL seq DAY, SEC_TO_TIME(seq * 37.5), SEC_TO_TIME(seq * 60),
       '2026-01-01 10:00:00.123456' - INTERVAL seq HOUR, '2026-01-01 10:00:00',
       IF(seq % 4 = 0, NULL, '2026-01-01 00:00:00.25' + INTERVAL seq MINUTE), 2000 + seq, CONCAT('c', seq),
       IF(seq % 5 = 0, NULL, REPEAT('é', 200 + seq % 50)), UNHEX('0a0b'), REPEAT(CHAR(65 + seq % 20), 250 + seq),
       CONCAT('v', seq), ELT(1 + seq % 3, 'a', 'b', 'c'), IF(seq % 2, 'x,z', 'y'), REPEAT('t', seq),
       REPEAT('m', 300 * seq), IF(seq % 6 = 0, NULL, REPEAT('long text ', 40 * seq)), JSON_OBJECT('k', seq, 'v', REPEAT('j', seq)),
       POINT(seq, -seq), CONCAT('::', seq), UUID(), REPEAT('compressed ', seq), REPEAT('b', 20 * seq)
     FROM (SELECT CAST(seq AS SIGNED) AS seq FROM seq_1_to_40) AS numbers`,
  );
  await mark("start");

  // ROW format. Tables whose names are like customers', each written to and destroyed first.
  await q("DELETE FROM shop.customers2 WHERE id <= 10", "UPDATE shop.xcustomers SET balance = 0 WHERE id <= 5");
  await q("SET SESSION binlog_format = 'STATEMENT'", "DELETE FROM customers2 WHERE id <= 20", "DROP TABLE shop.xcustomers", "SET SESSION binlog_format = 'ROW'");
  // The decoy: an UPDATE of one customer before `after`.
  await mark("decoy");
  await q("UPDATE shop.customers SET balance = balance + 1 WHERE id = 1");
  after = new Date(Math.ceil((Date.now() + 1) / 1000) * 1000);
  await sleep(after.getTime() - Date.now() + 50);
  await q("INSERT INTO shop.audit VALUES (500001, 'before the DELETE')");
  await mark("customersDelete");
  await q("DELETE FROM shop.customers", "INSERT INTO shop.order_tags VALUES (1, 'after')");
  await mark("ordersUpdate");
  await q("UPDATE shop.orders SET note = CONCAT('changed ', id)", "INSERT INTO shop.audit VALUES (500002, 'after the UPDATE')");
  await mark("auditRow");
  await q("DELETE FROM shop.audit WHERE id <= 100", "INSERT INTO shop.order_tags VALUES (2, 'after')");
  await mark("eventsRow");
  await q("DELETE FROM shop.events_log WHERE id <= 250", "INSERT INTO shop.order_tags VALUES (3, 'after')");
  await q("SET SESSION binlog_row_image = 'MINIMAL'");
  await mark("kindsUpdate");
  await q("UPDATE kinds SET m = m + 1 WHERE id <= 30", "SET SESSION binlog_row_image = 'FULL'");
  await mark("kindsDelete");
  await q("DELETE FROM kinds", "INSERT INTO shop.order_tags VALUES (4, 'after')");
  // MariaDB's compressed binlog events: rows of 256 bytes or more, statements of 256 characters or more.
  await q("SET GLOBAL log_bin_compress = ON");
  try {
    await mark("wideDelete");
    await q("DELETE FROM wide WHERE id <= 20", "INSERT INTO shop.order_tags VALUES (5, 'after')");
    await q("SET SESSION binlog_format = 'STATEMENT'");
    await mark("wideStatement");
    await q(LONG_DELETE, "INSERT INTO shop.order_tags VALUES (6, 'after')");
  } finally {
    await q("SET GLOBAL log_bin_compress = OFF");
  }
  await q("FLUSH BINARY LOGS");

  // STATEMENT format, in the next binlog file.
  await q("INSERT INTO shop.order_tags VALUES (7, 'before')");
  await mark("stmtDelete");
  await q("DELETE FROM stmt_customers", "INSERT INTO shop.order_tags VALUES (8, 'after')");
  await mark("stmtUpdate");
  await q("UPDATE order_tags SET tag = 'gift' WHERE tag = 'bulk'", "INSERT INTO shop.audit VALUES (500003, 'after')");
  await mark("auditStatement");
  await q("DELETE FROM `shop`.`audit` WHERE id > 100", "INSERT INTO shop.order_tags VALUES (9, 'after')");
  await mark("eventsStatement");
  await q("DELETE FROM events_log WHERE id > 250", "INSERT INTO shop.order_tags VALUES (10, 'after')");
  await mark("notesMulti");
  await q("DELETE n FROM shop.notes AS n JOIN shop.customers2 AS c ON c.id = n.id WHERE c.id <= 30", "INSERT INTO shop.audit VALUES (500004, 'after')");
  await mark("truncate");
  await q("TRUNCATE TABLE shop.order_tags", "INSERT INTO shop.audit VALUES (500005, 'after')");
  await mark("alter");
  await q("ALTER TABLE customers2 ADD COLUMN extra INT, DROP COLUMN email", "INSERT INTO shop.audit VALUES (500006, 'after')");
  await mark("rename");
  await q("RENAME TABLE shop.stmt_customers TO shop.stmt_customers_old", "INSERT INTO shop.audit VALUES (500007, 'after')");
  await mark("drop");
  await q("DROP TABLE IF EXISTS shop.nothing_here, shop.doomed");
  // The newest file as the archive holds it while the server still writes it (flagged in use), then every file closed.
  cpSync(join(source.dir, "binlog"), inUseDir, { recursive: true });
  await q("FLUSH BINARY LOGS");
  cpSync(join(source.dir, "binlog"), closedDir, { recursive: true });
}, 120_000);

afterAll(async () => {
  await db?.close();
  await source?.destroy();
  rmSync(work, { recursive: true, force: true });
});

/** The types of the events from `from` to `to` in a binlog file. */
function eventTypes(bytes: Buffer, from: number, to: number): number[] {
  const types: number[] = [];
  for (let at = from; at < to; at += bytes.readUInt32LE(at + 9)) types.push(bytes.readUInt8(at + 4));
  return types;
}

/**
 * The found event starts its transaction: where the binlog stood before it, a GTID event, and the previous
 * transaction's end (walkBinlog), with at most MariaDB's binlog checkpoint events (161) between them.
 */
function expectTransactionStart(found: DestructiveEvent | undefined, mark: Mark | undefined): DestructiveEvent {
  expect(found).toBeDefined();
  const event = found as DestructiveEvent;
  expect(event.file).toBe(mark?.file);
  const bytes = readFileSync(join(closedDir, event.file));
  // Where the binlog stood before the statement, or past a binlog checkpoint event (161) MariaDB's background thread
  // wrote after a rotation in between (seen: 530 marked, 573 found, with two suites running side by side).
  expect(event.position).toBeGreaterThanOrEqual(mark?.position as number);
  expect(eventTypes(bytes, mark?.position as number, event.position).filter((type) => type !== 161)).toEqual([]);
  expect(bytes.readUInt8(event.position + 4)).toBe(162);
  const cut = join(work, "cut");
  writeFileSync(cut, bytes.subarray(0, event.position));
  const walk = walkBinlog(cut);
  expect(walk.endsMidEvent).toBe(false);
  const previousEnd = walk.lastTransaction?.position ?? 0;
  expect(previousEnd).toBeGreaterThan(4);
  expect(eventTypes(bytes, previousEnd, event.position).filter((type) => type !== 161)).toEqual([]);
  expect(event.eventPosition).toBeGreaterThan(event.position);
  expect(event.gtid).toMatch(/^0-1-\d+$/);
  return event;
}

describe("findDestructive on a real MariaDB's binlogs", () => {
  it("finds a DELETE without WHERE in ROW format after `after`, all its rows counted, and not the UPDATE before it", () => {
    const found = expectTransactionStart(find("customers", { after }), marks.customersDelete);
    expect(found).toMatchObject({ kind: "DELETE", format: "ROW", rows: 2001, statement: "DELETE FROM shop.customers" });
    expect(found.time.getTime()).toBeGreaterThanOrEqual(after.getTime());
    // Without `after`, the decoy is the first: one row updated.
    const decoy = expectTransactionStart(find("customers"), marks.decoy);
    expect(decoy).toMatchObject({ kind: "UPDATE", format: "ROW", rows: 1 });
    expect(decoy.time.getTime()).toBeLessThan(after.getTime());
    // From a position past it, the DELETE too.
    expect(find("customers", { from: marks.ordersUpdate })).toBeUndefined();
    expect(find("customers", { from: marks.customersDelete })?.position).toBe(marks.customersDelete?.position);
  });

  it("gives the position mariadb-binlog --stop-position stops right before the DELETE at, and --start-position starts it at", async () => {
    const found = find("customers", { after }) as DestructiveEvent;
    const file = join(closedDir, found.file);
    const statements = async (range: string[]) => {
      const { stdout } = await runCommand((source as SeededSource).flavor.binlog, [...range, file]);
      // The row events' annotations: the statements that wrote them.
      return stdout.split("\n").filter((line) => line.startsWith("#Q> ")).map((line) => line.slice(4));
    };
    const before = await statements([`--start-position=${marks.decoy?.position}`, `--stop-position=${found.position}`]);
    expect(before).toEqual(["UPDATE shop.customers SET balance = balance + 1 WHERE id = 1", "INSERT INTO shop.audit VALUES (500001, 'before the DELETE')"]);
    expect((await statements([`--start-position=${found.position}`]))[0]).toBe("DELETE FROM shop.customers");
  });

  it("does not take customers2 or xcustomers for customers, nor customers for them", () => {
    expect(expectTransactionStart(find("customers2"), marks.start)).toMatchObject({ kind: "DELETE", format: "ROW", rows: 10 });
    expect(find("xcustomers")).toMatchObject({ kind: "UPDATE", format: "ROW", rows: 5 });
    expect(find("xcustomers", { after })).toBeUndefined();
    expect(find("customers2", { from: marks.decoy })).toMatchObject({ kind: "ALTER", format: "STATEMENT", file: marks.alter?.file, position: marks.alter?.position });
  });

  it("finds UPDATEs and the DELETEs of a MyISAM and a partitioned table in ROW format, with their rows", () => {
    expect(expectTransactionStart(find("orders", { after }), marks.ordersUpdate)).toMatchObject({ kind: "UPDATE", format: "ROW", rows: 5000 });
    expect(expectTransactionStart(find("audit", { after }), marks.auditRow)).toMatchObject({ kind: "DELETE", format: "ROW", rows: 100 });
    expect(expectTransactionStart(find("events_log", { after }), marks.eventsRow)).toMatchObject({ kind: "DELETE", format: "ROW", rows: 250 });
  });

  it("counts rows of every column type, with binlog_row_image=MINIMAL too", () => {
    expect(expectTransactionStart(find("kinds"), marks.kindsUpdate)).toMatchObject({ kind: "UPDATE", format: "ROW", rows: 30 });
    expect(expectTransactionStart(find("kinds", { from: marks.kindsDelete }), marks.kindsDelete)).toMatchObject({ kind: "DELETE", format: "ROW", rows: 40 });
  });

  it("reads MariaDB's compressed row and query events (log_bin_compress)", () => {
    const rows = expectTransactionStart(find("wide"), marks.wideDelete);
    expect(rows).toMatchObject({ kind: "DELETE", format: "ROW", rows: 20 });
    const bytes = readFileSync(join(closedDir, rows.file));
    expect(bytes.readUInt8(rows.eventPosition + 4)).toBe(168); // DELETE_ROWS_COMPRESSED_EVENT_V1
    const statement = expectTransactionStart(find("wide", { from: marks.wideStatement }), marks.wideStatement);
    expect(statement).toMatchObject({ kind: "DELETE", format: "STATEMENT" });
    expect(bytes.readUInt8(statement.eventPosition + 4)).toBe(165); // QUERY_COMPRESSED_EVENT
    expect(statement.statement).toBe(`${LONG_DELETE.slice(0, 300)}…`);
    expect(statement.rows).toBeUndefined();
  });

  it("finds statements in STATEMENT format, unqualified ones in the event's current database, with their text", () => {
    expect(marks.stmtDelete?.file).not.toBe(marks.start?.file);
    expect(expectTransactionStart(find("stmt_customers"), marks.stmtDelete)).toMatchObject({ kind: "DELETE", format: "STATEMENT", statement: "DELETE FROM stmt_customers" });
    expect(expectTransactionStart(find("order_tags", { from: marks.stmtDelete }), marks.stmtUpdate)).toMatchObject({
      kind: "UPDATE",
      format: "STATEMENT",
      statement: "UPDATE order_tags SET tag = 'gift' WHERE tag = 'bulk'",
    });
    expect(expectTransactionStart(find("audit", { from: marks.stmtDelete }), marks.auditStatement)).toMatchObject({ kind: "DELETE", format: "STATEMENT", statement: "DELETE FROM `shop`.`audit` WHERE id > 100" });
    expect(expectTransactionStart(find("events_log", { from: marks.stmtDelete }), marks.eventsStatement)).toMatchObject({ kind: "DELETE", format: "STATEMENT" });
    expect(expectTransactionStart(find("notes"), marks.notesMulti)).toMatchObject({ kind: "DELETE", format: "STATEMENT" });
    expect(find("customers2", { from: marks.stmtDelete })?.kind).toBe("ALTER");
    expect(find("customers", { from: marks.stmtDelete })).toBeUndefined();
  });

  it("finds TRUNCATE, ALTER … DROP COLUMN, RENAME TABLE and DROP TABLE of a list, each its own transaction", () => {
    expect(expectTransactionStart(find("order_tags", { from: marks.auditStatement }), marks.truncate)).toMatchObject({ kind: "TRUNCATE", format: "STATEMENT", statement: "TRUNCATE TABLE shop.order_tags" });
    expect(expectTransactionStart(find("customers2", { from: marks.stmtDelete }), marks.alter)).toMatchObject({ kind: "ALTER", statement: "ALTER TABLE customers2 ADD COLUMN extra INT, DROP COLUMN email" });
    expect(expectTransactionStart(find("stmt_customers", { from: marks.stmtUpdate }), marks.rename)).toMatchObject({ kind: "RENAME" });
    const drop = expectTransactionStart(find("doomed"), marks.drop);
    expect(drop).toMatchObject({ kind: "DROP TABLE", format: "STATEMENT" });
    expect(drop.statement).toMatch(/^DROP TABLE IF EXISTS .*`?doomed`?/);
    expect(find("empty_table")).toBeUndefined();
  });

  it("reads the file the server is still writing, and stops at a damaged event naming it", () => {
    const newest = binlogs(inUseDir).at(-1) as { name: string; path: string };
    expect(readFileSync(newest.path).readUInt16LE(4 + 17) & 1).toBe(1); // LOG_EVENT_BINLOG_IN_USE_F
    expect(find("doomed", {}, inUseDir)).toEqual(find("doomed"));
    // A flipped byte in the decoy's transaction: nothing after it is searched.
    const damagedDir = join(work, "damaged");
    cpSync(closedDir, damagedDir, { recursive: true });
    const decoy = marks.decoy as Mark;
    const path = join(damagedDir, decoy.file);
    const bytes = readFileSync(path);
    bytes[decoy.position + 20] = (bytes[decoy.position + 20] as number) ^ 0xff;
    writeFileSync(path, bytes);
    expect(() => find("customers", {}, damagedDir)).toThrow(`${decoy.file}:${decoy.position}: damaged event (type 162, its CRC32 checksum does not hold)`);
    // What was found before the damage stands.
    expect(find("customers2", {}, damagedDir)?.position).toBe(marks.start?.position);
    expect(() => find("customers", { from: { file: "mysql-bin.999999", position: 4 } })).toThrow(/mysql-bin\.999999 is not among the binlog files searched/);
  });
});

describe("destructiveStatement", () => {
  const t = { database: "shop", table: "customers" };
  const kind = (sql: string, database = "shop", sqlMode?: bigint) => destructiveStatement(sql, t, { database, ...(sqlMode === undefined ? {} : { sqlMode }) });

  it("names what each destructive statement does to the table", () => {
    expect(kind("DELETE FROM customers")).toBe("DELETE");
    expect(kind("delete low_priority quick ignore from `shop`.`customers` where id > 3 order by id limit 5")).toBe("DELETE");
    expect(kind("DELETE FROM shop . customers AS c WHERE c.id = 1")).toBe("DELETE");
    expect(kind("DELETE HISTORY FROM customers BEFORE SYSTEM_TIME '2026-01-01'")).toBe("DELETE");
    expect(kind("UPDATE customers SET balance = 0")).toBe("UPDATE");
    expect(kind("UPDATE IGNORE shop.customers c SET c.balance = 0 WHERE c.id IN (SELECT customer_id FROM orders)")).toBe("UPDATE");
    expect(kind("TRUNCATE customers")).toBe("TRUNCATE");
    expect(kind("TRUNCATE TABLE `customers`")).toBe("TRUNCATE");
    expect(kind("DROP TABLE `orders`,`customers` /* generated by server */")).toBe("DROP TABLE");
    expect(kind("DROP TABLE IF EXISTS shop.customers WAIT 5")).toBe("DROP TABLE");
    expect(kind("DROP DATABASE IF EXISTS `shop`", "")).toBe("DROP DATABASE");
    expect(kind("CREATE OR REPLACE TABLE customers (id INT)")).toBe("CREATE OR REPLACE");
    expect(kind("RENAME TABLE orders TO orders_old, customers TO customers_old")).toBe("RENAME");
    expect(kind("RENAME TABLE IF EXISTS customers WAIT 2 TO c2")).toBe("RENAME");
    expect(kind("ALTER TABLE customers RENAME TO customers_old")).toBe("RENAME");
    expect(kind("ALTER TABLE customers DROP email")).toBe("ALTER");
    expect(kind("ALTER ONLINE IGNORE TABLE IF EXISTS customers ADD INDEX (name), DROP COLUMN IF EXISTS `email`")).toBe("ALTER");
    expect(kind("ALTER TABLE customers DROP PARTITION p0")).toBe("ALTER");
    expect(kind("ALTER TABLE customers TRUNCATE PARTITION p0, p1")).toBe("ALTER");
    expect(kind("ALTER TABLE customers DISCARD TABLESPACE")).toBe("ALTER");
    expect(kind("ALTER TABLE customers DROP SYSTEM VERSIONING")).toBe("ALTER");
    expect(kind("ALTER TABLE customers COMMENT 'x' ENGINE = BLACKHOLE")).toBe("ALTER");
    expect(kind("ALTER TABLE archive EXCHANGE PARTITION p0 WITH TABLE customers")).toBe("ALTER");
    expect(kind("SET STATEMENT max_statement_time = 10 FOR DELETE FROM customers")).toBe("DELETE");
    expect(kind("WITH old AS (SELECT id FROM orders) DELETE FROM customers WHERE id IN (SELECT id FROM old)")).toBe("DELETE");
  });

  it("resolves the targets of multi-table DELETE and UPDATE", () => {
    expect(kind("DELETE c FROM customers AS c JOIN orders o ON o.customer_id = c.id")).toBe("DELETE");
    expect(kind("DELETE c.* FROM (customers c LEFT JOIN orders o USING (id)) WHERE o.id IS NULL")).toBe("DELETE");
    expect(kind("DELETE FROM o USING shop.customers c JOIN orders o ON o.customer_id = c.id")).toBeUndefined();
    expect(kind("DELETE FROM c USING shop.customers c JOIN orders o ON o.customer_id = c.id")).toBe("DELETE");
    expect(kind("DELETE o, c FROM orders o, customers c WHERE o.customer_id = c.id")).toBe("DELETE");
    expect(kind("DELETE o FROM orders o JOIN customers c ON o.customer_id = c.id")).toBeUndefined();
    expect(kind("DELETE d FROM (SELECT * FROM customers) AS d")).toBeUndefined();
    expect(kind("UPDATE orders o JOIN customers c ON c.id = o.customer_id SET o.note = c.name")).toBeUndefined();
    expect(kind("UPDATE orders o JOIN customers c ON c.id = o.customer_id SET o.note = 'x', c.balance = 0")).toBe("UPDATE");
    expect(kind("UPDATE orders, shop.customers SET shop.customers.balance = 0")).toBe("UPDATE");
    // An unqualified column of a multi-table UPDATE may be the table's: it counts.
    expect(kind("UPDATE orders o JOIN customers c ON c.id = o.customer_id SET balance = 0")).toBe("UPDATE");
  });

  it("matches names exactly, in the right database, and nothing in comments or strings", () => {
    expect(kind("DELETE FROM customers2")).toBeUndefined();
    expect(kind("DELETE FROM xcustomers")).toBeUndefined();
    expect(kind("DELETE FROM Customers")).toBeUndefined();
    expect(kind("DELETE FROM customers", "other")).toBeUndefined();
    expect(kind("DELETE FROM customers", "")).toBeUndefined();
    expect(kind("DELETE FROM shop.customers", "other")).toBe("DELETE");
    expect(kind("DELETE FROM other.customers")).toBeUndefined();
    expect(kind("DROP TABLE customers2, xcustomers")).toBeUndefined();
    expect(kind("DROP TEMPORARY TABLE customers")).toBeUndefined();
    expect(kind("DROP DATABASE shop2")).toBeUndefined();
    expect(kind("INSERT INTO audit VALUES (1, 'DELETE FROM customers')")).toBeUndefined();
    expect(kind("/* DELETE FROM customers */ INSERT INTO audit VALUES (1, 'x')")).toBeUndefined();
    expect(kind("-- DELETE FROM customers\nSELECT 1")).toBeUndefined();
    expect(kind("# DELETE FROM customers\nSELECT 1")).toBeUndefined();
    expect(kind("/*!40000 DELETE FROM customers */")).toBe("DELETE");
    expect(kind("/*M!100101 TRUNCATE customers */")).toBe("TRUNCATE");
    expect(kind("BEGIN")).toBeUndefined();
    expect(kind("COMMIT")).toBeUndefined();
    expect(kind("ALTER TABLE customers ADD COLUMN x INT, DROP INDEX idx_email, DROP PRIMARY KEY, DROP FOREIGN KEY fk")).toBeUndefined();
    expect(kind("ALTER TABLE customers RENAME COLUMN a TO b, MODIFY name VARCHAR(10)")).toBeUndefined();
    expect(kind("RENAME TABLE orders TO customers")).toBeUndefined();
    expect(kind("CREATE TABLE customers (id INT)")).toBeUndefined();
    expect(kind("REPLACE INTO customers VALUES (1)")).toBeUndefined();
    expect(kind("UPDATE customers2 SET balance = 0 WHERE name = 'customers'")).toBeUndefined();
    // A quote inside a string, a backslash escape, a doubled backtick.
    expect(kind("UPDATE audit SET what = 'it''s \\' DELETE FROM customers' WHERE id = 1")).toBeUndefined();
    expect(destructiveStatement("DELETE FROM `odd``name`", { database: "shop", table: "odd`name" }, { database: "shop" })).toBe("DELETE");
    // ANSI_QUOTES: "…" is a name; NO_BACKSLASH_ESCAPES: a backslash ends nothing.
    expect(kind('DELETE FROM "customers"', "shop", 1n << 2n)).toBe("DELETE");
    expect(kind('DELETE FROM "customers"')).toBeUndefined();
    const escaped = "UPDATE orders o JOIN customers c ON c.id = o.customer_id SET o.note = 'a\\', c.balance = 0";
    expect(kind(escaped, "shop", 1n << 20n)).toBe("UPDATE");
    expect(kind(escaped)).toBeUndefined();
  });
});
