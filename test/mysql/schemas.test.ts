// Schemas as MySQL 9.7 users have them, none of which may turn a sound backup red (issue 27): tables named with a dash,
// a space, a dot, `#` or beyond ASCII (MySQL writes them to file names in its own encoding, and has no `filename`
// character set to decode them); a busy table whose AUTO_INCREMENT information_schema serves from cached statistics;
// tables in a general tablespace and in the system tablespace, which no tablespace can carry to another server. Each
// goes through backup, restore, verify, the drill and a table restore green, and the fault each check exists for is red.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startBinlogCopy } from "../../src/backup/binlogs.ts";
import { listArchive } from "../../src/store/archive.ts";
import { runBackupJob } from "../../src/backup/job.ts";
import { binlogArchiveDir } from "../../src/store/layout.ts";
import { flavor } from "../../src/server/flavor.ts";
import { readDatadirObjects } from "../../src/baseline/hidden.ts";
import type { Manifest } from "../../src/store/manifest.ts";
import { parseServices } from "../../src/config/load.ts";
import type { Service } from "../../src/config/schema.ts";
import type { Db } from "../../src/db/connection.ts";
import { encodeFileName } from "../../src/db/fileName.ts";
import { autoIncrementState } from "../../src/db/introspect.ts";
import { qualifiedName, quoteIdent } from "../../src/db/quote.ts";
import { startSourceSandbox, type SeededSource } from "../../src/hosts/sourceSandbox.ts";
import { DrillStage } from "../../src/restore/drill.ts";
import { describeDelivered, intoServer } from "../../src/restore/into.ts";
import { restoreService, type Restored } from "../../src/restore/pipeline.ts";
import { restoreTables } from "../../src/restore/table.ts";
import { redFindings, runFault } from "../faults/catalog.ts";
import { until } from "../support/archive.ts";
import { mysqlToolchain } from "../support/mysql.ts";
import { sandboxServers, testStore } from "../support/services.ts";
import { tableState } from "../support/tableState.ts";
import { serverService } from "../support/writeLoad.ts";

/** Names whose file names are encoded: a dash, a space, a dot, `#`, beyond ASCII, and upper case (kept as it is). */
const ODD = ["order-items", "with space", "v1.2", "#tag", "café", "日本", "Upper_Case"];
const shop = (table: string) => ({ database: "shop", table });

const store = testStore();
let source: SeededSource;
let db: Db;
let service: Service;
let backupDir = "";
/** The backup restored once, for the verification and the drill. */
let restored: Restored;
/** The payment table's AUTO_INCREMENT as information_schema served it from its cache, and the largest id, at the backup. */
let cached = { counter: 0, max: 0 };

/** Insert `n` rows of `select` over n = 1…n into `into` (a table and its columns): MySQL has no seq_1_to_N tables. */
function insertRows(into: string, n: number, select: string): Promise<unknown> {
  return db.query(`INSERT /*+ SET_VAR(cte_max_recursion_depth = ${n}) */ INTO ${into} WITH RECURSIVE s (n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM s WHERE n < ${n}) SELECT ${select} FROM s`);
}

beforeAll(async () => {
  source = await startSourceSandbox("mysql-schemas", undefined, 1, flavor("mysql", mysqlToolchain()));
  db = await source.server.connect();
  await db.query("CREATE DATABASE shop CHARACTER SET utf8mb4 COLLATE utf8mb4_0900_ai_ci");
  for (const [i, name] of ODD.entries()) {
    await db.query(`CREATE TABLE ${qualifiedName("shop", name)} (id INT AUTO_INCREMENT PRIMARY KEY, label VARCHAR(40) NOT NULL, KEY idx_label (label)) ENGINE=InnoDB`);
    await insertRows(`${qualifiedName("shop", name)} (label)`, 100 + i * 50, "CONCAT('item ', n)");
  }
  // A general tablespace and the system tablespace: tables whose data is not a file of their own.
  await db.query("CREATE TABLESPACE ts ADD DATAFILE 'ts.ibd' ENGINE=InnoDB");
  await db.query("CREATE TABLE shop.in_ts (id INT PRIMARY KEY, v VARCHAR(40) NOT NULL) TABLESPACE ts ENGINE=InnoDB");
  await insertRows("shop.in_ts", 700, "n, CONCAT('in ts ', n)");
  await db.query("CREATE TABLE shop.ledger (id INT PRIMARY KEY, v VARCHAR(40) NOT NULL) TABLESPACE ts ENGINE=InnoDB");
  await insertRows("shop.ledger", 200, "n, CONCAT('ledger ', n)");
  await db.query("CREATE TABLE shop.in_system (id INT PRIMARY KEY, v VARCHAR(40) NOT NULL) TABLESPACE innodb_system ENGINE=InnoDB");
  await insertRows("shop.in_system", 300, "n, CONCAT('in system ', n)");
  // A busy table: its statistics read once (as any monitoring query does, and cached for a day by default), then written.
  await db.query("CREATE TABLE shop.payment (id INT AUTO_INCREMENT PRIMARY KEY, amount DECIMAL(10,2) NOT NULL) ENGINE=InnoDB");
  await insertRows("shop.payment (amount)", 1000, "n / 100");
  // A connection of its own (closed after): the pool's read statistics fresh.
  const stale = await db.session({ manyStatements: true });
  try {
    await stale.query("SET SESSION information_schema_stats_expiry = DEFAULT");
    await stale.query("SELECT AUTO_INCREMENT FROM information_schema.TABLES WHERE TABLE_SCHEMA = 'shop' AND TABLE_NAME = 'payment'");
    await insertRows("shop.payment (amount)", 5000, "n / 100");
    const [row] = await stale.query<{ ai: number }>("SELECT AUTO_INCREMENT AS ai FROM information_schema.TABLES WHERE TABLE_SCHEMA = 'shop' AND TABLE_NAME = 'payment'");
    const [max] = await stale.query<{ m: number }>("SELECT MAX(id) AS m FROM shop.payment");
    cached = { counter: Number(row?.ai), max: Number(max?.m) };
  } finally {
    stale.release();
  }
  service = serverService("shop", source, store.path, "quiescent", ["tool: clone", `toolchain: ${mysqlToolchain()}`]);
  backupDir = (await runBackupJob(service)).dir;
  // The table restores below restore to the backup's own position, which the binlog archive must hold.
  const copier = await startBinlogCopy(service, { restartDelayMs: 200 });
  try {
    const [status] = await db.query<{ File: string }>("SHOW BINARY LOG STATUS");
    await until("the archive to hold the source's binlog", () => listArchive(binlogArchiveDir(store.path, service.name)).includes(status?.File as string));
  } finally {
    await copier.stop();
  }
  restored = await restoreService(service);
}, 240_000);

afterAll(async () => {
  await restored?.destroy();
  await db?.close();
  await source?.destroy();
  store.remove();
  expect(await sandboxServers()).toEqual([]);
});

describe("MySQL 9.7: odd table names", () => {
  it("are written to file names as src/db/fileName.ts decodes them: every two-character code, punctuation, CJK", async () => {
    // Every character the encoding writes as `@` and two characters, 64 to a table name; then hex-coded ones.
    const letters: string[] = [];
    for (let c = 0x80; c <= 0xffff; c++) if (encodeFileName(String.fromCharCode(c)).length === 3) letters.push(String.fromCharCode(c));
    expect(letters).toHaveLength(1510);
    const names: string[] = [];
    for (let i = 0; i < letters.length; i += 64) names.push(letters.slice(i, i + 64).join(""));
    names.push("p !\"#$%&'()*+,-./:;<=>?@[\\]^`{|}~", "日本語のテーブル", "MiXeD_Case-1");
    try {
      await db.query("CREATE DATABASE `codes-é`");
      for (const name of names) await db.query(`CREATE TABLE ${qualifiedName("codes-é", name)} (id INT PRIMARY KEY) ENGINE=InnoDB`);
      const [onDisk] = readDatadirObjects(source.server.datadir, ["codes-é"]);
      expect(onDisk?.database).toBe("codes-é");
      expect(onDisk?.tables).toEqual([...names].sort());
    } finally {
      await db.query("DROP DATABASE IF EXISTS `codes-é`");
    }
  });

  it("go through backup, restore and verify green, with every check of every table", async () => {
    const manifest = JSON.parse(readFileSync(join(backupDir, "manifest.json"), "utf8")) as Manifest;
    const tables = manifest.databases.find((d) => d.name === "shop")?.tables.map((t) => t.name);
    expect(tables?.sort()).toEqual([...ODD, "in_ts", "ledger", "in_system", "payment"].sort());
    expect(Object.fromEntries(await redFindings(restored, service))).toEqual({});
    // The general tablespace's table is in it on the restored server too, as SHOW CREATE TABLE says on both.
    const [show] = await restored.db.query<{ "Create Table": string }>("SHOW CREATE TABLE shop.in_ts");
    expect(show?.["Create Table"]).toMatch(/\/\*!50100 TABLESPACE `ts` \*\//);
  }, 120_000);

  it("still refuses a baseline whose user cannot see them, naming them decoded", async () => {
    const password = "narrow-password-for-tests";
    const session = await db.session();
    try {
      await session.query("SET SESSION sql_log_bin = 0");
      await session.query("CREATE USER 'narrow'@'localhost' IDENTIFIED BY ?", [password]);
      await session.query("GRANT RELOAD, PROCESS, REPLICATION CLIENT, BACKUP_ADMIN ON *.* TO 'narrow'@'localhost'");
      await session.query("GRANT SELECT, SHOW VIEW ON mysql.* TO 'narrow'@'localhost'");
      await session.query("GRANT SELECT, SHOW VIEW ON sys.* TO 'narrow'@'localhost'");
      for (const t of [...ODD.filter((t) => t !== "order-items" && t !== "café"), "in_ts", "ledger", "in_system", "payment"]) {
        await session.query(`GRANT SELECT, SHOW VIEW, TRIGGER ON ${qualifiedName("shop", t)} TO 'narrow'@'localhost'`);
      }
    } finally {
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
      `      store: ${join(store.path, "narrow")}`,
      "      tool: clone",
      `      toolchain: ${mysqlToolchain()}`,
      "      consistency: quiescent",
      "",
    ].join("\n");
    const [narrow] = parseServices(yaml, join(store.path, "narrow.yaml"), { NARROW_PASSWORD: password });
    if (!narrow) throw new Error("no service");
    await expect(runBackupJob(narrow)).rejects.toThrow(
      /the source's datadir holds objects its catalog does not show narrow@[^\n]*, so the baseline would leave them unchecked:\n {2}table or view shop\.café\n {2}table or view shop\.order-items\ninformation_schema lists/,
    );
  }, 120_000);
});

describe("MySQL 9.7: AUTO_INCREMENT of a busy table", () => {
  it("is read fresh, not from information_schema's cached statistics (which the clone carries to the restored server)", async () => {
    // The cache was stale at the backup: without a fresh read, the restored server said the counter was behind the data.
    expect(cached.counter).toBeLessThanOrEqual(cached.max);
    // Fresh: past the largest id (bulk inserts reserve ids in blocks, so not necessarily the next one), on the source
    // now and in the baseline taken then (nothing was written since).
    const fresh = await autoIncrementState(db, "shop", "payment");
    expect(fresh.maxValue).toBe(cached.max);
    expect(fresh.counter).toBeGreaterThan(cached.max);
    const manifest = JSON.parse(readFileSync(join(backupDir, "manifest.json"), "utf8")) as Manifest;
    const payment = manifest.databases.find((d) => d.name === "shop")?.tables.find((t) => t.name === "payment");
    expect(payment?.checks.autoIncrement).toEqual(fresh);
  });

  it("is still red for a counter behind the baseline's largest id", async () => {
    const result = await runFault(service, backupDir, {
      name: "AUTO_INCREMENT counter behind the data",
      manifest: (m: Manifest) => {
        const t = m.databases.find((d) => d.name === "shop")?.tables.find((x) => x.name === "payment");
        (t?.checks.autoIncrement as { maxValue: number }).maxValue += 1000;
      },
    });
    expect(result.restoreError).toBeUndefined();
    expect([...result.red.keys()]).toEqual(["shop.payment:autoIncrement"]);
    expect(result.red.get("shop.payment:autoIncrement")).toMatch(/counter \d+ is behind the baseline's largest id \d+: ids already handed out would be reused/);
  }, 120_000);
});

describe("MySQL 9.7: tables in a general tablespace and in the system tablespace", () => {
  const DRILLED = ["in_ts", "in_system", "order-items", "café"].map(shop);

  it("drill: green by a dump of their rows, saying why (the odd names by tablespace); red for one whose rows differ, naming it", async () => {
    // The restored copy of ledger (in ts too) changed: what the drill delivers is what it compares with the baseline.
    await restored.db.query("UPDATE shop.ledger SET v = 'damaged' WHERE id = 7");
    const drill = new DrillStage(service, [...DRILLED, shop("ledger")]);
    try {
      for (const table of DRILLED) {
        const result = await drill.result(restored, table);
        expect(result.findings.filter((f) => !f.finding.ok), table.table).toEqual([]);
        expect(result.findings.map((f) => f.check)).toEqual(["checksum", "rowCount"]);
      }
      const inTs = (await drill.result(restored, shop("in_ts"))).delivered;
      expect(inTs).toMatchObject({ method: "dump", rows: 700 });
      expect(inTs.why).toBe("in the general tablespace ts, which IMPORT TABLESPACE cannot carry (it moves file-per-table tablespaces only); ts is not on the drill server: created in its own file there");
      // As the suite's drill test shows it (docs/chains.md).
      expect(describeDelivered(inTs, "the drill server")).toMatch(/^delivered shop\.in_ts as shop\.in_ts on the drill server: 700 row\(s\), by a dump of its rows \(in the general tablespace ts, [^\n]*own file there\) in \S+$/);
      const inSystem = (await drill.result(restored, shop("in_system"))).delivered;
      expect(inSystem).toMatchObject({ method: "dump", rows: 300 });
      expect(inSystem.why).toBe("in the system tablespace innodb_system, which IMPORT TABLESPACE cannot carry (it moves file-per-table tablespaces only)");
      expect((await drill.result(restored, shop("order-items"))).delivered.method).toBe("tablespace");
      expect((await drill.result(restored, shop("café"))).delivered.method).toBe("tablespace");
      const red = (await drill.result(restored, shop("ledger"))).findings.filter((f) => !f.finding.ok);
      expect(red.map((f) => f.check)).toEqual(["checksum"]);
      expect((red[0]?.finding as { message: string }).message).toMatch(/shop\.ledger/);
    } finally {
      await drill.close();
    }
  }, 180_000);

  it("restore --table --into source: delivered into the source's own general tablespace, equal to the table", async () => {
    const manifest = JSON.parse(readFileSync(join(backupDir, "manifest.json"), "utf8")) as Manifest;
    const point = { position: manifest.position as { file: string; position: number; gtid: string } };
    const log: string[] = [];
    const result = await restoreTables(service, [shop("in_ts")], point, { kind: "into", server: intoServer(service, "source") }, { log: (l) => log.push(l) });
    const [delivered] = result.tables;
    expect(delivered?.method, log.join("\n")).toBe("dump");
    expect(delivered?.why).toBe("in the general tablespace ts, which IMPORT TABLESPACE cannot carry (it moves file-per-table tablespaces only)");
    const as = delivered?.as as { database: string; table: string };
    expect(await tableState(db, as)).toEqual(await tableState(db, shop("in_ts")));
    const [show] = await db.query<{ "Create Table": string }>(`SHOW CREATE TABLE ${qualifiedName(as.database, as.table)}`);
    expect(show?.["Create Table"]).toMatch(/\/\*!50100 TABLESPACE `ts` \*\//);
    await db.query(`DROP TABLE ${quoteIdent(as.database)}.${quoteIdent(as.table)}`);
  }, 180_000);

  it("restore --table --dump: the table's SQL as CREATE TABLE names it, in its tablespace, with what a server needs to load it", async () => {
    const manifest = JSON.parse(readFileSync(join(backupDir, "manifest.json"), "utf8")) as Manifest;
    const point = { position: manifest.position as { file: string; position: number; gtid: string } };
    const file = join(store.path, "in_ts.sql");
    const result = await restoreTables(service, [shop("in_ts"), shop("order-items")], point, file);
    expect(result.tables.map((t) => [t.table.table, t.rows])).toEqual([["in_ts", 700], ["order-items", 100]]);
    const sql = readFileSync(file, "utf8");
    expect(sql).toMatch(/CREATE TABLE `in_ts` \([^;]*\/\*!50100 TABLESPACE `ts` \*\//);
    expect(sql).toContain(
      "-- shop.in_ts is in the general tablespace ts: a server without it refuses its CREATE TABLE; create it first (CREATE TABLESPACE `ts` ADD DATAFILE '…'), or delete the TABLESPACE option\n",
    );
    expect(sql).toMatch(/CREATE TABLE `order-items`/);
  }, 180_000);
});
