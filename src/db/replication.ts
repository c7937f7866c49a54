// Replication SQL (MariaDB dialect): pointing a server at a source, reading where it stands, and stopping it.
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
  /** MASTER_USE_GTID=slave_pos from `gtid`, or the binlog file and position. */
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

/** SHOW SLAVE STATUS, or undefined when the server is not configured as a replica. */
export async function replicaStatus(db: Queryable): Promise<ReplicaStatus | undefined> {
  const [row] = await db.query("SHOW SLAVE STATUS");
  if (!row) return undefined;
  return {
    ioRunning: text(row.Slave_IO_Running),
    sqlRunning: text(row.Slave_SQL_Running),
    ioState: text(row.Slave_IO_State),
    ioErrno: num(row.Last_IO_Errno),
    ioError: text(row.Last_IO_Error),
    sqlErrno: num(row.Last_SQL_Errno),
    sqlError: text(row.Last_SQL_Error),
    secondsBehind: row.Seconds_Behind_Master === null || row.Seconds_Behind_Master === undefined ? null : Number(row.Seconds_Behind_Master),
    execFile: text(row.Relay_Master_Log_File),
    execPosition: num(row.Exec_Master_Log_Pos),
    readFile: text(row.Master_Log_File),
    readPosition: num(row.Read_Master_Log_Pos),
    gtidIoPos: text(row.Gtid_IO_Pos),
  };
}

/**
 * Point `db` at `source` from `start` and start both threads. The password goes through the client library's
 * escaping, never into an error message (Db masks registered secrets), and stays in the throwaway server's master.info.
 */
export async function startReplication(db: Queryable, source: ReplicationSource, start: ReplicationStart, serverId: number): Promise<void> {
  await db.query("STOP SLAVE");
  await db.query("RESET SLAVE ALL");
  await db.query("SET GLOBAL server_id = ?", [serverId]);
  const connection = "MASTER_HOST = ?, MASTER_PORT = ?, MASTER_USER = ?, MASTER_PASSWORD = ?, MASTER_CONNECT_RETRY = 5";
  const params: unknown[] = [source.host, source.port, source.user, source.password];
  if (start.useGtid) {
    await db.query("SET GLOBAL gtid_slave_pos = ?", [start.gtid]);
    await db.query(`CHANGE MASTER TO ${connection}, MASTER_USE_GTID = slave_pos`, params);
  } else {
    await db.query(`CHANGE MASTER TO ${connection}, MASTER_LOG_FILE = ?, MASTER_LOG_POS = ?, MASTER_USE_GTID = no`, [...params, start.file, start.position]);
  }
  await db.query("START SLAVE");
}

/** Stop both threads and start them again with the SQL thread stopping at `file`:`position` of the source's binlog. */
export async function replicateUntil(db: Queryable, file: string, position: number): Promise<void> {
  await db.query("STOP SLAVE");
  await db.query("START SLAVE UNTIL MASTER_LOG_FILE = ?, MASTER_LOG_POS = ?", [file, position]);
}

export async function stopReplication(db: Queryable): Promise<void> {
  await db.query("STOP SLAVE");
}

/** Forget the source (connection settings and password included). */
export async function forgetSource(db: Queryable): Promise<void> {
  await db.query("STOP SLAVE");
  await db.query("RESET SLAVE ALL");
}

/** The source's server_id and the ids of the replicas registered with it (SHOW SLAVE HOSTS; empty when not allowed). */
export async function serverIds(db: Queryable): Promise<{ own: number; replicas: { id: number; host: string; port: number }[] }> {
  const [row] = await db.query<{ id: string | number }>("SELECT @@GLOBAL.server_id AS id");
  let replicas: { id: number; host: string; port: number }[] = [];
  try {
    const rows = await db.query<{ Server_id: string | number; Host: string; Port: string | number }>("SHOW SLAVE HOSTS");
    replicas = rows.map((r) => ({ id: Number(r.Server_id), host: String(r.Host), port: Number(r.Port) }));
  } catch {
    // Needs REPLICATION MASTER ADMIN; without it only the source's own id can be checked.
  }
  return { own: Number(row?.id ?? 0), replicas };
}

/** How long the source keeps binlogs: expire_logs_days and (MariaDB 10.6+) binlog_expire_logs_seconds. */
export async function binlogRetention(db: Queryable): Promise<{ expireLogsDays: number; expireSeconds: number | null }> {
  const [days] = await db.query<{ v: string | number }>("SELECT @@GLOBAL.expire_logs_days AS v");
  let expireSeconds: number | null = null;
  try {
    const [seconds] = await db.query<{ v: string | number }>("SELECT @@GLOBAL.binlog_expire_logs_seconds AS v");
    expireSeconds = Number(seconds?.v ?? 0);
  } catch {
    // Older servers have only expire_logs_days.
  }
  return { expireLogsDays: Number(days?.v ?? 0), expireSeconds };
}
