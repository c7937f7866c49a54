// A running MySQL 9.7 source reached like a real server: its binlogs archived continuously with MySQL's own mysqlbinlog
// (--read-from-remote-server --raw --stop-never), identical to the server's files, and a point-in-time restore from
// the archive that holds exactly the writes before the time asked for; a source user that cannot see every table; and
// `restore --table --before-destructive` on MySQL: the statement found in its binlogs, the table delivered into the
// running source (by tablespace, partition by partition, by dump) or written to a file.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { checkServiceArchive, startBinlogCopy } from "../../src/backup/binlogs.ts";
import { listArchive } from "../../src/store/archive.ts";
import { flavor } from "../../src/server/flavor.ts";
import { runBackupJob } from "../../src/backup/job.ts";
import { binlogArchiveDir, type BackupMeta } from "../../src/store/layout.ts";
import type { Service } from "../../src/config/schema.ts";
import type { Db } from "../../src/db/connection.ts";
import { applySeed, startSourceSandbox, type SeededSource } from "../../src/hosts/sourceSandbox.ts";
import { restoreService } from "../../src/restore/pipeline.ts";
import { redFindings } from "../faults/catalog.ts";
import { MYSQL_SEED, mysqlToolchain } from "../support/mysql.ts";
import { twoWritesASecondApart, until } from "../support/archive.ts";
import { sandboxServers, testStore } from "../support/services.ts";
import { breaker, tableState, type TableState } from "../support/tableState.ts";
import { serverService } from "../support/writeLoad.ts";
import { parseServices } from "../../src/config/load.ts";
import { walkBinlog } from "../../src/binlog/events.ts";
import type { TableName } from "../../src/db/quote.ts";
import { intoServer } from "../../src/restore/into.ts";
import { findBreakingEvent, restoreTables } from "../../src/restore/table.ts";

const store = testStore();
let source: SeededSource;
let db: Db;
let service: Service;
let backupMeta: BackupMeta;

beforeAll(async () => {
  source = await startSourceSandbox("mysql-archive", undefined, 1, flavor("mysql", mysqlToolchain()));
  await applySeed(source, MYSQL_SEED, "shop");
  db = await source.server.connect();
  service = serverService("shop", source, store.path, "snapshot", ["tool: clone", `toolchain: ${mysqlToolchain()}`]);
  backupMeta = (await runBackupJob(service)).meta;
}, 180_000);

afterAll(async () => {
  await db?.close();
  await source?.destroy();
  store.remove();
  expect(await sandboxServers()).toEqual([]);
});

describe("MySQL 9.7: the backup's hold on its source", () => {
  it("is recorded with InnoDB's history list length, read from the same INNODB_METRICS counter as on MariaDB", () => {
    expect(backupMeta.replicaHold).toMatchObject({ consistency: "snapshot", historyBefore: expect.any(Number), historyAfter: expect.any(Number) });
    expect(backupMeta.replicaHold?.heldMs).toBeGreaterThan(0);
  });
});

describe("MySQL 9.7: the binlog archive and point-in-time restore", () => {
  it("copies with mysqlbinlog, matches the server's binlogs, and restores to a time between two writes", async () => {
    const copier = await startBinlogCopy(service, { restartDelayMs: 200 });
    try {
      const archive = binlogArchiveDir(store.path, service.name);
      await until("the copier to start", () => copier.pid() !== undefined && listArchive(archive).length > 0);
      await db.query("FLUSH BINARY LOGS");
      const [status] = await db.query<{ File: string }>("SHOW BINARY LOG STATUS");
      await until("the archive to reach the server's current file", () => listArchive(archive).includes(status?.File as string));
      const closed = listArchive(archive).filter((f) => f !== status?.File);
      expect(closed.length).toBeGreaterThanOrEqual(1);
      for (const file of closed) {
        expect(readFileSync(join(archive, file)).equals(readFileSync(join(source.dir, "binlog", file))), `${file} differs from the server's`).toBe(true);
      }
      expect((await checkServiceArchive(service)).problems).toEqual([]);

      // Two known writes a second apart; a restore to a time between them has exactly the earlier one.
      const between = await twoWritesASecondApart(db, archive);
      const restored = await restoreService(service, { to: { time: between } });
      try {
        const rows = await restored.db.query<{ id: number }>("SELECT id FROM shop.empty_table ORDER BY id");
        expect(rows.map((r) => r.id)).toEqual([1]);
        expect(restored.restorable.source).toBe("binlog archive");
        expect(restored.steps.find((s) => s.step === "replay")?.command).toMatch(/^TZ=UTC \S+\/mysqlbinlog --start-position=\d+ --stop-datetime='\d{4}-\d\d-\d\d \d\d:\d\d:\d\d' /);
      } finally {
        await restored.destroy();
      }
      // And the newest backup, restored as the nightly does, is still green.
      const nightly = await restoreService(service);
      try {
        expect(Object.fromEntries(await redFindings(nightly, service))).toEqual({});
      } finally {
        await nightly.destroy();
      }
    } finally {
      await copier.stop();
    }
    expect(copier.pid()).toBeUndefined();
  }, 180_000);
});

describe("MySQL 9.7: a source user that sees only part of a database", () => {
  it("refuses the baseline, naming the tables the datadir holds that its catalog hid (MySQL has no .frm: its tablespaces tell)", async () => {
    const password = "narrow-password-for-tests";
    const session = await db.session();
    try {
      await session.query("SET SESSION sql_log_bin = 0");
      await session.query("CREATE USER 'narrow'@'localhost' IDENTIFIED BY ?", [password]);
      await session.query("GRANT RELOAD, PROCESS, REPLICATION CLIENT, BACKUP_ADMIN ON *.* TO 'narrow'@'localhost'");
      await session.query("GRANT SELECT, SHOW VIEW ON mysql.* TO 'narrow'@'localhost'");
      await session.query("GRANT SELECT, SHOW VIEW ON sys.* TO 'narrow'@'localhost'");
      for (const t of ["customers", "audit", "empty_table", "order_tags", "big_customers"]) {
        await session.query(`GRANT SELECT, SHOW VIEW, TRIGGER ON shop.${t} TO 'narrow'@'localhost'`);
      }
    } finally {
      // The connection goes back to the pool: later writes through it must reach the binlog again.
      await session.query("SET SESSION sql_log_bin = 1");
      session.release();
    }
    const yaml = [
      "services:",
      "  narrow:",
      "    source:",
      `      socket: ${source.server.socket}`,
      "      user: narrow",
      "      password: ${NARROW_PASSWORD}",
      `      datadir: ${source.server.datadir}`,
      "    databases: [shop]",
      "    backup:",
      `      store: ${store.path}`,
      "      tool: clone",
      `      toolchain: ${mysqlToolchain()}`,
      "      consistency: quiescent",
      "",
    ].join("\n");
    const [narrow] = parseServices(yaml, join(store.path, "narrow.yaml"), { NARROW_PASSWORD: password });
    if (!narrow) throw new Error("no service");
    await expect(runBackupJob(narrow)).rejects.toThrow(
      /the source's datadir holds objects its catalog does not show narrow@[^\n]*, so the baseline would leave them unchecked:\n {2}table or view shop\.events_log\n {2}table or view shop\.orders\n/,
    );
  }, 120_000);
});

describe("MySQL 9.7: restore --table --before-destructive --into source", () => {
  type State = TableState;
  const shop = (table: string): TableName => ({ database: "shop", table });
  const before = new Map<string, { state: State; at: Date }>();

  beforeAll(async () => {
    // A FULLTEXT index: InnoDB, but not by tablespace (its index tables are not the table's file).
    await db.query("CREATE TABLE shop.notes (id INT PRIMARY KEY, body TEXT, FULLTEXT KEY ft_body (body)) ENGINE=InnoDB");
    await db.query("INSERT INTO shop.notes SELECT id, CONCAT('note about order ', id) FROM shop.orders WHERE id <= 400");
    await runBackupJob(service);
    const copier = await startBinlogCopy(service, { restartDelayMs: 200 });
    try {
      const breaks = breaker(db, before);
      const broken = (table: string, statement: string, around: string) => breaks(shop(table), statement, around);
      await broken("order_tags", "DELETE FROM shop.order_tags", "INSERT INTO shop.audit VALUES (1002, 'after')");
      await broken("events_log", "DELETE FROM shop.events_log WHERE id > 300", "INSERT INTO shop.audit VALUES (1003, 'after events_log')");
      await broken("notes", "UPDATE shop.notes SET body = 'gone'", "INSERT INTO shop.audit VALUES (1004, 'after notes')");
      const [status] = await db.query<{ File: string; Position: number }>("SHOW BINARY LOG STATUS");
      const archive = binlogArchiveDir(store.path, service.name);
      await until("the archive to hold the source's newest event", () => {
        const newest = listArchive(archive).at(-1);
        return newest !== undefined && newest === status?.File && walkBinlog(join(archive, newest)).completeBytes >= Number(status?.Position);
      });
    } finally {
      await copier.stop();
    }
  }, 180_000);

  const cases: [table: string, kind: string, method: string][] = [
    ["order_tags", "DELETE", "tablespace"],
    ["events_log", "DELETE", "partitions"],
    ["notes", "UPDATE", "dump"],
  ];
  for (const [table, kind, method] of cases) {
    it(`${kind} of shop.${table}: found in MySQL's binlogs, delivered ${method === "dump" ? "by dump" : "by tablespace"} under a new name, equal to the snapshot`, async () => {
      const { state, at } = before.get(table) as { state: State; at: Date };
      const event = await findBreakingEvent(service, shop(table), at);
      expect(event.kind).toBe(kind);
      const log: string[] = [];
      const into = intoServer(service, "source");
      const [gtidBefore] = await db.query<{ executed: string }>("SELECT @@GLOBAL.gtid_executed AS executed");
      const result = await restoreTables(service, [shop(table)], { position: { file: event.file, position: event.position, gtid: "" } }, { kind: "into", server: into }, { log: (l) => log.push(l) });
      const [delivered] = result.tables;
      expect(delivered?.method, log.join("\n")).toBe(method);
      expect(delivered?.as?.table).toMatch(new RegExp(`^${table}__restored_\\d{14}$`));
      // A tablespace is kept out of the source's binlog (its replicas have no file for it); a dump's rows go through it.
      expect(delivered?.binlogged).toBe(method === "dump");
      expect(await tableState(db, delivered?.as as TableName)).toEqual(state);
      const temporary = await db.query("SELECT TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA = 'shop' AND TABLE_NAME LIKE '%\\_\\_restoring\\_%'");
      expect(temporary).toEqual([]);
      // The source's GTID state only grew by its own transactions: mysqldump's GTID_PURGED never reached it.
      const [gtidAfter] = await db.query<{ contains: number }>("SELECT GTID_SUBSET(?, @@GLOBAL.gtid_executed) AS contains", [gtidBefore?.executed ?? ""]);
      expect(Number(gtidAfter?.contains)).toBe(1);
    }, 180_000);
  }

  it("--dump FILE: the table's SQL as at the point, without mysqldump's GTID_PURGED and SQL_LOG_BIN lines", async () => {
    const { state, at } = before.get("order_tags") as { state: State; at: Date };
    const event = await findBreakingEvent(service, shop("order_tags"), at);
    const file = join(store.path, "order_tags.sql");
    const result = await restoreTables(service, [shop("order_tags")], { position: { file: event.file, position: event.position, gtid: "" } }, file);
    expect(result.tables).toEqual([{ table: shop("order_tags"), rows: JSON.parse(state.rows).length }]);
    const sql = readFileSync(file, "utf8");
    expect(sql).toMatch(/CREATE TABLE `order_tags`/);
    expect(sql).toMatch(/INSERT INTO `order_tags` VALUES/);
    // Loaded into a server with GTIDs, these would rewrite its GTID state or keep the rows from its replicas.
    expect(sql).not.toMatch(/GTID_PURGED|SQL_LOG_BIN/i);
  }, 180_000);
});
