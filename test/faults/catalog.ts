// The fault catalog: each fault restoretest exists to catch, how to inject it, and exactly which checks must go red.
import { cpSync, existsSync, mkdtempSync, openSync, readdirSync, readFileSync, rmSync, statSync, truncateSync, writeFileSync, writeSync, closeSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { checkOptions } from "../../src/checks/options.ts";
import type { Manifest } from "../../src/store/manifest.ts";
import type { Service } from "../../src/config/schema.ts";
import type { Db } from "../../src/db/connection.ts";
import { RestoreStepError, restoreService, type Restored } from "../../src/restore/pipeline.ts";
import { allFindings, captureRestored } from "../../src/verify/verify.ts";

/** How a fault is injected. */
export interface Injection {
  name: string;
  /** SQL run on the restored server before verification (a restore that came back different). */
  restored?: string[];
  /** Damage done to a copy of the stored backup before the restore. */
  backup?: (backupDir: string) => void;
  /** Options the restored server is started with, after the source's (a server that differs from the service). */
  serverArgs?: string[];
  /** Edit of the copy's manifest (a baseline that does not match the backup). */
  manifest?: (m: Manifest) => void;
}

/** A fault: how it is injected, and exactly what must go red (one of three expectations, each strict). */
export type Fault = Injection & (
  | {
      /** Exactly these tests go red (`db.table:check`, `db:check`, `accounts`, `server`), each message naming its object. */
      red: string[];
      /** The red findings' messages (joined) say this: what a DBA reads must name the cause. */
      message?: RegExp;
    }
  | {
      /** The restore itself fails at a step (a RestoreStepError), with a message matching this. */
      restoreFails: RegExp;
    }
  | {
      /** Where the damage's effect depends on the page hit: a step fails, or tests go red; either names `about`. */
      notGreen: true;
      about: string;
    }
);

const TABLE_CHECKS = ["checksum", "definition", "rowCount", "integrity", "indexes", "autoIncrement"];

function manifestTable(m: Manifest, table: string) {
  const t = m.databases[0]?.tables.find((x) => x.name === table);
  if (!t) throw new Error(`no table ${table} in the manifest`);
  return t;
}

/** Overwrite bytes in the middle of a data page of one tablespace (`.new` when created during the backup). */
function flipBytes(tablespace: string, page: number): void {
  const path = existsSync(`${tablespace}.ibd`) ? `${tablespace}.ibd` : `${tablespace}.new`;
  const fd = openSync(path, "r+");
  try {
    writeSync(fd, Buffer.alloc(64, 0xa5), 0, 64, page * 16384 + 4000);
  } finally {
    closeSync(fd);
  }
}

/** The files of one table or view in a copy's datadir (`.frm`, `.ibd`, `#P#` partitions, `.MYD`, `.MAD`, …). */
function tableFiles(dir: string, database: string, table: string): string[] {
  const data = join(dir, "data", database);
  return readdirSync(data)
    .filter((f) => f === `${table}.frm` || f.startsWith(`${table}.`) || f.startsWith(`${table}#P#`))
    .map((f) => join(data, f));
}

/** The file that holds one table's rows: the data file, or the first partition's. */
function dataFile(dir: string, database: string, table: string): string {
  const files = tableFiles(dir, database, table).filter((f) => /\.(ibd|new|MYD|MAD)$/.test(f));
  const file = files.sort()[0];
  if (!file) throw new Error(`no data file of ${database}.${table} in ${dir}`);
  return file;
}

/**
 * Overwrite 64 bytes where one table's data is: an InnoDB tablespace's first index page (page 3, the clustered index's
 * root, which holds a small table's rows), a view's query text, else the middle of the data file.
 */
function damage(path: string): void {
  const size = statSync(path).size;
  let offset = Math.max(0, Math.floor(size / 2) - 32);
  if (/\.(ibd|new)$/.test(path)) offset = 3 * 16384 + 4000;
  if (path.endsWith(".frm") && readFileSync(path, "latin1").startsWith("TYPE=VIEW")) offset = readFileSync(path, "latin1").indexOf("query=") + 20;
  const fd = openSync(path, "r+");
  try {
    writeSync(fd, Buffer.alloc(64, 0xa5), 0, 64, offset);
  } finally {
    closeSync(fd);
  }
}

/**
 * One object of every kind the test seed's catalog reports (information_schema.TABLES TABLE_TYPE, engine, partitioning):
 * for each, its data file removed from the backup and damaged in it must not verify green, and a test must name it.
 * test/faults/catalog.test.ts proves that every kind the seed's manifest holds is listed here.
 */
export const KIND_SAMPLES: { kind: string; table: string; dataFile: (dir: string) => string }[] = [
  { kind: "BASE TABLE InnoDB", table: "order_tags", dataFile: (dir) => dataFile(dir, "shop", "order_tags") },
  { kind: "BASE TABLE MyISAM", table: "audit", dataFile: (dir) => dataFile(dir, "shop", "audit") },
  { kind: "BASE TABLE Aria", table: "notes", dataFile: (dir) => dataFile(dir, "shop", "notes") },
  { kind: "BASE TABLE InnoDB partitioned", table: "events_log", dataFile: (dir) => dataFile(dir, "shop", "events_log") },
  { kind: "SYSTEM VERSIONED InnoDB", table: "prices", dataFile: (dir) => dataFile(dir, "shop", "prices") },
  { kind: "SEQUENCE InnoDB", table: "invoice_seq", dataFile: (dir) => dataFile(dir, "shop", "invoice_seq") },
  { kind: "VIEW", table: "big_customers", dataFile: (dir) => join(dir, "data", "shop", "big_customers.frm") },
];

/** A grant table's files removed from the backup (the privilege system then does not load: the start step names it). */
function grantTableMissing(table: string, red: string[]): Fault {
  return { name: `grant table mysql.${table} missing from the backup`, backup: (dir) => tableFiles(dir, "mysql", table).forEach((f) => rmSync(f)), red };
}

export const FAULTS: Fault[] = [
  { name: "row changed", restored: ["UPDATE shop.customers SET name = 'changed' WHERE id = 5"], red: ["shop.customers:checksum"] },
  { name: "row deleted", restored: ["DELETE FROM shop.audit WHERE id = 7"], red: ["shop.audit:checksum", "shop.audit:rowCount"] },
  {
    name: "row inserted",
    restored: ["INSERT INTO shop.empty_table VALUES (1)"],
    red: ["shop.empty_table:checksum", "shop.empty_table:rowCount"],
  },
  { name: "NULL changed to empty string", restored: ["UPDATE shop.customers SET email = '' WHERE id = 7"], red: ["shop.customers:checksum"] },
  {
    name: "table missing from the restore",
    restored: ["DROP TABLE shop.empty_table"],
    red: ["shop:tables", ...TABLE_CHECKS.map((c) => `shop.empty_table:${c}`)],
  },
  { name: "extra table", restored: ["CREATE TABLE shop.stray (id INT PRIMARY KEY)"], red: ["shop:tables"] },
  { name: "column type changed", restored: ["ALTER TABLE shop.customers MODIFY balance DECIMAL(14,2) NOT NULL DEFAULT 0"], red: ["shop.customers:definition", "shop.customers:checksum"] },
  {
    name: "column charset changed",
    restored: ["ALTER TABLE shop.orders MODIFY note TEXT CHARACTER SET latin1 NULL"],
    red: ["shop.orders:definition"],
  },
  { name: "database charset changed", restored: ["ALTER DATABASE shop CHARACTER SET latin1 COLLATE latin1_swedish_ci"], red: ["shop:database"] },
  { name: "secondary index dropped", restored: ["ALTER TABLE shop.customers DROP INDEX idx_email"], red: ["shop.customers:definition", "shop.customers:indexes"] },
  { name: "index added", restored: ["ALTER TABLE shop.audit ADD INDEX idx_what (what)"], red: ["shop.audit:definition", "shop.audit:indexes"] },
  {
    name: "view changed",
    restored: ["CREATE OR REPLACE VIEW shop.big_customers AS SELECT id, name FROM shop.customers WHERE balance > 200"],
    red: ["shop:views"],
  },
  { name: "view missing", restored: ["DROP VIEW shop.big_customers"], red: ["shop:views", "shop:tables"] },
  {
    name: "trigger changed",
    restored: [
      "DROP TRIGGER shop.orders_audit",
      "CREATE TRIGGER shop.orders_audit AFTER INSERT ON shop.orders FOR EACH ROW INSERT INTO shop.audit (id, what) VALUES (NEW.id, 'x')",
    ],
    red: ["shop:triggers"],
  },
  { name: "trigger missing", restored: ["DROP TRIGGER shop.orders_audit"], red: ["shop:triggers"] },
  // Routines are rows of mysql.proc, whose data the system schema's checks compare too.
  { name: "routine missing", restored: ["DROP PROCEDURE shop.customer_orders"], red: ["shop:routines", "mysql.proc:checksum", "mysql.proc:rowCount", "accounts"], message: /'shop_app'@'%': grant row mysql\.procs_priv Db=shop Routine_name=customer_orders Routine_type=PROCEDURE missing from the restore/ },
  {
    name: "routine changed",
    restored: ["DROP FUNCTION shop.order_count", "CREATE FUNCTION shop.order_count(cid INT UNSIGNED) RETURNS INT DETERMINISTIC RETURN 0"],
    red: ["shop:routines", "mysql.proc:checksum"],
  },
  // DROP EVENT refuses while the scheduler is disabled (as on a restored server): remove its row as a lost restore would.
  { name: "event missing", restored: ["DELETE FROM mysql.event WHERE db = 'shop' AND name = 'purge_audit'"], red: ["shop:events"] },
  {
    name: "AUTO_INCREMENT counter behind the data",
    // The baseline's data reached a higher id than the restored counter: new inserts would reuse ids.
    manifest: (m) => {
      const value = manifestTable(m, "customers").checks.autoIncrement as { maxValue: number };
      value.maxValue += 1000;
    },
    red: ["shop.customers:autoIncrement"],
  },
  {
    name: "bytes flipped in a data page of the backup",
    backup: (dir) => flipBytes(join(dir, "data", "shop", "customers"), 3),
    notGreen: true,
    about: "customers",
  },
  {
    name: "bytes flipped in a MyISAM data file of the backup",
    backup: (dir) => {
      const fd = openSync(join(dir, "data", "shop", "audit.MYD"), "r+");
      writeSync(fd, Buffer.from("XXXX"), 0, 4, 1000);
      closeSync(fd);
    },
    notGreen: true,
    about: "audit",
  },
  // The restored server must be the service: its accounts, its privilege tables, its settings, its system schema.
  {
    name: "account table mysql.global_priv missing from the backup",
    backup: (dir) => tableFiles(dir, "mysql", "global_priv").forEach((f) => rmSync(f)),
    restoreFails: /failed at step "start"[\s\S]*privilege tables do not load[\s\S]*mysql\.global_priv is missing or unreadable/,
  },
  {
    name: "account table mysql.global_priv damaged in the backup",
    backup: (dir) => damage(join(dir, "data", "mysql", "global_priv.MAD")),
    // mariadb-backup's Aria recovery fails on it, without naming it: aria_chk names it in the message.
    restoreFails: /failed at step "prepare"[\s\S]*Aria recovery failed[\s\S]*aria_chk on the backup's copy[^\n]*: mysql\.global_priv\b/,
  },
  {
    name: "grant table mysql.db missing from the backup",
    backup: (dir) => tableFiles(dir, "mysql", "db").forEach((f) => rmSync(f)),
    restoreFails: /failed at step "start"[\s\S]*privilege tables do not load[\s\S]*Table 'mysql\.db' doesn't exist/,
  },
  {
    name: "grant table mysql.tables_priv missing from the backup",
    backup: (dir) => tableFiles(dir, "mysql", "tables_priv").forEach((f) => rmSync(f)),
    restoreFails: /failed at step "start"[\s\S]*privilege tables do not load[\s\S]*Table 'mysql\.tables_priv' doesn't exist/,
  },
  ...(["roles_mapping", "proxies_priv", "procs_priv"] as const).map((t) =>
    grantTableMissing(t, ["mysql:tables", `mysql.${t}:definition`, `mysql.${t}:integrity`, "accounts"]),
  ),
  {
    name: "grant table mysql.tables_priv's data file truncated in the backup",
    backup: (dir) => truncateSync(join(dir, "data", "mysql", "tables_priv.MAD"), 0),
    restoreFails: /failed at step "prepare"[\s\S]*aria_chk on the backup's copy[^\n]*: mysql\.tables_priv\b/,
  },
  {
    name: "grant table mysql.tables_priv emptied",
    restored: ["DELETE FROM mysql.tables_priv"],
    red: ["accounts"],
    message: /'shop_app'@'%': grant row mysql\.tables_priv Db=shop Table_name=orders missing from the restore/,
  },
  { name: "user dropped", restored: ["DROP USER 'shop_old'@'localhost'"], red: ["accounts"], message: /'shop_old'@'localhost' \(user\) is missing from the restore/ },
  {
    name: "grant changed",
    restored: ["REVOKE DELETE ON shop.orders FROM 'shop_app'@'%'"],
    red: ["accounts"],
    message: /'shop_app'@'%': mysql\.tables_priv Db=shop Table_name=orders Table_priv: Insert,Update,Delete → Insert,Update/,
  },
  { name: "global privilege lost", restored: ["REVOKE PROCESS ON *.* FROM 'shop_app'@'%'"], red: ["accounts"], message: /global privileges changed: lost PROCESS/ },
  { name: "role grant lost", restored: ["DELETE FROM mysql.roles_mapping WHERE User = 'shop_app'"], red: ["accounts"], message: /grant row mysql\.roles_mapping Role=shop_reader missing from the restore/ },
  { name: "password changed", restored: ["ALTER USER 'shop_report'@'localhost' IDENTIFIED BY 'another'"], red: ["accounts"], message: /'shop_report'@'localhost': authentication changed: the password differs/ },
  { name: "account unlocked", restored: ["ALTER USER 'shop_old'@'localhost' ACCOUNT UNLOCK"], red: ["accounts"], message: /'shop_old'@'localhost': mysql\.global_priv Priv\.account_locked: true → false/ },
  { name: "extra account", restored: ["CREATE USER 'intruder'@'%'"], red: ["accounts"], message: /'intruder'@'%' \(user\) is not in the baseline/ },
  {
    name: "time zone table emptied",
    restored: ["DELETE FROM mysql.time_zone_name"],
    red: ["server", "mysql.time_zone_name:checksum", "mysql.time_zone_name:rowCount"],
    message: /time_zone_tables_loaded is "no", the source's is "yes"/,
  },
  {
    name: "restored server started with another sql_mode",
    serverArgs: ["--sql-mode=STRICT_ALL_TABLES"],
    red: ["server"],
    message: /sql_mode is "STRICT_ALL_TABLES", the source's is "STRICT_TRANS_TABLES,[^"]*" \(a startup option/,
  },
  {
    name: "restored server started with another lower_case_table_names",
    serverArgs: ["--lower-case-table-names=1"],
    // The sys schema's views read the catalog by name: their definitions change with it.
    red: ["server", "sys:views"],
    message: /lower_case_table_names is "1", the source's is "0"/,
  },
  // Every kind of object: rows lost in it go red for it.
  { name: "history rows of a system-versioned table lost", restored: ["DELETE HISTORY FROM shop.prices"], red: ["shop.prices:checksum", "shop.prices:rowCount"] },
  { name: "sequence state lost", restored: ["ALTER SEQUENCE shop.invoice_seq RESTART WITH 1"], red: ["shop.invoice_seq:checksum"] },
  { name: "partition's rows lost", restored: ["ALTER TABLE shop.events_log TRUNCATE PARTITION p1"], red: ["shop.events_log:checksum", "shop.events_log:rowCount"] },
  { name: "Aria table's rows lost", restored: ["DELETE FROM shop.notes WHERE id > 150"], red: ["shop.notes:checksum", "shop.notes:rowCount"] },
  ...KIND_SAMPLES.flatMap((k): Fault[] => [
    { name: `${k.kind}: data file removed from the backup (${k.table})`, backup: (dir) => rmSync(k.dataFile(dir)), notGreen: true, about: k.table },
    { name: `${k.kind}: data file damaged in the backup (${k.table})`, backup: (dir) => damage(k.dataFile(dir)), notGreen: true, about: k.table },
  ]),
  {
    name: "truncated redo log in the backup",
    backup: (dir) => truncateSync(join(dir, "data", "ib_logfile0"), 1000),
    // The program's path where the service names a toolchain (MariaDB 11.8's, test/mariadb118/).
    restoreFails: /failed at step "prepare"[\s\S]*command: (?:\S*\/)?mariadb-backup --prepare[\s\S]*exit code: \d+[\s\S]*ib_logfile0 is too small/,
  },
  {
    name: "baseline taken at a different position than the restore reaches",
    manifest: (m) => {
      if (!m.position) throw new Error("manifest has no position");
      m.position = { ...m.position, position: 4 };
    },
    restoreFails: /failed at step "locate"[\s\S]*positions do not match: the baseline describes mysql-bin\.\d+:4, before the backup's/,
  },
];

export interface FaultResult {
  restoreError?: string;
  /** Red findings: `db.table:check` or `db:check` → message. */
  red: Map<string, string>;
}

/**
 * A failure of restoretest itself rather than a fault it caught: a TypeError, ReferenceError, RangeError or SyntaxError
 * anywhere in the error's chain of causes (a restore step wraps whatever it threw in a RestoreStepError).
 */
export function isProgrammingError(error: unknown): boolean {
  for (let e: unknown = error, depth = 0; e instanceof Error && depth < 10; e = e.cause, depth++) {
    if (e instanceof TypeError || e instanceof ReferenceError || e instanceof RangeError || e instanceof SyntaxError) return true;
  }
  return false;
}

/** Copy the backup into a store of its own, damage it, restore, inject, verify: the red findings. */
export async function runFault(service: Service, backupDir: string, fault: Injection | undefined): Promise<FaultResult> {
  const store = mkdtempSync(join(tmpdir(), "restoretest-fault-"));
  try {
    const copy = join(store, service.name, "copy");
    cpSync(backupDir, copy, { recursive: true });
    fault?.backup?.(copy);
    if (fault?.manifest) {
      const path = join(copy, "manifest.json");
      const m = JSON.parse(readFileSync(path, "utf8")) as Manifest;
      fault.manifest(m);
      writeFileSync(path, JSON.stringify(m));
    }
    const isolated: Service = { ...service, backup: { ...service.backup, store } };
    let restored;
    try {
      restored = await restoreService(isolated, { serverArgs: fault?.serverArgs });
    } catch (error) {
      // Only a step's failure is the restore going red: anything else, or a bug inside a step, fails the catalog.
      if (!(error instanceof RestoreStepError) || isProgrammingError(error)) throw error;
      return { restoreError: error.message, red: new Map() };
    }
    try {
      if (fault?.restored) await inject(restored.db, fault.restored);
      return { red: await redFindings(restored, isolated) };
    } finally {
      await restored.destroy();
    }
  } finally {
    rmSync(store, { recursive: true, force: true });
  }
}

async function inject(db: Db, statements: string[]): Promise<void> {
  const session = await db.session();
  try {
    await session.query("SET SESSION foreign_key_checks = 0");
    for (const sql of statements) await session.query(sql);
  } finally {
    session.release();
  }
}

/** Every red finding of a verification, keyed as the catalog writes them (`check`, `db:check`, `db.table:check`). */
export async function redFindings(restored: Restored, service: Service): Promise<Map<string, string>> {
  const v = await captureRestored(restored.db, restored.manifest, service.verify.checks, checkOptions(service), service.verify.concurrency, restored.serverContext);
  return new Map(allFindings(v).flatMap(({ key, finding }) => (finding.ok ? [] : [[key, finding.message] as const])));
}

/** Why the verifier did not catch the fault as the catalog says it must; undefined when it did. */
export function missed(fault: Fault, result: FaultResult): string | undefined {
  const outcome = result.restoreError ? `the restore failed: ${result.restoreError.split("\n")[0]}` : `red: ${[...result.red.keys()].sort().join(", ") || "none (all green)"}`;
  if ("restoreFails" in fault) {
    return result.restoreError !== undefined && fault.restoreFails.test(result.restoreError) ? undefined : `expected the restore to fail matching ${fault.restoreFails}; ${outcome}`;
  }
  if ("notGreen" in fault) {
    if (result.restoreError === undefined && result.red.size === 0) return "a damaged backup verified green";
    return namesObject(result, fault.about) ? undefined : `nothing names ${fault.about}; ${outcome}`;
  }
  if (result.restoreError) return `expected red ${[...fault.red].sort().join(", ")}; ${outcome}`;
  if (JSON.stringify([...result.red.keys()].sort()) !== JSON.stringify([...fault.red].sort())) return `expected red ${[...fault.red].sort().join(", ")}; ${outcome}`;
  // Every message names the table, database or server-wide test it is about.
  for (const [key, message] of result.red) {
    const object = key.split(":")[0]?.split(".").at(-1) ?? key;
    if (!message.includes(object)) return `the message of ${key} does not name ${object}: ${message.split("\n")[0]}`;
  }
  if (fault.message && !fault.message.test([...result.red.values()].join("\n"))) return `no red message matches ${fault.message}`;
  return undefined;
}

/** The restore error, or a red test (by its key or message), names `object`. */
export function namesObject(result: FaultResult, object: string): boolean {
  if (result.restoreError) return result.restoreError.includes(object);
  return [...result.red].some(([key, message]) => key.includes(object) || message.includes(object));
}
