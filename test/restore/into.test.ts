// Delivering a restored table into a running server (`restore --table … --into`), on real MariaDB: after a backup, with
// writes to other tables around them, a DELETE without WHERE, a DROP TABLE, a TRUNCATE, an UPDATE without WHERE, a
// MyISAM table's DELETE and a partitioned table's DELETE are each found in the archive, and the table delivered under a
// new name equals the snapshot the test took just before the statement. The delivery never overwrites a table (before
// the restore, and at its final RENAME), an account with CREATE, ALTER, INSERT and DROP is enough, and a run killed
// during the import leaves no table under the final name and nothing the next run does not remove.
import { existsSync, readdirSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { execa } from "execa";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { TableName } from "../../src/db/quote.ts";
import { startBinlogCopy } from "../../src/backup/binlogs.ts";
import { runBackupJob } from "../../src/backup/job.ts";
import { binlogArchiveDir } from "../../src/store/layout.ts";
import { parseServices } from "../../src/config/load.ts";
import type { Service } from "../../src/config/schema.ts";
import { maskSecrets } from "../../src/base/secrets.ts";
import type { Db } from "../../src/db/connection.ts";
import { createWorkDir, installDatadir, startServer, type StartedServer, type WorkDir } from "../../src/hosts/sandbox.ts";
import { applySeed, startSourceSandbox, type SeededSource } from "../../src/hosts/sourceSandbox.ts";
import {
  deliverTables,
  deliveryLock,
  deliveryMethod,
  fileNamePart,
  intoServer,
  renameRowsLine,
  restoredName,
  restoringName,
  sharedTablespace,
  targetDefinition,
  withoutTablespace,
  type IntoServer,
} from "../../src/restore/into.ts";
import type { RestorePoint } from "../../src/restore/locate.ts";
import { restoreService } from "../../src/restore/pipeline.ts";
import { findBreakingEvent, restoreTables } from "../../src/restore/table.ts";
import { until, untilArchived } from "../support/archive.ts";
import { sandboxServers, serverServiceYaml, SMALL_SEED, testStore } from "../support/services.ts";
import { breaker, tableState, type TableState } from "../support/tableState.ts";
import { serverService } from "../support/writeLoad.ts";

const ROOT = resolve(import.meta.dirname, "../..");
const store = testStore();
let source: SeededSource;
let db: Db;
let service: Service;
let into: IntoServer;
/** Each table's state just before the statement that broke it, and a time just before that statement. */
const before = new Map<string, { state: State; at: Date }>();
/** Where the archive ends, and readings' state there (the kill test restores to it). */
let end: RestorePoint;
let endPosition: { file: string; position: number };
let readings: State;

type State = TableState;

async function tablesLike(on: Db, pattern: RegExp, database = "shop"): Promise<string[]> {
  const rows = await on.query<{ name: string }>("SELECT TABLE_NAME AS name FROM information_schema.TABLES WHERE TABLE_SCHEMA = ?", [database]);
  return rows.map((r) => r.name).filter((n) => pattern.test(n));
}

const shop = (table: string): TableName => ({ database: "shop", table });

beforeAll(async () => {
  source = await startSourceSandbox("into");
  await applySeed(source, SMALL_SEED, "shop");
  db = await source.server.connect();
  // Eight leaves (2 partitions × 4 subpartitions), partition names that need the file-name encoding.
  await db.query(
    "CREATE TABLE shop.readings (id INT NOT NULL, sensor INT NOT NULL, value DOUBLE, PRIMARY KEY (id, sensor)) ENGINE=InnoDB " +
      "PARTITION BY RANGE (id) SUBPARTITION BY HASH (sensor) SUBPARTITIONS 4 (PARTITION `p-early` VALUES LESS THAN (1000), PARTITION `p-late` VALUES LESS THAN MAXVALUE)",
  );
  await db.query("INSERT INTO shop.readings SELECT seq, seq % 7, seq / 3 FROM shop.seq_1_to_2000");
  service = serverService("shop", source, store.path, "snapshot");
  into = intoServer(service, "source");
  await runBackupJob(service);
  const copier = await startBinlogCopy(service, { restartDelayMs: 200 });
  try {
    const breaks = breaker(db, before);
    const broken = (table: string, statement: string, around: string) => breaks(shop(table), statement, around);
    await db.query("INSERT INTO shop.audit VALUES (1001, 'before')");
    await db.query("INSERT INTO shop.order_tags VALUES (1, 'late')");
    await db.query("FLUSH BINARY LOGS");
    await broken("order_tags", "DELETE FROM shop.order_tags", "INSERT INTO shop.audit VALUES (1002, 'after')");
    await broken("orders", "DROP TABLE shop.orders", "INSERT INTO shop.empty_table VALUES (1)");
    await broken("notes", "TRUNCATE TABLE shop.notes", "INSERT INTO shop.events_log VALUES (601, '2026-02-01 00:00:00', 'after truncate')");
    await broken("customers", "UPDATE shop.customers SET balance = 0", "INSERT INTO shop.order_tags VALUES (2, 'after update')");
    await broken("audit", "DELETE FROM shop.audit WHERE id < 200", "INSERT INTO shop.empty_table VALUES (2)");
    await broken("events_log", "DELETE FROM shop.events_log WHERE id > 300", "INSERT INTO shop.audit VALUES (1003, 'after events_log')");
    const [status] = await db.query<{ File: string; Position: number }>("SHOW MASTER STATUS");
    endPosition = { file: status?.File as string, position: Number(status?.Position) };
    end = { position: { ...endPosition, gtid: "" } };
    readings = await tableState(db, shop("readings"));
    await untilArchived(db, binlogArchiveDir(store.path, service.name));
  } finally {
    await copier.stop();
  }
}, 300_000);

afterAll(async () => {
  await db?.close();
  await source?.destroy();
  store.remove();
});

describe("names, definitions and the way a table goes (pure)", () => {
  const at = new Date("2026-11-30T10:50:06.789Z");
  it("names the final and the temporary table after the time, within 64 characters", () => {
    expect(restoredName(shop("orders"), at)).toEqual(shop("orders__restored_20261130105006"));
    expect(restoringName(shop("order-tags ü"), at)).toBe("order_tags____restoring_20261130105006");
    expect(restoredName(shop("x".repeat(64)), at).table).toHaveLength(64);
    expect(`${restoringName(shop("x".repeat(64)), at)}_part`).toHaveLength(64);
    expect(deliveryLock("shop", "t__restoring_20261130105006")).toBe(deliveryLock("shop", "t__restoring_20261130105006_part"));
    expect(deliveryLock("shop", "t__restoring_20261130105006").length).toBeLessThanOrEqual(64);
  });

  it("encodes names as the server names their files, and nothing beyond U+FFFF", () => {
    expect(fileNamePart("p-early")).toBe("p@002dearly");
    expect(fileNamePart("p t")).toBe("p@0020t");
    expect(fileNamePart("p_0")).toBe("p_0");
    expect(fileNamePart("café")).toBe("caf@0p");
    expect(fileNamePart("p\u{1F600}")).toBeUndefined();
  });

  it("renames the definition and leaves its foreign keys out", () => {
    const create =
      "CREATE TABLE `orders` (\n  `id` int(10) unsigned NOT NULL AUTO_INCREMENT,\n  `customer_id` int(10) unsigned NOT NULL,\n  PRIMARY KEY (`id`),\n" +
      "  KEY `idx_customer` (`customer_id`),\n  CONSTRAINT `fk_customer` FOREIGN KEY (`customer_id`) REFERENCES `customers` (`id`)\n) ENGINE=InnoDB AUTO_INCREMENT=5001";
    expect(targetDefinition(create, "orders", "shop", "orders__restoring_20261130105006")).toBe(
      "CREATE TABLE `shop`.`orders__restoring_20261130105006` (\n  `id` int(10) unsigned NOT NULL AUTO_INCREMENT,\n  `customer_id` int(10) unsigned NOT NULL,\n" +
        "  PRIMARY KEY (`id`),\n  KEY `idx_customer` (`customer_id`)\n) ENGINE=InnoDB AUTO_INCREMENT=5001",
    );
    expect(() => targetDefinition("CREATE TABLE `other` (\n  `id` int\n)", "orders", "shop", "x")).toThrow(/does not start with/);
  });

  it("renames the dump's rows and refuses any other statement naming a table", () => {
    expect(renameRowsLine("INSERT INTO `a``b` VALUES (1,'INSERT INTO `a``b` ')", "a`b", "t")).toBe("INSERT INTO `t` VALUES (1,'INSERT INTO `a``b` ')");
    expect(renameRowsLine("/*!40000 ALTER TABLE `a` DISABLE KEYS */;", "a", "t")).toBe("/*!40000 ALTER TABLE `t` DISABLE KEYS */;");
    expect(renameRowsLine("/*!40101 SET NAMES utf8mb4 */;", "a", "t")).toBe("/*!40101 SET NAMES utf8mb4 */;");
    expect(() => renameRowsLine("LOCK TABLES `a` WRITE;", "a", "t")).toThrow(/unexpected statement/);
    expect(() => renameRowsLine("INSERT INTO `other` VALUES (1);", "a", "t")).toThrow(/unexpected statement/);
  });

  it("goes by tablespace for InnoDB it can reach, leaf by leaf when partitioned, else by dump and says why", () => {
    const reachable = { reachable: true } as const;
    expect(deliveryMethod({ engine: "InnoDB", partitioned: false, fulltext: false }, reachable)).toEqual({ method: "tablespace" });
    expect(deliveryMethod({ engine: "InnoDB", partitioned: true, fulltext: false }, reachable)).toEqual({ method: "partitions" });
    expect(deliveryMethod({ engine: "MyISAM", partitioned: false, fulltext: false }, reachable)).toEqual({ method: "dump", why: "a MyISAM table" });
    expect(deliveryMethod({ engine: "InnoDB", partitioned: false, fulltext: true }, reachable).why).toMatch(/FULLTEXT/);
    expect(deliveryMethod({ engine: "InnoDB", partitioned: false, fulltext: false }, { reachable: false, why: "elsewhere" })).toEqual({ method: "dump", why: "elsewhere" });
    // MySQL's shared tablespaces: no file of the table's own to carry.
    expect(deliveryMethod({ engine: "InnoDB", partitioned: false, fulltext: false, tablespace: "ts" }, reachable)).toEqual({
      method: "dump",
      why: "in the general tablespace ts, which IMPORT TABLESPACE cannot carry (it moves file-per-table tablespaces only)",
    });
    expect(deliveryMethod({ engine: "InnoDB", partitioned: false, fulltext: false, tablespace: "innodb_system" }, reachable).why).toMatch(/^in the system tablespace innodb_system, /);
  });

  it("reads a MySQL table's shared tablespace from SHOW CREATE TABLE, and can leave it out", () => {
    // As MySQL 9.7 writes them (test/mysql/schemas.test.ts); a column's comment that looks like the option is not it.
    const create = (option: string) =>
      "CREATE TABLE `in_ts` (\n  `id` int NOT NULL,\n  `v` varchar(40) NOT NULL COMMENT ' /*!50100 TABLESPACE `x` */',\n  PRIMARY KEY (`id`)\n)" +
      `${option} ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_0900_ai_ci`;
    expect(sharedTablespace(create(" /*!50100 TABLESPACE `ts` */"))).toBe("ts");
    expect(sharedTablespace(create(" /*!50100 TABLESPACE `innodb_system` */"))).toBe("innodb_system");
    expect(sharedTablespace(create(" /*!50100 TABLESPACE `odd``name` */"))).toBe("odd`name");
    expect(sharedTablespace(create(" /*!50100 TABLESPACE `innodb_file_per_table` */"))).toBeUndefined();
    expect(sharedTablespace(create(""))).toBeUndefined();
    expect(withoutTablespace(create(" /*!50100 TABLESPACE `ts` */"))).toBe(create(""));
    expect(withoutTablespace(create(""))).toBe(create(""));
  });
});

describe("restore --table --before-destructive --into: the table as it was right before the statement", () => {
  const cases: [table: string, kind: string, method: string][] = [
    ["order_tags", "DELETE", "tablespace"],
    ["orders", "DROP TABLE", "tablespace"],
    ["notes", "TRUNCATE", "dump"],
    ["customers", "UPDATE", "tablespace"],
    ["audit", "DELETE", "dump"],
    ["events_log", "DELETE", "partitions"],
  ];
  for (const [table, kind, method] of cases) {
    it(`${kind} of shop.${table}: found, delivered ${method === "dump" ? "by dump" : "by tablespace"} under a new name, equal to the snapshot`, async () => {
      const { state, at } = before.get(table) as { state: State; at: Date };
      const event = await findBreakingEvent(service, shop(table), at);
      expect(event.kind).toBe(kind);
      const log: string[] = [];
      const result = await restoreTables(service, [shop(table)], { position: { file: event.file, position: event.position, gtid: "" } }, { kind: "into", server: into }, { log: (l) => log.push(l) });
      const [delivered] = result.tables;
      expect(delivered?.method, log.join("\n")).toBe(method);
      expect(delivered?.as?.table).toMatch(new RegExp(`^${table}__restored_\\d{14}$`));
      expect(delivered?.rows).toBe(JSON.parse(state.rows).length);
      // The source binlogs and root may keep a tablespace out of it; a dump goes through it like any write.
      expect(delivered?.binlogged).toBe(method === "dump");
      expect(result.steps.at(-1)?.step).toBe("deliver");
      expect(await tableState(db, delivered?.as as TableName)).toEqual(state);
      expect(await tablesLike(db, /__restoring_/)).toEqual([]);
    }, 120_000);
  }
});

describe("--into never overwrites a table", () => {
  it("refuses a final name that exists before restoring anything", async () => {
    const log: string[] = [];
    const started = Date.now();
    await expect(restoreTables(service, [shop("customers")], end, { kind: "into", server: into, as: shop("audit") }, { log: (l) => log.push(l) })).rejects.toThrow(
      /--into source: shop\.audit already exists on source \(root@socket .*\): --into never overwrites a table; name another with --as/,
    );
    expect(log.filter((l) => /locate/.test(l))).toEqual([]);
    expect(Date.now() - started).toBeLessThan(5_000);
  });

  it("refuses at the final RENAME a name taken while the table was imported, and removes its temporary table", async () => {
    // Three connections: the test's lock, the delivery's session, and the test's look at the processlist.
    const restored = await restoreService(service, { to: end, poolSize: 3 });
    const hold = await restored.db.session();
    try {
      // The delivery's checks pass, then it waits on the restored table while the name is taken on the target.
      await hold.query("LOCK TABLES shop.customers WRITE");
      const delivery = deliverTables(restored, [shop("customers")], into, { as: shop("customers_back") });
      await until("the delivery to wait on the locked table", async () => {
        const waiting = await restored.db.query<{ n: number }>("SELECT COUNT(*) AS n FROM information_schema.PROCESSLIST WHERE STATE LIKE 'Waiting for table metadata lock'");
        return Number(waiting[0]?.n) > 0;
      });
      await db.query("CREATE TABLE shop.customers_back (note VARCHAR(20))");
      await db.query("INSERT INTO shop.customers_back VALUES ('mine')");
      await hold.query("UNLOCK TABLES");
      await expect(delivery).rejects.toThrow(/shop\.customers_back was created on source while the table was imported: not overwritten; nothing delivered/);
      expect(await db.query("SELECT * FROM shop.customers_back")).toEqual([{ note: "mine" }]);
      expect(await tablesLike(db, /__restoring_/)).toEqual([]);
    } finally {
      hold.release();
      await restored.destroy();
      await db.query("DROP TABLE IF EXISTS shop.customers_back");
    }
  }, 120_000);
});

describe("an account with CREATE, ALTER, INSERT and DROP on the schema, on a server without binlog", () => {
  let work: WorkDir;
  let server: StartedServer;
  let root: Db;
  let limited: IntoServer;

  beforeAll(async () => {
    work = createWorkDir("into-target");
    await installDatadir(join(work.path, "datadir"));
    server = await startServer({ dir: work.path, datadir: join(work.path, "datadir"), tcp: false });
    root = await server.connect();
    await root.query("CREATE DATABASE shop");
    await root.query("CREATE USER 'deliver'@'localhost' IDENTIFIED BY 'deliver-password-for-tests'");
    await root.query("GRANT CREATE, ALTER, INSERT ON shop.* TO 'deliver'@'localhost'");
    limited = { name: "scratch", socket: server.socket, user: "deliver", password: "deliver-password-for-tests" };
  }, 120_000);

  afterAll(async () => {
    await root?.close();
    await server?.stop();
    await work?.remove();
  });

  it("without DROP: refused before restoring, naming the privileges, and nothing is created", async () => {
    await expect(restoreTables(service, [shop("events_log")], end, { kind: "into", server: limited })).rejects.toThrow(
      /--into scratch: the account deliver may not deliver into shop on scratch .*: it needs CREATE, ALTER, INSERT and DROP there/,
    );
    expect(await tablesLike(root, /./)).toEqual([]);
  });

  it("with DROP: a partitioned table leaf by leaf and a MyISAM table by dump, equal to the snapshots", async () => {
    await root.query("GRANT DROP ON shop.* TO 'deliver'@'localhost'");
    for (const [table, method] of [
      ["events_log", "partitions"],
      ["audit", "dump"],
    ] as const) {
      const { state, at } = before.get(table) as { state: State; at: Date };
      const event = await findBreakingEvent(service, shop(table), at);
      const log: string[] = [];
      const result = await restoreTables(service, [shop(table)], { position: { file: event.file, position: event.position, gtid: "" } }, { kind: "into", server: limited, as: shop(`${table}_back`) }, { log: (l) => log.push(l) });
      expect(result.tables[0]?.method, log.join("\n")).toBe(method);
      expect(result.tables[0]?.binlogged).toBeUndefined();
      if (method === "partitions") expect(log.filter((l) => /partition p\d imported \(\d\/3\)/.test(l))).toHaveLength(3);
      expect(await tableState(root, shop(`${table}_back`))).toEqual(state);
    }
    expect((await tablesLike(root, /./)).sort()).toEqual(["audit_back", "events_log_back"]);
  }, 180_000);
});

describe("a run stopped during the import", () => {
  const config = () => join(store.path, "services.yaml");
  const args = () => ["restore", "shop", "--table", "shop.readings", "--to", `${endPosition.file}:${endPosition.position}`, "--into", "source", "--config", config()];
  const env = () => ({ ...process.env, SOURCE_PASSWORD: source.server.password as string });

  /** Run the command line in its own process group and signal the group once the first of eight leaves is imported. */
  async function stopAfterFirstLeaf(signal: "SIGKILL" | "SIGINT"): Promise<{ signalled: boolean; output: string }> {
    writeFileSync(config(), serverServiceYaml("shop", source.server, store.path, ["consistency: snapshot"]));
    const run = execa(join(ROOT, "bin/restoretest"), args(), { cwd: ROOT, detached: true, reject: false, all: true, env: env() });
    let signalled = false;
    run.all?.on("data", (chunk: Buffer) => {
      // Seven leaves and the RENAME are still to come: the signal lands inside the import.
      if (!signalled && /shop\.readings: partition \S+ imported \(1\/8\)/.test(chunk.toString()) && run.pid) {
        signalled = true;
        process.kill(-run.pid, signal);
      }
    });
    const output = String((await run).all);
    return { signalled, output };
  }

  it("killed: no table under the final name; the next run removes what it left, then delivers", async () => {
    const servers = (await sandboxServers()).length;
    const killed = await stopAfterFirstLeaf("SIGKILL");
    expect(killed.signalled, killed.output).toBe(true);
    expect(killed.output).not.toMatch(/delivered shop\.readings/);
    expect(await tablesLike(db, /^readings__restored_/)).toEqual([]);
    const left = await tablesLike(db, /^readings__restoring_\d{14}$/);
    expect(left).toHaveLength(1);
    // The killed run's connection ends on the server, its lock with it; its restored server goes with its reaper.
    await until("the killed delivery's lock to be free", async () => {
      const [row] = await db.query<{ free: number }>("SELECT IS_FREE_LOCK(?) AS free", [deliveryLock("shop", left[0] as string)]);
      return Number(row?.free) === 1;
    });
    await until("the killed run's restored server to be gone", async () => (await sandboxServers()).length === servers);

    const next = await execa(join(ROOT, "bin/restoretest"), args(), { cwd: ROOT, reject: false, all: true, env: env() });
    const output = String(next.all);
    expect(next.exitCode, output).toBe(0);
    expect(output).toMatch(new RegExp(`removed shop\\.${left[0]}(, shop\\.${left[0]}_part)?(, \\d+ file\\(s\\) of it in the datadir)? on source: left by a delivery that did not finish`));
    expect(output).toMatch(/delivered shop\.readings as shop\.readings__restored_\d{14} on source: 2000 row\(s\), by tablespace, partition by partition/);
    expect(await tablesLike(db, /__restoring_/)).toEqual([]);
    expect(readdirSync(join(source.server.datadir, "shop")).filter((f) => /__restoring_/.test(f))).toEqual([]);
    const [delivered] = await tablesLike(db, /^readings__restored_/);
    expect(await tableState(db, shop(delivered as string))).toEqual(readings);
    expect(existsSync(join(source.server.datadir, "shop", `${delivered}.cfg`))).toBe(false);
  }, 180_000);

  it("Ctrl-C: the run drops its temporary table itself before it exits", async () => {
    const stopped = await stopAfterFirstLeaf("SIGINT");
    expect(stopped.signalled, stopped.output).toBe(true);
    expect(stopped.output).toMatch(/SIGINT received/);
    const names = /importing as shop\.(readings__restoring_\d{14})/.exec(stopped.output);
    const temporary = names?.[1] as string;
    const final = temporary.replace("__restoring_", "__restored_");
    expect(await tablesLike(db, new RegExp(`^(${temporary}|${final})`))).toEqual([]);
    expect(readdirSync(join(source.server.datadir, "shop")).filter((f) => f.startsWith(temporary))).toEqual([]);
  }, 120_000);
});

describe("the target's connection is found by name", () => {
  it("source, or a name of the service's into: block; anything else is named with what there is", () => {
    expect(intoServer(service, "source")).toMatchObject({ name: "source", user: "root", socket: source.server.socket });
    expect(() => intoServer(service, "primary")).toThrow(/--into primary: service shop has no such server \(its into: block names none; `source` names its source\)/);
    const yaml = (name: string) =>
      `${serverServiceYaml("shop", source.server, store.path)}    into:\n      ${name}:\n        host: db1.example.com\n        user: restoretest_deliver\n        password: \${DELIVER_PASSWORD}\n`;
    const [withInto] = parseServices(yaml("primary"), join(store.path, "services.yaml"), { SOURCE_PASSWORD: "s", DELIVER_PASSWORD: "deliver-secret-for-tests" });
    expect(intoServer(withInto as Service, "primary")).toEqual({ name: "primary", host: "db1.example.com", port: 3306, user: "restoretest_deliver", password: "deliver-secret-for-tests" });
    // Its password is a secret like the source's: masked in whatever the tool prints.
    expect(maskSecrets("password deliver-secret-for-tests")).not.toContain("deliver-secret-for-tests");
    expect(() => parseServices(yaml("source"), join(store.path, "services.yaml"), { SOURCE_PASSWORD: "s", DELIVER_PASSWORD: "x" })).toThrow(/`source` is taken: --into source names the service's own source/);
  });
});
