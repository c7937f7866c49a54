// Connections to a source or restored server (mysql2), with errors that never echo a password.
import type { Duplex } from "node:stream";
import mysql from "mysql2/promise";
import { maskSecrets, registerSecret } from "../lifecycle/secrets.ts";

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

/** Anything that runs SQL: a pool, or one dedicated session (a snapshot transaction, a lock). */
export interface Queryable {
  readonly description: string;
  query<T extends Row = Row>(sql: string, params?: unknown[]): Promise<T[]>;
}

/** One dedicated connection, held until released (transactions, locks, snapshots). */
export interface Session extends Queryable {
  release(): void;
}

/** A small pool to one server: the query surface the rest of the tool uses. */
export class Db implements Queryable {
  private constructor(
    private readonly pool: mysql.Pool,
    readonly description: string,
  ) {}

  static async connect(options: ConnectOptions): Promise<Db> {
    registerSecret(options.password);
    const address = options.socketPath ? `socket ${options.socketPath}` : `${options.host ?? "127.0.0.1"}:${options.port ?? 3306}`;
    const where = options.via ? `${address} via ${options.via}` : address;
    const stream = options.stream;
    const pool = mysql.createPool({
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
      connectionLimit: options.poolSize ?? 2,
      connectTimeout: options.connectTimeoutMs ?? 10_000,
      charset: "utf8mb4_unicode_ci",
      supportBigNumbers: true,
      bigNumberStrings: true,
      dateStrings: true,
      multipleStatements: false,
    });
    // One session sql_mode everywhere: SHOW CREATE … text depends on it (ANSI_QUOTES, NO_*_OPTIONS), so a baseline and
    // a restored server are compared on their definitions, not on their global sql_mode (which the server check compares).
    pool.on("connection", (connection) => {
      connection.query("SET SESSION sql_mode = ''");
    });
    const db = new Db(pool, `${options.user}@${where}`);
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

  /** A dedicated connection; the caller releases it. */
  async session(): Promise<Session> {
    const conn = await this.pool.getConnection();
    const description = this.description;
    return {
      description,
      async query<R extends Row = Row>(sql: string, params: unknown[] = []): Promise<R[]> {
        try {
          const [rows] = await conn.query(sql, params);
          return rows as R[];
        } catch (error) {
          throw new Error(`query failed on ${description}: ${errorMessage(error)}\n  SQL: ${maskSecrets(sql)}`);
        }
      },
      release: () => conn.release(),
    };
  }

  async close(): Promise<void> {
    await this.pool.end();
  }
}

/**
 * Run `fn` on one connection, for statements that must share a session (a statement and the session counters around
 * it): a pool lends one of its connections for the duration; anything else is already one session.
 */
export async function onOneConnection<T>(db: Queryable, fn: (connection: Queryable) => Promise<T>): Promise<T> {
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
