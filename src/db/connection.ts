// Connections to a source or restored server (mysql2), with errors that never echo a password.
import type { Duplex } from "node:stream";
import mysql from "mysql2/promise";
import { maskSecrets, registerSecret } from "../base/secrets.ts";

export interface ConnectOptions {
  host?: string;
  port?: number;
  socketPath?: string;
  user: string;
  password?: string;
  database?: string;
  /** Connections kept for concurrent checks. */
  poolSize?: number;
  connectTimeoutMs?: number;
  /** Opens the transport for each pooled connection instead of a socket or TCP (e.g. an SSH-forwarded unix socket). */
  stream?: () => Duplex;
  /** How `stream` reaches the server, for messages (e.g. "ssh root@db1:22"). */
  via?: string;
}

export type Row = Record<string, unknown>;

/** One statement and its parameters (escaped by the driver, as `query` does). */
export interface Statement {
  sql: string;
  params?: unknown[];
}

/** Anything that runs SQL: a pool, or one dedicated session (a snapshot transaction, a lock). */
export interface Queryable {
  readonly description: string;
  query<T extends Row = Row>(sql: string, params?: unknown[]): Promise<T[]>;
  /**
   * Several statements in one round trip, their result sets in order; fails as a whole if any fails (the server stops
   * there). Only connections opened for it have it (a Db, a session asked for with `manyStatements`): the connections
   * that run everything else never accept a second statement in one text.
   */
  queryMany?(statements: readonly Statement[]): Promise<Row[][]>;
  /** A batch of many tables' statements (db/batch.ts): the connection under it, for statements that must share a session. */
  readonly unbatched?: Queryable;
}

/** A statement's answer as the server sent it: the column names (a name may repeat) and the rows as arrays. */
export interface Answer {
  columns: string[];
  rows: unknown[][];
}

/** A statement the server refused or stopped, with its error number (the message never holds the statement's rows). */
export class ServerError extends Error {
  override name = "ServerError";
  constructor(
    message: string,
    readonly errno: number | undefined,
  ) {
    super(message);
  }
}

/** One dedicated connection, held until released (transactions, locks, snapshots). */
export interface Session extends Queryable {
  /** One statement's answer, columns and rows as sent (a team query's: src/queries/answer.ts). */
  answer(sql: string): Promise<Answer>;
  release(): void;
}

/** A small pool to one server: the query surface the rest of the tool uses. */
export class Db implements Queryable {
  /** The same connections, allowing several statements per round trip; opened on first use (queryMany). */
  private manyPool: mysql.Pool | undefined;

  private constructor(
    private readonly pool: mysql.Pool,
    private readonly config: mysql.ConnectionOptions,
    private readonly poolSize: number,
    readonly description: string,
  ) {}

  static async connect(options: ConnectOptions): Promise<Db> {
    registerSecret(options.password);
    const address = options.socketPath ? `socket ${options.socketPath}` : `${options.host ?? "127.0.0.1"}:${options.port ?? 3306}`;
    const where = options.via ? `${address} via ${options.via}` : address;
    const stream = options.stream;
    const config: mysql.ConnectionOptions = {
      ...(stream
        ? { stream: () => stream() }
        : {
            host: options.socketPath ? undefined : (options.host ?? "127.0.0.1"),
            port: options.socketPath ? undefined : (options.port ?? 3306),
            socketPath: options.socketPath,
          }),
      user: options.user,
      password: options.password ?? "",
      database: options.database,
      connectTimeout: options.connectTimeoutMs ?? 10_000,
      charset: "utf8mb4_unicode_ci",
      supportBigNumbers: true,
      bigNumberStrings: true,
      dateStrings: true,
      multipleStatements: false,
    };
    const poolSize = options.poolSize ?? 2;
    const pool = openPool({ ...config, connectionLimit: poolSize });
    const db = new Db(pool, config, poolSize, `${options.user}@${where}`);
    try {
      await db.query("SELECT 1");
    } catch (error) {
      await pool.end().catch(() => undefined);
      throw new Error(`cannot connect to ${db.description}: ${errorMessage(error)}`);
    }
    return db;
  }

  async query<T extends Row = Row>(sql: string, params: unknown[] = []): Promise<T[]> {
    try {
      const [rows] = await this.pool.query(sql, params);
      return rows as T[];
    } catch (error) {
      throw new Error(`query failed on ${this.description}: ${errorMessage(error)}\n  SQL: ${maskSecrets(sql)}`);
    }
  }

  async queryMany(statements: readonly Statement[]): Promise<Row[][]> {
    return runMany(this.many(), statements, this.description);
  }

  /**
   * A dedicated connection; the caller releases it. `manyStatements`: a connection of its own outside the pool (closed
   * on release) that also takes several statements per round trip (queryMany): a baseline opens as many snapshot
   * transactions as its tables need (baseline/capture.ts), each reading batches of small tables.
   */
  async session(options: { manyStatements?: boolean } = {}): Promise<Session> {
    const description = this.description;
    let conn: mysql.PoolConnection | mysql.Connection;
    if (options.manyStatements) {
      try {
        conn = await mysql.createConnection({ ...this.config, multipleStatements: true });
        await conn.query(SESSION_SETTINGS);
      } catch (error) {
        throw new Error(`cannot connect to ${description}: ${errorMessage(error)}`);
      }
    } else {
      conn = await this.pool.getConnection();
    }
    const on = conn;
    return {
      description,
      async query<R extends Row = Row>(sql: string, params: unknown[] = []): Promise<R[]> {
        try {
          const [rows] = await on.query(sql, params);
          return rows as R[];
        } catch (error) {
          throw new Error(`query failed on ${description}: ${errorMessage(error)}\n  SQL: ${maskSecrets(sql)}`);
        }
      },
      async answer(sql: string): Promise<Answer> {
        try {
          const [rows, fields] = await on.query({ sql, rowsAsArray: true });
          if (!Array.isArray(rows) || !Array.isArray(fields)) throw new Error("the statement returned no result set");
          return { columns: fields.map((f) => f.name), rows: rows as unknown[][] };
        } catch (error) {
          throw new ServerError(`query failed on ${description}: ${errorMessage(error)}`, (error as { errno?: number }).errno);
        }
      },
      ...(options.manyStatements ? { queryMany: (statements: readonly Statement[]) => runMany(on, statements, description) } : {}),
      release: () => (options.manyStatements ? void on.end().catch(() => on.destroy()) : (on as mysql.PoolConnection).release()),
    };
  }

  private many(): mysql.Pool {
    this.manyPool ??= openPool({ ...this.config, multipleStatements: true, connectionLimit: this.poolSize });
    return this.manyPool;
  }

  async close(): Promise<void> {
    await Promise.all([this.pool.end(), this.manyPool?.end()]);
  }
}

/**
 * One session sql_mode everywhere: SHOW CREATE … text depends on it (ANSI_QUOTES, NO_*_OPTIONS), so a baseline and a
 * restored server are compared on their definitions, not on their global sql_mode (which the server check compares).
 * MySQL 8+ serves information_schema.TABLES' AUTO_INCREMENT, TABLE_ROWS and DATA_LENGTH from statistics cached for
 * information_schema_stats_expiry (a day by default), kept in its data dictionary, which a clone carries to the restored
 * server: a busy table's cached counter read 1024 where the data's largest id was 6023 (test/mysql/schemas.test.ts).
 * Expiry 0 reads them from the engine: a database of 1,000 tables read from information_schema.TABLES in 86-107 ms
 * instead of 8 ms from a warm cache (MySQL 9.7, a loaded 2-core machine). It is set in a MySQL version comment
 * (`/*!80003`), which only MySQL runs: MariaDB, which has no such variable, skips version comments of MySQL 5.7 and later.
 */
const SESSION_SETTINGS = "SET SESSION sql_mode = '' /*!80003 , information_schema_stats_expiry = 0 */";

function openPool(config: mysql.PoolOptions): mysql.Pool {
  const pool = mysql.createPool(config);
  pool.on("connection", (connection) => {
    connection.query(SESSION_SETTINGS);
  });
  return pool;
}

/** The statements as one text (each formatted by the driver, as `query` formats one), one result set each. */
async function runMany(on: mysql.Pool | mysql.Connection, statements: readonly Statement[], description: string): Promise<Row[][]> {
  const text = statements.map((s) => mysql.format(s.sql, (s.params ?? []) as Parameters<typeof mysql.format>[1])).join(";\n");
  try {
    const [results] = await on.query(text);
    // One statement answers with its rows, not with a list of result sets.
    return (statements.length === 1 ? [results] : results) as Row[][];
  } catch (error) {
    const first = maskSecrets(statements[0]?.sql ?? "");
    throw new Error(`query failed on ${description}: ${errorMessage(error)}\n  SQL (${statements.length} statements): ${first};…`);
  }
}

/**
 * Run `fn` on one connection, for statements that must share a session (a statement and the session counters around
 * it): a pool lends one of its connections for the duration; anything else is already one session.
 */
export async function onOneConnection<T>(db: Queryable, fn: (connection: Queryable) => Promise<T>): Promise<T> {
  // A batch sends other tables' statements between two of `fn`'s: it runs on the connection under the batch instead.
  if (db.unbatched) return onOneConnection(db.unbatched, fn);
  if (!(db instanceof Db)) return fn(db);
  const session = await db.session();
  try {
    return await fn(session);
  } finally {
    session.release();
  }
}

export function errorMessage(error: unknown): string {
  const text = error instanceof Error ? error.message : String(error);
  return maskSecrets(text);
}
