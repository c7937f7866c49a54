// The fault catalog on MySQL 9.7: each fault that applies to a MySQL service (a clone of the MySQL seed), how it is
// injected, and exactly which checks must go red. Kinds MySQL does not have (Aria, system-versioned tables, sequences,
// MariaDB's mysql.global_priv and mysql.proc) are MariaDB's catalog's; MySQL adds its own (JSON, functional indexes,
// CHECK constraints, invisible columns, dynamic privileges, default roles, the data dictionary in mysql.ibd).
import { closeSync, openSync, readdirSync, rmSync, writeSync } from "node:fs";
import { join } from "node:path";
import type { Manifest } from "../../src/store/manifest.ts";
import type { Fault } from "../faults/catalog.ts";

const TABLE_CHECKS = ["checksum", "definition", "rowCount", "integrity", "indexes", "autoIncrement"];

/** Overwrite 64 bytes of one page of a file of the copy's datadir. */
function flip(path: string, page: number): void {
  const fd = openSync(path, "r+");
  try {
    writeSync(fd, Buffer.alloc(64, 0xa5), 0, 64, page * 16384 + 4000);
  } finally {
    closeSync(fd);
  }
}

const data = (dir: string, ...parts: string[]) => join(dir, "data", ...parts);
/** The first partition's tablespace of a partitioned table (`events_log#p#p0.ibd`). */
const firstPartition = (dir: string, table: string) => {
  const file = readdirSync(data(dir, "shop")).filter((f) => f.startsWith(`${table}#p#`)).sort()[0];
  if (!file) throw new Error(`no partition file of shop.${table}`);
  return data(dir, "shop", file);
};

export const MYSQL_FAULTS: Fault[] = [
  { name: "row changed", restored: ["UPDATE shop.customers SET name = 'changed' WHERE id = 5"], red: ["shop.customers:checksum"] },
  { name: "row deleted", restored: ["DELETE FROM shop.audit WHERE id = 7"], red: ["shop.audit:checksum", "shop.audit:rowCount"] },
  { name: "row inserted", restored: ["INSERT INTO shop.empty_table VALUES (1)"], red: ["shop.empty_table:checksum", "shop.empty_table:rowCount"] },
  { name: "NULL changed to empty string", restored: ["UPDATE shop.customers SET email = '' WHERE id = 7"], red: ["shop.customers:checksum"] },
  { name: "JSON value changed", restored: ["UPDATE shop.customers SET profile = JSON_SET(profile, '$.since', 1999) WHERE id = 1"], red: ["shop.customers:checksum"] },
  { name: "invisible column's value changed", restored: ["UPDATE shop.orders SET internal_ref = 'X' WHERE id = 3"], red: ["shop.orders:checksum"] },
  { name: "table missing from the restore", restored: ["DROP TABLE shop.empty_table"], red: ["shop:tables", ...TABLE_CHECKS.map((c) => `shop.empty_table:${c}`)] },
  { name: "extra table", restored: ["CREATE TABLE shop.stray (id INT PRIMARY KEY)"], red: ["shop:tables"] },
  { name: "column type changed", restored: ["ALTER TABLE shop.customers MODIFY balance DECIMAL(14,2) NOT NULL DEFAULT 0"], red: ["shop.customers:definition", "shop.customers:checksum"] },
  { name: "column charset changed", restored: ["ALTER TABLE shop.orders MODIFY note TEXT CHARACTER SET latin1 NULL"], red: ["shop.orders:definition"] },
  { name: "database charset changed", restored: ["ALTER DATABASE shop CHARACTER SET latin1 COLLATE latin1_swedish_ci"], red: ["shop:database"] },
  { name: "secondary index dropped", restored: ["ALTER TABLE shop.customers DROP INDEX idx_email"], red: ["shop.customers:definition", "shop.customers:indexes"] },
  // A functional index is a hidden generated column too: its loss changes CHECKSUM TABLE as well.
  { name: "functional index dropped", restored: ["ALTER TABLE shop.customers DROP INDEX idx_tier"], red: ["shop.customers:definition", "shop.customers:indexes", "shop.customers:checksum"] },
  { name: "CHECK constraint dropped", restored: ["ALTER TABLE shop.customers DROP CHECK chk_balance"], red: ["shop.customers:definition"] },
  { name: "view changed", restored: ["CREATE OR REPLACE VIEW shop.big_customers AS SELECT id, name FROM shop.customers WHERE balance > 200"], red: ["shop:views"] },
  { name: "view missing", restored: ["DROP VIEW shop.big_customers"], red: ["shop:views", "shop:tables"] },
  {
    name: "trigger changed",
    restored: ["DROP TRIGGER shop.orders_audit", "CREATE TRIGGER shop.orders_audit AFTER INSERT ON shop.orders FOR EACH ROW INSERT INTO shop.audit (id, what) VALUES (NEW.id, 'x')"],
    red: ["shop:triggers"],
  },
  { name: "trigger missing", restored: ["DROP TRIGGER shop.orders_audit"], red: ["shop:triggers"] },
  { name: "routine missing", restored: ["DROP PROCEDURE shop.customer_orders"], red: ["shop:routines", "accounts"], message: /'shop_app'@'%': grant row mysql\.procs_priv .*customer_orders.* missing from the restore/ },
  {
    name: "routine changed",
    restored: ["DROP FUNCTION shop.order_count", "CREATE FUNCTION shop.order_count(cid INT UNSIGNED) RETURNS INT DETERMINISTIC RETURN 0"],
    red: ["shop:routines"],
  },
  { name: "event missing", restored: ["DROP EVENT shop.purge_audit"], red: ["shop:events"] },
  {
    name: "AUTO_INCREMENT counter behind the data",
    manifest: (m: Manifest) => {
      const t = m.databases.find((d) => d.name === "shop")?.tables.find((x) => x.name === "customers");
      if (!t) throw new Error("no shop.customers in the manifest");
      (t.checks.autoIncrement as { maxValue: number }).maxValue += 1000;
    },
    red: ["shop.customers:autoIncrement"],
  },
  { name: "partition's rows lost", restored: ["ALTER TABLE shop.events_log TRUNCATE PARTITION p1"], red: ["shop.events_log:checksum", "shop.events_log:rowCount"] },
  // The restored server must be the service: its accounts, its settings, its system schema.
  { name: "user dropped", restored: ["DROP USER 'shop_old'@'localhost'"], red: ["accounts"], message: /'shop_old'@'localhost' \(user\) is missing from the restore/ },
  { name: "grant changed", restored: ["REVOKE DELETE ON shop.orders FROM 'shop_app'@'%'"], red: ["accounts"], message: /'shop_app'@'%': mysql\.tables_priv .*Table_priv: Insert,Update,Delete → Insert,Update/ },
  { name: "global privilege lost", restored: ["REVOKE PROCESS ON *.* FROM 'shop_app'@'%'"], red: ["accounts"], message: /'shop_app'@'%'.*Process_priv: Y → N/ },
  { name: "dynamic privilege lost", restored: ["REVOKE REPLICATION_SLAVE_ADMIN ON *.* FROM 'shop_app'@'%'"], red: ["accounts"], message: /mysql\.global_grants .*REPLICATION_SLAVE_ADMIN.* missing from the restore/ },
  { name: "role grant lost", restored: ["REVOKE shop_reader FROM 'shop_app'@'%'"], red: ["accounts"], message: /mysql\.role_edges .*shop_reader.* missing from the restore/ },
  { name: "default role lost", restored: ["SET DEFAULT ROLE NONE TO 'shop_app'@'%'"], red: ["accounts"], message: /mysql\.default_roles .*shop_reader.* missing from the restore/ },
  { name: "password changed", restored: ["ALTER USER 'shop_report'@'localhost' IDENTIFIED BY 'another'"], red: ["accounts"], message: /'shop_report'@'localhost': authentication changed: the password differs/ },
  { name: "account unlocked", restored: ["ALTER USER 'shop_old'@'localhost' ACCOUNT UNLOCK"], red: ["accounts"], message: /'shop_old'@'localhost': mysql\.user account_locked: Y → N/ },
  { name: "extra account", restored: ["CREATE USER 'intruder'@'%'"], red: ["accounts"], message: /'intruder'@'%' \(user\) is not in the baseline/ },
  {
    name: "time zone table emptied",
    restored: ["DELETE FROM mysql.time_zone_name"],
    red: ["server", "mysql.time_zone_name:checksum", "mysql.time_zone_name:rowCount"],
    message: /time_zone_tables_loaded is "no", the source's is "yes"/,
  },
  { name: "restored server started with another sql_mode", serverArgs: ["--sql-mode=STRICT_ALL_TABLES"], red: ["server"], message: /sql_mode is "STRICT_ALL_TABLES", the source's is "[^"]*STRICT_TRANS_TABLES/ },
  // MySQL keeps lower_case_table_names in its data dictionary: a server started with another value refuses to start.
  { name: "restored server started with another lower_case_table_names", serverArgs: ["--lower-case-table-names=1"], restoreFails: /failed at step "start"[\s\S]*lower_case_table_names/ },
  // Damage to the stored copy: its data files, and mysql.ibd (the data dictionary and every grant table).
  { name: "bytes flipped in a data page of the backup", backup: (dir) => flip(data(dir, "shop", "customers.ibd"), 4), notGreen: true, about: "customers" },
  { name: "InnoDB table: data file removed from the backup (order_tags)", backup: (dir) => rmSync(data(dir, "shop", "order_tags.ibd")), notGreen: true, about: "order_tags" },
  { name: "InnoDB table: data file damaged in the backup (order_tags)", backup: (dir) => flip(data(dir, "shop", "order_tags.ibd"), 4), notGreen: true, about: "order_tags" },
  { name: "partitioned table: a partition's file removed from the backup (events_log)", backup: (dir) => rmSync(firstPartition(dir, "events_log")), notGreen: true, about: "events_log" },
  { name: "partitioned table: a partition's file damaged in the backup (events_log)", backup: (dir) => flip(firstPartition(dir, "events_log"), 4), notGreen: true, about: "events_log" },
  { name: "data dictionary mysql.ibd removed from the backup", backup: (dir) => rmSync(data(dir, "mysql.ibd")), restoreFails: /failed at step "start"/ },
  { name: "redo log removed from the backup", backup: (dir) => rmSync(data(dir, "#innodb_redo"), { recursive: true }), notGreen: true, about: "redo" },
  {
    name: "baseline taken at a different position than the restore reaches",
    manifest: (m: Manifest) => {
      if (!m.position) throw new Error("manifest has no position");
      m.position = { ...m.position, position: 4 };
    },
    restoreFails: /failed at step "locate"[\s\S]*positions do not match/,
  },
];
