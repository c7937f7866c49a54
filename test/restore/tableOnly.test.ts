// A table restored alone (issue 17): only its files and the server's are copied through a full and an incremental,
// only its binlog events replayed (ROW and STATEMENT format, DDL on it and on others, a statement that changed it and
// another table at once), and it equals the snapshot the test took at the point; where that cannot be proven (a foreign
// key, a trigger that writes it unlogged) the whole chain is restored instead, said in one log line, and the table is
// still right.
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startBinlogCopy } from "../../src/backup/binlogs.ts";
import { runBackupJob } from "../../src/backup/job.ts";
import { binlogArchiveDir } from "../../src/store/layout.ts";
import type { Service } from "../../src/config/schema.ts";
import type { Db } from "../../src/db/connection.ts";
import { clientOptions } from "../../src/server/optionFile.ts";
import { applySeed, startSourceSandbox, type SeededSource } from "../../src/hosts/sourceSandbox.ts";
import { runCommand } from "../../src/base/command.ts";
import type { RestorePoint } from "../../src/restore/locate.ts";
import { parseTableName, restoreTables } from "../../src/restore/table.ts";
import { twoWritesASecondApart, untilArchived } from "../support/archive.ts";
import { SMALL_SEED, testStore } from "../support/services.ts";
import { serverService } from "../support/writeLoad.ts";

const store = testStore();
let source: SeededSource;
let db: Db;
let service: Service;
let point: RestorePoint;
/** After a statement-format UPDATE of shop.priced calling a stored function (past `point`, which the others restore to). */
let afterCall: RestorePoint;
/** Between two inserts into shop.empty_table a second apart: restored to it, the table holds the first only. */
let between: Date;
const snapshots = new Map<string, { checksum: string; rows: string }>();
const TABLES = ["order_tags", "events_log", "child", "audit"];
const ODD = ["order-items", "café"];

async function tableState(database: string, table: string): Promise<{ checksum: string; rows: string }> {
  const [sum] = await db.query<{ Checksum: string }>(`CHECKSUM TABLE \`${database}\`.\`${table}\``);
  const rows = await db.query(`SELECT * FROM \`${database}\`.\`${table}\` ORDER BY 1, 2`);
  return { checksum: String(sum?.Checksum), rows: JSON.stringify(rows) };
}

beforeAll(async () => {
  source = await startSourceSandbox("tableonly");
  await applySeed(source, SMALL_SEED, "shop");
  db = await source.server.connect();
  // A child whose rows a DELETE on its parent removes by ON DELETE CASCADE, inside InnoDB: no row event says so.
  await db.query("CREATE TABLE shop.parent (id INT PRIMARY KEY) ENGINE=InnoDB");
  await db.query(
    "CREATE TABLE shop.child (id INT PRIMARY KEY, parent_id INT NOT NULL, KEY (parent_id), CONSTRAINT fk_child_parent FOREIGN KEY (parent_id) REFERENCES shop.parent (id) ON DELETE CASCADE) ENGINE=InnoDB",
  );
  await db.query("INSERT INTO shop.parent SELECT seq FROM shop.seq_1_to_10");
  await db.query("INSERT INTO shop.child SELECT seq, 1 + seq % 10 FROM shop.seq_1_to_100");
  // A table whose statement-format UPDATE calls a stored function reading another table: the binlog holds the call only.
  await db.query("CREATE TABLE shop.priced (id INT PRIMARY KEY, price INT NOT NULL) ENGINE=InnoDB");
  await db.query("INSERT INTO shop.priced SELECT seq, 0 FROM shop.seq_1_to_20");
  await db.query("CREATE FUNCTION shop.current_rate() RETURNS INT READS SQL DATA RETURN (SELECT COUNT(*) FROM shop.customers)");
  // Names the server encodes in its file names (`order@002ditems`, `caf@0p`): picked file by file all the same.
  for (const name of ODD) {
    await db.query(`CREATE TABLE shop.\`${name}\` (id INT PRIMARY KEY, what VARCHAR(20) NOT NULL) ENGINE=InnoDB`);
    await db.query(`INSERT INTO shop.\`${name}\` SELECT seq, 'full' FROM shop.seq_1_to_50`);
  }
  service = serverService("shop", source, store.path, "snapshot", ["policy: incremental"]);
  await runBackupJob(service);
  await db.query("INSERT INTO shop.order_tags VALUES (2, 'after-full')");
  await db.query("UPDATE shop.customers SET balance = balance + 1 WHERE id < 50");
  await db.query("UPDATE shop.events_log SET what = 'after-full' WHERE id < 30");
  await runBackupJob(service);
  const copier = await startBinlogCopy(service, { restartDelayMs: 200 });
  const statements = await source.server.connect({ poolSize: 1 });
  try {
    between = await twoWritesASecondApart(db, binlogArchiveDir(store.path, service.name));
    // ROW format: the table, other tables, DDL on both, one statement that changes the table and another.
    await db.query("INSERT INTO shop.order_tags VALUES (3, 'row')");
    await db.query("DELETE FROM shop.order_tags WHERE order_id = 5");
    await db.query("INSERT INTO shop.orders (customer_id, placed_at, note) VALUES (3, '2026-02-01 00:00:00', 'row')");
    await db.query("ALTER TABLE shop.empty_table ADD COLUMN x INT NULL");
    await db.query("ALTER TABLE shop.order_tags ADD COLUMN note VARCHAR(20) NULL");
    await db.query("UPDATE shop.order_tags t JOIN shop.customers c ON c.id = t.order_id SET t.note = 'joined', c.balance = c.balance + 1 WHERE t.order_id < 30");
    await db.query("UPDATE shop.customers c JOIN shop.order_tags t ON c.id = t.order_id SET c.balance = c.balance + 1, t.note = 'joined-2' WHERE t.order_id BETWEEN 30 AND 40");
    await db.query("UPDATE shop.events_log SET what = 'row' WHERE id BETWEEN 30 AND 60");
    await db.query("INSERT INTO shop.child VALUES (1000, 5)");
    await db.query("DELETE FROM shop.parent WHERE id <= 3");
    for (const name of ODD) await db.query(`UPDATE shop.\`${name}\` SET what = 'row' WHERE id <= 10`);
    await db.query("FLUSH BINARY LOGS");
    // STATEMENT format: DML on the table (kept), on others (dropped), and on orders, whose trigger writes audit unlogged.
    await statements.query("SET SESSION binlog_format = 'STATEMENT'");
    await statements.query("INSERT INTO shop.order_tags VALUES (4, 'stmt', NULL)");
    await statements.query("UPDATE shop.order_tags SET note = 'stmt' WHERE order_id BETWEEN 41 AND 60");
    await statements.query("BEGIN");
    await statements.query("INSERT INTO shop.customers (name, email, balance) VALUES ('statement customer', NULL, 1)");
    await statements.query("DELETE FROM shop.order_tags WHERE order_id = 6");
    await statements.query("COMMIT");
    await statements.query("INSERT INTO shop.orders (customer_id, placed_at, note) VALUES (4, '2026-02-02 00:00:00', 'stmt')");
    await statements.query("UPDATE shop.events_log SET what = 'stmt' WHERE id BETWEEN 61 AND 70");
    for (const t of [...TABLES, ...ODD]) snapshots.set(t, await tableState("shop", t));
    const [status] = await db.query<{ File: string; Position: number }>("SHOW MASTER STATUS");
    point = { position: { file: status?.File as string, position: Number(status?.Position), gtid: "" } };
    // After the point: none of this may show.
    await db.query("DELETE FROM shop.order_tags WHERE order_id < 100");
    await db.query("UPDATE shop.events_log SET what = 'late'");
    await db.query("INSERT INTO shop.orders (customer_id, placed_at, note) VALUES (5, '2026-02-03 00:00:00', 'late')");
    await statements.query("UPDATE shop.priced SET price = shop.current_rate() WHERE id <= 10");
    snapshots.set("priced", await tableState("shop", "priced"));
    snapshots.set("order_tags after the call", await tableState("shop", "order_tags"));
    const [after] = await db.query<{ File: string; Position: number }>("SHOW MASTER STATUS");
    afterCall = { position: { file: after?.File as string, position: Number(after?.Position), gtid: "" } };
    await db.query("UPDATE shop.priced SET price = -1");
    await untilArchived(db, binlogArchiveDir(store.path, service.name));
  } finally {
    await statements.close();
    await copier.stop();
  }
}, 300_000);

afterAll(async () => {
  await db?.close();
  await source?.destroy();
  store.remove();
});

/** Restore `table` to the point and load the dump into a scratch database of the source: its state there, and the log. */
async function restoreAndLoad(table: string, to = point): Promise<{ state: { checksum: string; rows: string }; log: string[]; steps: string[] }> {
  const log: string[] = [];
  const dump = join(store.path, `${table}.sql`);
  const result = await restoreTables(service, [parseTableName(`shop.\`${table}\``)], to, dump, { log: (l) => log.push(l) });
  const scratch = `check_${table.replace(/\W/g, "_")}${to === point ? "" : "_after_call"}`;
  await db.query(`CREATE DATABASE ${scratch}`);
  const options = join(store.path, "client.cnf");
  writeFileSync(options, clientOptions({ user: "root", password: source.server.password, socket: source.server.socket }), { mode: 0o600 });
  await runCommand("bash", ["-c", `sed 's/^USE \`shop\`;/USE \`${scratch}\`;/' ${dump} | mariadb --defaults-file=${options}`]);
  return { state: await tableState(scratch, table), log, steps: result.steps.map((s) => s.step) };
}

describe("restore of one table alone", () => {
  it("order_tags: only its files through the chain, only its events (ROW, STATEMENT, DDL, a two-table statement), equal to the snapshot", async () => {
    const { state, log, steps } = await restoreAndLoad("order_tags");
    expect(log.join("\n")).not.toMatch(/restoring the whole chain/);
    expect(log.join("\n")).toMatch(/binlog events for shop\.order_tags: \d+ kept, \d+ of other tables dropped/);
    expect(steps).toEqual(["locate", "provision", "transfer", "prepare", "apply-incremental", "start", "replay", "dump"]);
    expect(state).toEqual(snapshots.get("order_tags"));
  }, 120_000);

  it("order-items and café: names the server encodes in its file names, picked file by file, equal to the snapshot", async () => {
    for (const table of ODD) {
      const { state, log } = await restoreAndLoad(table);
      expect(log.join("\n")).not.toMatch(/restoring the whole chain/);
      expect(log.join("\n")).toMatch(new RegExp(`binlog events for shop\\.${table}: \\d+ kept`));
      expect(state).toEqual(snapshots.get(table));
    }
  }, 240_000);

  it("events_log: a partitioned table alone, equal to the snapshot", async () => {
    const { state, log } = await restoreAndLoad("events_log");
    expect(log.join("\n")).not.toMatch(/restoring the whole chain/);
    expect(state).toEqual(snapshots.get("events_log"));
  }, 120_000);

  it("empty_table to a time: the replay stops at the first event at or after it, as mariadb-binlog --stop-datetime does", async () => {
    const log: string[] = [];
    const dump = join(store.path, "empty_table.sql");
    const result = await restoreTables(service, [parseTableName("shop.empty_table")], { time: between }, dump, { log: (l) => log.push(l) });
    expect(log.join("\n")).not.toMatch(/restoring the whole chain/);
    expect(result.tables).toEqual([{ table: { database: "shop", table: "empty_table" }, rows: 1 }]);
  }, 120_000);

  it("child: a foreign key to a table not restored, whose cascade deleted rows unlogged: the whole chain instead, said once", async () => {
    const { state, log } = await restoreAndLoad("child");
    const fallbacks = log.filter((l) => /restoring the whole chain/.test(l));
    expect(fallbacks).toHaveLength(1);
    expect(fallbacks[0]).toMatch(/not shop\.child alone: foreign key shop\.fk_child_parent links shop\.child to shop\.parent: its cascades are not in the binlog/);
    expect(JSON.parse(state.rows).filter((r: { parent_id: number }) => r.parent_id <= 3)).toEqual([]);
    expect(state).toEqual(snapshots.get("child"));
  }, 180_000);

  it("audit: written unlogged by a trigger of orders under STATEMENT format: the whole chain instead, and the trigger's row is there", async () => {
    const { state, log } = await restoreAndLoad("audit");
    expect(log.filter((l) => /restoring the whole chain/.test(l)).join("\n")).toMatch(/not shop\.audit alone: mysql-bin\.\d+:\d+: DML in statement format may change the tables through the triggers of shop\.orders/);
    expect(JSON.parse(state.rows)).toContainEqual(expect.objectContaining({ what: expect.stringMatching(/^order \d+$/) }));
    expect(state).toEqual(snapshots.get("audit"));
  }, 180_000);

  it("priced: its statement-format UPDATE calls a stored function that reads another table: the whole chain instead, and the function's values are there", async () => {
    const { state, log } = await restoreAndLoad("priced", afterCall);
    expect(log.filter((l) => /restoring the whole chain/.test(l)).join("\n")).toMatch(/not shop\.priced alone: DML in statement format calls the stored function shop\.current_rate: what it reads and writes is not in the binlog/);
    expect(JSON.parse(state.rows).filter((r: { price: number }) => r.price > 0)).toHaveLength(10);
    expect(state).toEqual(snapshots.get("priced"));
  }, 180_000);

  it("order_tags past that call: a dropped statement of another table calling a stored function refuses too (the function may write any table)", async () => {
    const { state, log } = await restoreAndLoad("order_tags", afterCall);
    expect(log.filter((l) => /restoring the whole chain/.test(l)).join("\n")).toMatch(/not shop\.order_tags alone: DML in statement format calls the stored function shop\.current_rate/);
    expect(state).toEqual(snapshots.get("order_tags after the call"));
  }, 180_000);
});
