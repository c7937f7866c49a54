// The fault catalog: each fault restoretest exists to catch, how to inject it, and exactly which checks must go red.
import { cpSync, existsSync, mkdtempSync, openSync, readFileSync, rmSync, truncateSync, writeFileSync, writeSync, closeSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { checkOptions } from "../../src/backup/job.ts";
import type { Manifest } from "../../src/baseline/manifest.ts";
import { check } from "../../src/checks/index.ts";
import type { Service } from "../../src/config/schema.ts";
import type { Db } from "../../src/db/connection.ts";
import { restoreService } from "../../src/restore/pipeline.ts";
import { captureRestored, databaseFinding, tableFinding } from "../../src/verify/verify.ts";

export interface Fault {
  name: string;
  /** SQL run on the restored server before verification (a restore that came back different). */
  restored?: string[];
  /** Damage done to a copy of the stored backup before the restore. */
  backup?: (backupDir: string) => void;
  /** Edit of the copy's manifest (a baseline that does not match the backup). */
  manifest?: (m: Manifest) => void;
  /** Exactly these tests go red: `db.table:check` or `db:check`. */
  red?: string[];
  /** Or the restore itself fails, with a message matching this. */
  restoreFails?: RegExp;
  /** Or, where the damage's effect depends on the page hit: anything but all-green (restore failure or red checks). */
  notGreen?: true;
}

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
  { name: "routine missing", restored: ["DROP PROCEDURE shop.customer_orders"], red: ["shop:routines"] },
  {
    name: "routine changed",
    restored: ["DROP FUNCTION shop.order_count", "CREATE FUNCTION shop.order_count(cid INT UNSIGNED) RETURNS INT DETERMINISTIC RETURN 0"],
    red: ["shop:routines"],
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
  },
  {
    name: "bytes flipped in a MyISAM data file of the backup",
    backup: (dir) => {
      const fd = openSync(join(dir, "data", "shop", "audit.MYD"), "r+");
      writeSync(fd, Buffer.from("XXXX"), 0, 4, 1000);
      closeSync(fd);
    },
    notGreen: true,
  },
  {
    name: "truncated redo log in the backup",
    backup: (dir) => truncateSync(join(dir, "data", "ib_logfile0"), 1000),
    restoreFails: /failed at step "prepare"[\s\S]*command: mariadb-backup --prepare[\s\S]*exit code: \d+[\s\S]*ib_logfile0 is too small/,
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

/** Copy the backup into a store of its own, damage it, restore, inject, verify: the red findings. */
export async function runFault(service: Service, backupDir: string, fault: Fault | undefined): Promise<FaultResult> {
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
      restored = await restoreService(isolated);
    } catch (error) {
      return { restoreError: (error as Error).message, red: new Map() };
    }
    try {
      if (fault?.restored) await inject(restored.db, fault.restored);
      return { red: await redFindings(restored.db, restored.manifest, isolated) };
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

/** Every red finding of a verification, keyed as the catalog writes them. */
export async function redFindings(db: Db, manifest: Manifest, service: Service): Promise<Map<string, string>> {
  const v = await captureRestored(db, manifest, service.verify.checks, checkOptions(service), service.verify.concurrency);
  const red = new Map<string, string>();
  for (const d of manifest.databases) {
    for (const name of service.verify.checks.filter((c) => check(c).scope === "database")) {
      const f = databaseFinding(v, d.name, name);
      if (!f.ok) red.set(`${d.name}:${name}`, f.message);
    }
    for (const t of d.tables.filter((x) => x.type === "BASE TABLE")) {
      for (const name of service.verify.checks.filter((c) => check(c).scope === "table")) {
        const f = tableFinding(v, { database: d.name, table: t.name }, name);
        if (!f.ok) red.set(`${d.name}.${t.name}:${name}`, f.message);
      }
    }
  }
  return red;
}

/** Did the verifier catch the fault as the catalog says it must? */
export function caught(fault: Fault, result: FaultResult): boolean {
  if (fault.restoreFails) return result.restoreError !== undefined && fault.restoreFails.test(result.restoreError);
  if (fault.notGreen) return result.restoreError !== undefined || result.red.size > 0;
  if (result.restoreError) return false;
  return JSON.stringify([...result.red.keys()].sort()) === JSON.stringify([...(fault.red ?? [])].sort());
}
