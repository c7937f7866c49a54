// Benchmark data sets, generated inside the server (INSERT … SELECT over seq tables) so generation is not the bottleneck.
import type { Db } from "../src/db/connection.ts";
import { quoteIdent } from "../src/db/quote.ts";

export interface Dataset {
  database: string;
  tables: string[];
  bytes: number;
}

/** Mixed shapes for dataset (a): narrow, wide, text-heavy, many indexes, MyISAM. */
const SHAPES = [
  {
    ddl: "id BIGINT PRIMARY KEY, a INT NOT NULL, b INT, c DATETIME NOT NULL, KEY ka (a), KEY kb (b)",
    select: "seq, seq % 1000, IF(seq % 11 = 0, NULL, seq * 7), '2026-01-01' + INTERVAL seq SECOND",
    rowBytes: 60,
  },
  {
    ddl: "id INT PRIMARY KEY, name VARCHAR(64) NOT NULL, email VARCHAR(128), score DECIMAL(12,2), KEY kn (name)",
    select: "seq, CONCAT('name-', seq), IF(seq % 5 = 0, NULL, CONCAT('user', seq, '@example.test')), seq / 3",
    rowBytes: 120,
  },
  {
    ddl: "id INT PRIMARY KEY, body TEXT NOT NULL, tag CHAR(8)",
    select: "seq, REPEAT(CONCAT('lorem ipsum ', seq), 20), LPAD(seq % 100, 8, '0')",
    rowBytes: 330,
  },
  {
    ddl: "id INT NOT NULL, sub INT NOT NULL, v DOUBLE, PRIMARY KEY (id, sub), KEY kv (v)",
    select: "seq DIV 4, seq % 4, seq * 1.5",
    rowBytes: 50,
  },
] as const;

async function createTable(db: Db, database: string, name: string, ddl: string, engine: string): Promise<void> {
  await db.query(`CREATE TABLE ${quoteIdent(database)}.${quoteIdent(name)} (${ddl}) ENGINE=${engine}`);
}

/** Insert `rows` rows in batches through seq_1_to_N (MariaDB's Sequence engine). */
async function fill(db: Db, database: string, name: string, select: string, rows: number): Promise<void> {
  const batch = 500_000;
  for (let start = 0; start < rows; start += batch) {
    const n = Math.min(batch, rows - start);
    await db.query(
      `INSERT INTO ${quoteIdent(database)}.${quoteIdent(name)} SELECT ${select.replaceAll("seq", `(seq + ${start})`)} FROM ${quoteIdent(database)}.seq_1_to_${n}`,
    );
  }
}

/** (a) about `bytes` across 50 tables: sizes spread from tiny to large, every shape, a few MyISAM. */
export async function mixedTables(db: Db, database: string, bytes: number, log: (s: string) => void): Promise<Dataset> {
  await db.query(`CREATE DATABASE ${quoteIdent(database)}`);
  const tables: string[] = [];
  // Weights 1..50 squared: a long tail of small tables and a few big ones, like a real schema.
  const weights = Array.from({ length: 50 }, (_, i) => (i + 1) ** 2);
  const total = weights.reduce((a, b) => a + b, 0);
  for (let i = 0; i < 50; i++) {
    const shape = SHAPES[i % SHAPES.length] as (typeof SHAPES)[number];
    const name = `t${String(i).padStart(2, "0")}`;
    await createTable(db, database, name, shape.ddl, i % 10 === 9 ? "MyISAM" : "InnoDB");
    const rows = Math.max(10, Math.round(((weights[i] as number) / total) * bytes / shape.rowBytes));
    await fill(db, database, name, shape.select, rows);
    tables.push(name);
    if (i % 10 === 9) log(`  (a) ${i + 1}/50 tables`);
  }
  return { database, tables, bytes };
}

/** (b) `count` small tables of 10 rows each. */
export async function manySmallTables(db: Db, database: string, count: number, log: (s: string) => void): Promise<Dataset> {
  await db.query(`CREATE DATABASE ${quoteIdent(database)}`);
  const tables: string[] = [];
  for (let i = 0; i < count; i++) {
    const name = `s${String(i).padStart(5, "0")}`;
    await createTable(db, database, name, "id INT PRIMARY KEY, v VARCHAR(20), KEY kv (v)", "InnoDB");
    await db.query(`INSERT INTO ${quoteIdent(database)}.${quoteIdent(name)} SELECT seq, CONCAT('v', seq) FROM ${quoteIdent(database)}.seq_1_to_10`);
    tables.push(name);
    if ((i + 1) % 2000 === 0) log(`  (b) ${i + 1}/${count} tables`);
  }
  return { database, tables, bytes: count * 16384 };
}

/** (c) one table of `rows` rows. */
export async function oneBigTable(db: Db, database: string, rows: number): Promise<Dataset> {
  await db.query(`CREATE DATABASE ${quoteIdent(database)}`);
  const shape = SHAPES[0];
  await createTable(db, database, "big", shape.ddl, "InnoDB");
  await fill(db, database, "big", shape.select, rows);
  return { database, tables: ["big"], bytes: rows * shape.rowBytes };
}
