// Replication SQL: pointing a server at a source, reading where it stands, and stopping it, in the server's own
// dialect (src/server/flavor.ts: MariaDB's SLAVE/MASTER statements, MySQL's REPLICA/SOURCE ones).
import { replicationSyntax } from "../server/flavor.ts";
import type { Queryable } from "./connection.ts";

/** The part of SHOW SLAVE STATUS the rejoin stage reads. */
export interface ReplicaStatus {
  ioRunning: string;
  sqlRunning: string;
  ioState: string;
  ioErrno: number;
  ioError: string;
  sqlErrno: number;
  sqlError: string;
  secondsBehind: number | null;
  /** The source's binlog file and position the SQL thread has executed up to. */
  execFile: string;
  execPosition: number;
  /** The source's binlog file and position the I/O thread has read up to. */
  readFile: string;
  readPosition: number;
  gtidIoPos: string;
}

/** Where a replica starts reading its source's binlog. */
export interface ReplicationStart {
  file: string;
  position: number;
  gtid: string;
  /** GTIDs (MariaDB: MASTER_USE_GTID=slave_pos from `gtid`; MySQL: SOURCE_AUTO_POSITION), or the binlog file and position. */
  useGtid: boolean;
}

export interface ReplicationSource {
  host: string;
  port: number;
  user: string;
  password: string;
}

const text = (v: unknown): string => (v === null || v === undefined ? "" : String(v));
const num = (v: unknown): number => (v === null || v === undefined || v === "" ? 0 : Number(v));

/** SHOW SLAVE STATUS (SHOW REPLICA STATUS), or undefined when the server is not configured as a replica. */
export async function replicaStatus(db: Queryable): Promise<ReplicaStatus | undefined> {
  const syntax = await replicationSyntax(db);
  const [row] = await db.query(syntax.showStatus);
  if (!row) return undefined;
  const c = syntax.column;
  return {
    ioRunning: text(row[c.ioRunning]),
    sqlRunning: text(row[c.sqlRunning]),
    ioState: text(row[c.ioState]),
    ioErrno: num(row.Last_IO_Errno),
    ioError: text(row.Last_IO_Error),
    sqlErrno: num(row.Last_SQL_Errno),
    sqlError: text(row.Last_SQL_Error),
    secondsBehind: row[c.secondsBehind] === null || row[c.secondsBehind] === undefined ? null : Number(row[c.secondsBehind]),
    execFile: text(row[c.execFile]),
    execPosition: num(row[c.execPos]),
    readFile: text(row[c.readFile]),
    readPosition: num(row[c.readPos]),
    gtidIoPos: text(row[c.gtidIo]).replace(/\s+/g, ""),
  };
}

/**
 * Point `db` at `source` from `start` and start both threads. The password goes through the client library's
 * escaping, never into an error message (Db masks registered secrets), and stays in the throwaway server's
 * replication metadata. MySQL joins by GTID auto-position from the GTID set the restored data holds; its default
 * authentication (caching_sha2_password) over plain TCP needs the source's public key, asked for.
 */
export async function startReplication(db: Queryable, source: ReplicationSource, start: ReplicationStart, serverId: number): Promise<void> {
  const syntax = await replicationSyntax(db);
  const o = syntax.option;
  await db.query(syntax.stop);
  await db.query(syntax.reset);
  await db.query("SET GLOBAL server_id = ?", [serverId]);
  const connection = `${o.host} = ?, ${o.port} = ?, ${o.user} = ?, ${o.password} = ?, ${o.connectRetry} = 5${syntax.connectionExtra}`;
  const params: unknown[] = [source.host, source.port, source.user, source.password];
  if (start.useGtid) {
    if (syntax.byGtid.before) await db.query(syntax.byGtid.before, [start.gtid]);
    await db.query(`${syntax.change} ${connection}, ${syntax.byGtid.option}`, params);
  } else {
    await db.query(`${syntax.change} ${connection}, ${o.logFile} = ?, ${o.logPos} = ?, ${syntax.byPosition}`, [...params, start.file, start.position]);
  }
  await db.query(syntax.start);
}

/** Stop both threads and start them again with the SQL thread stopping at `file`:`position` of the source's binlog. */
export async function replicateUntil(db: Queryable, file: string, position: number): Promise<void> {
  const syntax = await replicationSyntax(db);
  await db.query(syntax.stop);
  await db.query(`${syntax.start} UNTIL ${syntax.until.logFile} = ?, ${syntax.until.logPos} = ?`, [file, position]);
}

export async function stopReplication(db: Queryable): Promise<void> {
  await db.query((await replicationSyntax(db)).stop);
}

/** Forget the source (connection settings and password included). */
export async function forgetSource(db: Queryable): Promise<void> {
  const syntax = await replicationSyntax(db);
  await db.query(syntax.stop);
  await db.query(syntax.reset);
}

/** The source's server_id and the ids of the replicas registered with it (SHOW SLAVE HOSTS / SHOW REPLICAS; empty when not allowed). */
export async function serverIds(db: Queryable): Promise<{ own: number; replicas: { id: number; host: string; port: number }[] }> {
  const [row] = await db.query<{ id: string | number }>("SELECT @@GLOBAL.server_id AS id");
  let replicas: { id: number; host: string; port: number }[] = [];
  try {
    const rows = await db.query<{ Server_id?: string | number; Server_Id?: string | number; Host: string; Port: string | number }>(
      (await replicationSyntax(db)).showReplicas,
    );
    replicas = rows.map((r) => ({ id: Number(r.Server_id ?? r.Server_Id), host: String(r.Host), port: Number(r.Port) }));
  } catch {
    // Needs REPLICATION MASTER ADMIN (MariaDB) or REPLICATION SLAVE (MySQL); without it only the source's own id can be checked.
  }
  return { own: Number(row?.id ?? 0), replicas };
}

/** How long the source keeps binlogs: expire_logs_days (MariaDB; gone from MySQL 8.4) and binlog_expire_logs_seconds (MySQL 8, MariaDB 10.6+). */
export async function binlogRetention(db: Queryable): Promise<{ expireLogsDays: number; expireSeconds: number | null }> {
  const variable = async (name: string): Promise<number | null> => {
    try {
      const [row] = await db.query<{ v: string | number }>(`SELECT @@GLOBAL.${name} AS v`);
      return Number(row?.v ?? 0);
    } catch {
      return null;
    }
  };
  return { expireLogsDays: (await variable("expire_logs_days")) ?? 0, expireSeconds: await variable("binlog_expire_logs_seconds") };
}
