// Data set (d): the shape of a big service, built inside the server from a seed (the same seed and size give the same
// rows), cached as a datadir between runs where only restoretest changed.
//   one table of about half the data, with secondary indexes (big);
//   a partitioned table (events, 8 RANGE partitions);
//   200 medium tables (m000…m199);
//   4 blob-heavy tables (blob0…blob3).
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";
import type { Db } from "../src/db/connection.ts";
import { quoteIdent } from "../src/db/quote.ts";

export const D_DATABASE = "bench_d";
export const D_SEED = 30;

interface Part {
  name: string;
  ddl: string;
  /** The row of sequence number `n` (SQL over `n` and `@seed`). */
  select: string;
  /** Bytes a row takes on disk with its indexes (InnoDB, default page size), about: a small table's file is bigger (InnoDB extends files by whole extents), so at small scales (d) takes more disk than planned. */
  rowBytes: number;
  /** Share of the data set's bytes. */
  share: number;
  /** A derived table joined to every row (`@db`: the database). */
  from?: string;
}

const BIG: Part = {
  name: "big",
  ddl:
    "id BIGINT PRIMARY KEY, account INT NOT NULL, created DATETIME NOT NULL, status TINYINT NOT NULL, amount DECIMAL(12,2) NOT NULL, " +
    "note VARCHAR(255) NOT NULL, KEY k_account (account, created), KEY k_status (status, created)",
  select:
    "n, CRC32(CONCAT(@seed, 'a', n)) % 100000, '2024-01-01' + INTERVAL (n DIV 7) SECOND, n % 5, (CRC32(CONCAT(@seed, 'm', n)) % 10000000) / 100, " +
    "LEFT(REPEAT(MD5(CONCAT(@seed, n)), 6), 120 + n % 64)",
  rowBytes: 300,
  share: 0.5,
};

const EVENTS_PARTITIONS = 8;
const EVENTS: Part = {
  name: "events",
  ddl: "id BIGINT NOT NULL, kind SMALLINT NOT NULL, at DATETIME NOT NULL, payload VARCHAR(600) NOT NULL, PRIMARY KEY (id), KEY k_kind (kind)",
  select: "n, n % 300, '2025-01-01' + INTERVAL n SECOND, LEFT(REPEAT(SHA2(CONCAT(@seed, 'e', n), 256), 8), 200 + n % 300)",
  rowBytes: 450,
  share: 0.15,
};

const MEDIUM_TABLES = 200;
const MEDIUM: Part = {
  name: "m",
  ddl: "id INT PRIMARY KEY, name VARCHAR(64) NOT NULL, email VARCHAR(128), score DECIMAL(12,2), body VARCHAR(300) NOT NULL, KEY k_name (name)",
  select: "n, CONCAT('name-', CRC32(CONCAT(@seed, n))), IF(n % 5 = 0, NULL, CONCAT('user', n, '@example.test')), n / 3, LEFT(REPEAT(MD5(CONCAT(@seed, 'b', n)), 8), 100 + n % 200)",
  rowBytes: 380,
  share: 0.2,
};

const BLOB_TABLES = 4;
const BLOB: Part = {
  name: "blob",
  ddl: "id INT PRIMARY KEY, kind VARCHAR(16) NOT NULL, doc LONGBLOB NOT NULL",
  // 64 KiB documents, about half compressible: 32 KiB of AES under the row's own key (ECB over 16-byte blocks that all
  // differ: as good as random, and seeded), then 32 KiB of the row's SHA-512 repeated.
  select: "n, ELT(1 + n % 3, 'pdf', 'png', 'json'), CONCAT(AES_ENCRYPT(plain.p, SHA2(CONCAT(@seed, 'k', n), 256)), REPEAT(SHA2(CONCAT(@seed, 'D', n), 512), 256))",
  from: "(SELECT GROUP_CONCAT(LPAD(seq, 16, '0') ORDER BY seq SEPARATOR '') AS p FROM @db.seq_1_to_2048) plain",
  rowBytes: 66_000,
  share: 0.15,
};

/** Insert rows `from`…`to` (inclusive) of `part` into `table`, in batches through the Sequence engine. */
async function fill(db: Db, database: string, table: string, part: Part, from: number, to: number): Promise<void> {
  const batch = part === BLOB ? 2_000 : 250_000;
  for (let start = from; start <= to; start += batch) {
    const end = Math.min(to, start + batch - 1);
    const select = part.select.replaceAll("@seed", String(D_SEED));
    const join = part.from ? ` CROSS JOIN ${part.from.replaceAll("@db", quoteIdent(database))}` : "";
    await db.query(`INSERT INTO ${quoteIdent(database)}.${quoteIdent(table)} SELECT ${select} FROM (SELECT seq AS n FROM ${quoteIdent(database)}.seq_${start}_to_${end}) s${join}`);
  }
}

export interface DatasetD {
  database: string;
  tables: string[];
  /** Planned bytes (rows × measured row size). */
  bytes: number;
  rows: Record<string, number>;
}

/** The tables and row counts of (d) at `bytes`: a function of the size alone. */
export function planD(bytes: number): DatasetD {
  const rows: Record<string, number> = {};
  rows.big = Math.round((bytes * BIG.share) / BIG.rowBytes);
  rows.events = Math.round((bytes * EVENTS.share) / EVENTS.rowBytes);
  for (let i = 0; i < MEDIUM_TABLES; i++) rows[`m${String(i).padStart(3, "0")}`] = Math.max(100, Math.round((bytes * MEDIUM.share) / MEDIUM_TABLES / MEDIUM.rowBytes));
  for (let i = 0; i < BLOB_TABLES; i++) rows[`blob${i}`] = Math.max(10, Math.round((bytes * BLOB.share) / BLOB_TABLES / BLOB.rowBytes));
  return { database: D_DATABASE, tables: Object.keys(rows), bytes, rows };
}

const partOf = (table: string): Part => (table === "big" ? BIG : table === "events" ? EVENTS : table.startsWith("blob") ? BLOB : MEDIUM);

/** Build (d) on `db` into `database` (which must not exist; the bench's is D_DATABASE). */
export async function buildD(db: Db, plan: DatasetD, log: (s: string) => void, database = D_DATABASE): Promise<void> {
  await db.query(`CREATE DATABASE ${quoteIdent(database)}`);
  for (const table of plan.tables) {
    const part = partOf(table);
    const n = plan.rows[table] as number;
    let partitions = "";
    if (part === EVENTS) {
      const step = Math.ceil(n / EVENTS_PARTITIONS);
      const list = Array.from({ length: EVENTS_PARTITIONS - 1 }, (_, i) => `PARTITION p${i} VALUES LESS THAN (${(i + 1) * step + 1})`);
      partitions = ` PARTITION BY RANGE (id) (${[...list, `PARTITION p${EVENTS_PARTITIONS - 1} VALUES LESS THAN MAXVALUE`].join(", ")})`;
    }
    await db.query(`CREATE TABLE ${quoteIdent(database)}.${quoteIdent(table)} (${part.ddl}) ENGINE=InnoDB${partitions}`);
    await fill(db, database, table, part, 1, n);
    if (part !== MEDIUM || table.endsWith("99")) log(`  (d) ${table}: ${n} rows`);
  }
}

/** Where cached datadirs live: RESTORETEST_BENCH_CACHE, else ~/.cache/restoretest-bench. */
export function cacheRoot(): string {
  return process.env.RESTORETEST_BENCH_CACHE ?? join(homedir(), ".cache", "restoretest-bench");
}

/**
 * The cache key of (d) at `bytes` on a server `version`: this file's code without its comments (the shapes, the seed,
 * how they are built), the size and the server. restoretest's own code is not in it, so a run after a change to
 * restoretest (or to a comment here) reuses the data.
 */
export function cacheKey(bytes: number, version: string): string {
  const text = readFileSync(import.meta.filename, "utf8")
    .replace(/\/\*[\s\S]*?\*\//g, "")
    .replace(/^\s*\/\/.*$/gm, "");
  return createHash("sha256").update(`${text}\0${bytes}\0${version}`).digest("hex").slice(0, 16);
}

/** A cached datadir of (d): `ready` once a build finished into it (a half-built one is removed, never reused). */
export function cachedDatadir(key: string): { dir: string; ready: boolean; building: string; commit(): void } {
  const root = cacheRoot();
  mkdirSync(root, { recursive: true });
  const dir = join(root, `d-${key}`);
  const building = `${dir}.building`;
  const ready = existsSync(join(dir, ".complete"));
  if (!ready) rmSync(building, { recursive: true, force: true });
  return {
    dir,
    ready,
    building,
    commit: () => {
      writeFileSync(join(building, ".complete"), new Date().toISOString());
      rmSync(dir, { recursive: true, force: true });
      renameSync(building, dir);
    },
  };
}
