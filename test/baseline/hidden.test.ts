// A source user that cannot see every object: information_schema hides what it has no privilege on, so the datadir's
// files are compared with what the catalog showed, and a baseline that would leave objects unchecked is refused.
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runBackupJob } from "../../src/backup/job.ts";
import { parseServices } from "../../src/config/load.ts";
import { hiddenObjects, objectFiles } from "../../src/baseline/hidden.ts";
import { applySeed, startSourceSandbox, type SeededSource } from "../../src/hosts/sourceSandbox.ts";
import { SMALL_SEED, sandboxServers, testStore } from "../support/services.ts";

describe("hiddenObjects", () => {
  it("names the tables, views and triggers the datadir holds that the catalog did not show", () => {
    const onDisk = [{ database: "shop", tables: ["audit", "customers", "orders"], triggers: ["orders_audit"] }];
    expect(hiddenObjects(onDisk, [{ database: "shop", tables: ["audit", "customers", "orders"], triggers: ["orders_audit"] }])).toBeUndefined();
    expect(hiddenObjects(onDisk, [{ database: "shop", tables: ["customers"], triggers: [] }])).toEqual([
      "table or view shop.audit",
      "table or view shop.orders",
      "trigger shop.orders_audit",
    ]);
    // Triggers not captured: not compared; a database not captured: not compared.
    expect(hiddenObjects(onDisk, [{ database: "shop", tables: ["audit", "customers", "orders"] }])).toBeUndefined();
    expect(hiddenObjects(onDisk, [{ database: "blog", tables: [] }])).toBeUndefined();
  });
});

describe("objectFiles", () => {
  it("reads MariaDB's .frm and .TRN files, and MySQL's tablespaces and MyISAM data files where there is no .frm", () => {
    expect(objectFiles(["db.opt", "orders.frm", "orders.ibd", "big.frm", "orders_audit.TRN", "orders.TRG"])).toEqual({ tables: ["big", "orders"], triggers: ["orders_audit"] });
    // MySQL 9.7: a partitioned table's tablespaces, a MyISAM table (its .sdi named with an id), no file for views.
    // A FULLTEXT index's auxiliary tablespaces are InnoDB's own: not objects of the catalog.
    const fts = ["fts_0000000000000429_00000000000000a8_index_1.ibd", "fts_0000000000000429_being_deleted.ibd", "fts_0000000000000429_config.ibd"];
    expect(objectFiles(["customers.ibd", "events_log#p#p0.ibd", "events_log#p#p1.ibd", "legacy.MYD", "legacy.MYI", "legacy_395.sdi", ...fts])).toEqual({
      tables: ["customers", "events_log", "legacy"],
      triggers: [],
    });
  });
});

describe("a source user that sees only part of a database", () => {
  const store = testStore();
  let source: SeededSource;
  const password = "narrow-password-for-tests";

  beforeAll(async () => {
    source = await startSourceSandbox("hidden");
    await applySeed(source, SMALL_SEED, "shop");
    const db = await source.server.connect();
    try {
      await db.query("SET SESSION sql_log_bin = 0");
      // A name the datadir holds encoded (`order@002ditems`): named decoded in the message.
      await db.query("CREATE TABLE shop.`order-items` (id INT PRIMARY KEY) ENGINE=InnoDB");
      await db.query("CREATE USER 'narrow'@'localhost' IDENTIFIED BY ?", [password]);
      await db.query("GRANT RELOAD, PROCESS, LOCK TABLES, BINLOG MONITOR, REPLICATION SLAVE ON *.* TO 'narrow'@'localhost'");
      await db.query("GRANT SELECT, SHOW VIEW ON mysql.* TO 'narrow'@'localhost'");
      await db.query("GRANT SELECT, SHOW VIEW ON sys.* TO 'narrow'@'localhost'");
      // Everything of shop but the orders and order-items tables and the orders trigger.
      for (const t of ["customers", "audit", "empty_table", "order_tags", "notes", "events_log", "prices", "invoice_seq", "big_customers"]) {
        await db.query(`GRANT SELECT, SHOW VIEW, TRIGGER ON shop.${t} TO 'narrow'@'localhost'`);
      }
    } finally {
      await db.close();
    }
  }, 120_000);

  afterAll(async () => {
    await source?.destroy();
    store.remove();
    expect(await sandboxServers()).toEqual([]);
  });

  it("refuses the baseline, naming what it cannot see and the grants that fix it", async () => {
    const file = join(store.path, "services.yaml");
    const yaml = [
      "services:",
      "  shop:",
      "    source:",
      `      socket: ${source.server.socket}`,
      "      user: narrow",
      "      password: ${NARROW_PASSWORD}",
      `      datadir: ${source.server.datadir}`,
      "    databases: [shop]",
      "    backup:",
      `      store: ${join(store.path, "store")}`,
      "      consistency: quiescent",
      "",
    ].join("\n");
    writeFileSync(file, yaml);
    const [service] = parseServices(yaml, file, { NARROW_PASSWORD: password });
    const error = await runBackupJob(service!).catch((e: unknown) => e as Error);
    expect(error).toBeInstanceOf(Error);
    expect((error as Error).message).toBe(
      [
        "the source's datadir holds objects its catalog does not show narrow@localhost, so the baseline would leave them unchecked:",
        "  table or view shop.order-items",
        "  table or view shop.orders",
        "  trigger shop.orders_audit",
        "information_schema lists only what a user has privileges on: grant the source user SELECT, SHOW VIEW and TRIGGER on each verified database (docs/config.md, the source user)",
      ].join("\n"),
    );
  });
});
