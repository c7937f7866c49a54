// A running MariaDB 11.8 source reached like a real server (socket, root, its datadir), backed up with 11.8's
// mariadb-backup: its binlogs archived continuously with 11.8's own mariadb-binlog (--read-from-remote-server --raw
// --stop-never), identical to the server's files, a point-in-time restore from the archive that holds exactly the
// writes before the time asked for, and `restore --table --before-destructive` into the running 11.8 source (by
// tablespace, partition by partition, by dump) or written to a file; and an incremental chain, prepared by 11.8's
// mariadb-backup, whose checkpoints file 11.8 names mariadb_backup_checkpoints.
import { readFileSync, writeFileSync } from "node:fs";
import { execa } from "execa";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { TableName } from "../../src/db/quote.ts";
import { checkServiceArchive, startBinlogCopy } from "../../src/backup/binlogs.ts";
import { listArchive } from "../../src/store/archive.ts";
import { flavor } from "../../src/server/flavor.ts";
import { runBackupJob } from "../../src/backup/job.ts";
import { binlogArchiveDir } from "../../src/store/layout.ts";
import type { Service } from "../../src/config/schema.ts";
import type { Db } from "../../src/db/connection.ts";
import { applySeed, startSourceSandbox, type SeededSource } from "../../src/hosts/sourceSandbox.ts";
import { intoServer } from "../../src/restore/into.ts";
import { restoreService } from "../../src/restore/pipeline.ts";
import { findBreakingEvent, restoreTables } from "../../src/restore/table.ts";
import { redFindings } from "../faults/catalog.ts";
import { twoWritesASecondApart, until, untilArchived } from "../support/archive.ts";
import { mariadb118Toolchain } from "../support/mariadb118.ts";
import { sandboxServers, SMALL_SEED, testStore } from "../support/services.ts";
import { breaker, tableState, type TableState } from "../support/tableState.ts";
import { serverService } from "../support/writeLoad.ts";

const store = testStore();
let source: SeededSource;
let db: Db;
let service: Service;
const shop = (table: string): TableName => ({ database: "shop", table });

beforeAll(async () => {
  source = await startSourceSandbox("mariadb118-archive", undefined, 1, flavor("mariadb", mariadb118Toolchain()));
  await applySeed(source, SMALL_SEED, "shop");
  db = await source.server.connect();
  service = serverService("shop", source, store.path, "snapshot", ["tool: mariabackup", `toolchain: ${mariadb118Toolchain()}`]);
  await runBackupJob(service);
}, 180_000);

afterAll(async () => {
  await db?.close();
  await source?.destroy();
  store.remove();
  expect(await sandboxServers()).toEqual([]);
});

describe("MariaDB 11.8: the binlog archive and point-in-time restore", () => {
  it("copies with 11.8's mariadb-binlog, matches the server's binlogs, and restores to a time between two writes", async () => {
    const [version] = await db.query<{ v: string }>("SELECT VERSION() AS v");
    expect(version?.v).toMatch(/^11\.8\./);
    const copier = await startBinlogCopy(service, { restartDelayMs: 200 });
    try {
      const archive = binlogArchiveDir(store.path, service.name);
      await until("the copier to start", () => copier.pid() !== undefined && listArchive(archive).length > 0);
      await db.query("FLUSH BINARY LOGS");
      const [status] = await db.query<{ File: string }>("SHOW MASTER STATUS");
      await until("the archive to reach the server's current file", () => listArchive(archive).includes(status?.File as string));
      const closed = listArchive(archive).filter((f) => f !== status?.File);
      expect(closed.length).toBeGreaterThanOrEqual(1);
      for (const file of closed) {
        expect(readFileSync(join(archive, file)).equals(readFileSync(join(source.dir, "binlog", file))), `${file} differs from the server's`).toBe(true);
      }
      expect((await checkServiceArchive(service)).problems).toEqual([]);

      const between = await twoWritesASecondApart(db, archive);
      const restored = await restoreService(service, { to: { time: between } });
      try {
        const rows = await restored.db.query<{ id: number }>("SELECT id FROM shop.empty_table ORDER BY id");
        expect(rows.map((r) => r.id)).toEqual([1]);
        expect(restored.restorable.source).toBe("binlog archive");
        expect(restored.steps.find((s) => s.step === "replay")?.command).toMatch(new RegExp(`^TZ=UTC ${mariadb118Toolchain()}/mariadb-binlog --start-position=\\d+ --stop-datetime='\\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\d:\\d\\d' `));
        const [who] = await restored.db.query<{ v: string }>("SELECT VERSION() AS v");
        expect(who?.v).toMatch(/^11\.8\./);
      } finally {
        await restored.destroy();
      }
    } finally {
      await copier.stop();
    }
    expect(copier.pid()).toBeUndefined();
  }, 180_000);
});

describe("MariaDB 11.8: restore --table --before-destructive --into source", () => {
  const before = new Map<string, { state: TableState; at: Date }>();

  beforeAll(async () => {
    await runBackupJob(service);
    const copier = await startBinlogCopy(service, { restartDelayMs: 200 });
    try {
      const breaks = breaker(db, before);
      const broken = (table: string, statement: string, around: string) => breaks(shop(table), statement, around);
      await broken("order_tags", "DELETE FROM shop.order_tags", "INSERT INTO shop.audit VALUES (1002, 'after')");
      await broken("events_log", "DELETE FROM shop.events_log WHERE id > 300", "INSERT INTO shop.audit VALUES (1003, 'after events_log')");
      await broken("audit", "DELETE FROM shop.audit WHERE id < 200", "INSERT INTO shop.empty_table VALUES (3)");
      await untilArchived(db, binlogArchiveDir(store.path, service.name));
    } finally {
      await copier.stop();
    }
  }, 180_000);

  const cases: [table: string, kind: string, method: string][] = [
    ["order_tags", "DELETE", "tablespace"],
    ["events_log", "DELETE", "partitions"],
    ["audit", "DELETE", "dump"],
  ];
  for (const [table, kind, method] of cases) {
    it(`${kind} of shop.${table}: found in 11.8's binlogs, delivered ${method === "dump" ? "by dump" : "by tablespace"} under a new name, equal to the snapshot`, async () => {
      const { state, at } = before.get(table) as { state: TableState; at: Date };
      const event = await findBreakingEvent(service, shop(table), at);
      expect(event.kind).toBe(kind);
      const log: string[] = [];
      const result = await restoreTables(service, [shop(table)], { position: { file: event.file, position: event.position, gtid: "" } }, { kind: "into", server: intoServer(service, "source") }, { log: (l) => log.push(l) });
      const [delivered] = result.tables;
      expect(delivered?.method, log.join("\n")).toBe(method);
      expect(delivered?.as?.table).toMatch(new RegExp(`^${table}__restored_\\d{14}$`));
      expect(delivered?.binlogged).toBe(method === "dump");
      expect(await tableState(db, delivered?.as as TableName)).toEqual(state);
      const temporary = await db.query("SELECT TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA = 'shop' AND TABLE_NAME LIKE '%\\_\\_restoring\\_%'");
      expect(temporary).toEqual([]);
    }, 180_000);
  }

  it("--dump FILE: the table's SQL as at the point, written by 11.8's mariadb-dump", async () => {
    const { state, at } = before.get("order_tags") as { state: TableState; at: Date };
    const event = await findBreakingEvent(service, shop("order_tags"), at);
    const file = join(store.path, "order_tags.sql");
    const result = await restoreTables(service, [shop("order_tags")], { position: { file: event.file, position: event.position, gtid: "" } }, file);
    expect(result.tables).toEqual([{ table: shop("order_tags"), rows: JSON.parse(state.rows).length }]);
    const sql = readFileSync(file, "utf8");
    expect(sql).toMatch(/^-- MariaDB dump [\d.]+-11\.8\.\d+-MariaDB/m);
    expect(sql).toMatch(/CREATE TABLE `order_tags`/);
    expect(sql).toMatch(/INSERT INTO `order_tags` VALUES/);
  }, 180_000);
});

describe("MariaDB 11.8: an incremental chain", () => {
  it("restores a full and an incremental green, its PARSEC and ed25519 accounts able to log in, and names 11.8's own checkpoints file when one is unreadable", async () => {
    // A source of its own: the one above holds tables delivered into it by tablespace (docs/servers.md says what a
    // backup of those did on 11.8).
    const chainSource = await startSourceSandbox("mariadb118-chain", undefined, 1, flavor("mariadb", mariadb118Toolchain()));
    try {
      await applySeed(chainSource, SMALL_SEED, "shop");
      const chained = serverService("chain", chainSource, join(store.path, "chain"), "snapshot", ["tool: mariabackup", `toolchain: ${mariadb118Toolchain()}`, "policy: incremental"]);
      const chainDb = await chainSource.server.connect();
      try {
        // Accounts of the authentication plugins 11.8 ships (PARSEC is new in 11.6): the restored server must load their
        // server plugins and a client of the toolchain its client plugins, the tree's, not the host's 10.11 ones.
        await chainDb.query("INSTALL SONAME 'auth_ed25519'");
        await chainDb.query("INSTALL SONAME 'auth_parsec'");
        await chainDb.query("CREATE USER 'shop_parsec'@'localhost' IDENTIFIED VIA parsec USING PASSWORD('parsec-pw')");
        await chainDb.query("CREATE USER 'shop_ed'@'localhost' IDENTIFIED VIA ed25519 USING PASSWORD('ed-pw')");
        await runBackupJob(chained);
        await chainDb.query("INSERT INTO shop.orders (customer_id, placed_at, note) SELECT 1 + seq % 2000, '2026-07-01 00:00:00', 'incremental' FROM shop.seq_1_to_100");
      } finally {
        await chainDb.close();
      }
      const incremental = await runBackupJob(chained);
      expect(incremental.meta.kind).toBe("incremental");
      const restored = await restoreService(chained);
      try {
        expect(restored.steps.map((s) => s.step)).toContain("apply-incremental");
        expect(Object.fromEntries(await redFindings(restored, chained))).toEqual({});
        for (const [user, password] of [["shop_parsec", "parsec-pw"], ["shop_ed", "ed-pw"]]) {
          const login = await execa(join(mariadb118Toolchain(), "mariadb"), ["--no-defaults", `--socket=${restored.server.socket}`, `--user=${user}`, `--password=${password}`, "-N", "-e", "SELECT CURRENT_USER()"], { reject: false });
          expect(`${login.stdout}${login.stderr}`.trim()).toBe(`${user}@localhost`);
        }
      } finally {
        await restored.destroy();
      }
      // 11.8 writes mariadb_backup_checkpoints, 10.11 xtrabackup_checkpoints: the message names the file that is there.
      const file = join(incremental.dir, "data", "mariadb_backup_checkpoints");
      writeFileSync(file, "garbled\n");
      await expect(restoreService(chained)).rejects.toThrow(`backup chain link ${incremental.meta.id} has no readable ${file}:`);
    } finally {
      await chainSource.destroy();
    }
  }, 240_000);
});
