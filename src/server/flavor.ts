// The one place where MariaDB and MySQL differ: the programs of each (found in a service's `backup.toolchain` or on
// PATH), how an empty datadir is made, the start options only one of them takes, and the replication statements.
import { join } from "node:path";
import type { CommandSpec } from "../base/command.ts";

/**
 * Where the grant tables of a flavour differ from what the catalog alone tells. Every base table of `mysql` with a
 * `User` and a `Host` column is a grant table on both (MariaDB's global_priv, db, tables_priv, columns_priv, procs_priv,
 * proxies_priv, roles_mapping; MySQL's user, db, …, default_roles, global_grants, password_history); MySQL's role_edges
 * names its account in TO_USER/TO_HOST and is added by name.
 */
export interface AccountsFlavor {
  extraTables: readonly { table: string; user: string; host: string }[];
  /** The table whose rows are the accounts themselves. */
  principal: string;
}

export const MARIADB_ACCOUNTS: AccountsFlavor = { extraTables: [], principal: "global_priv" };
export const MYSQL_ACCOUNTS: AccountsFlavor = { extraTables: [{ table: "role_edges", user: "TO_USER", host: "TO_HOST" }], principal: "user" };

export type FlavorName = "mariadb" | "mysql";

/** The restored (or sandbox) server of a flavour: its program and the options that differ between flavours. */
export interface ServerFlavor {
  name: FlavorName;
  binary: string;
  /** Options only this flavour takes, on every server it starts in a directory with this tmpdir. */
  extraArgs(files: { tmpdir: string }): readonly string[];
  /** An empty datadir with the system tables, root@localhost without a password. */
  initialize(datadir: string): CommandSpec;
  /** Do not start replication threads at start (a restored copy of a replica must never reconnect to production). */
  skipReplicaStart: string;
  /**
   * What a restored server runs with for a backup at this GTID set: MySQL replays a source's GTID transactions only with
   * gtid_mode=ON (and then skips those the data already has); MariaDB's GTIDs need no option.
   */
  gtidArgs(gtid: string): readonly string[];
  /** What a sandbox source of this flavour runs with besides binary logging (GTIDs, the clone plugin). */
  sourceArgs: readonly string[];
}

/** Replication statements and SHOW … STATUS columns, by flavour (MySQL 8.0.23+ renamed them; 8.4 removed the old names). */
export interface ReplicationSyntax {
  showStatus: string;
  start: string;
  stop: string;
  startSqlThread: string;
  stopSqlThread: string;
  reset: string;
  /** The replicas registered with a source. */
  showReplicas: string;
  /** `CHANGE MASTER TO` / `CHANGE REPLICATION SOURCE TO`. */
  change: string;
  /** Option names after it. */
  option: { host: string; port: string; user: string; password: string; connectRetry: string; logFile: string; logPos: string };
  /** `START … UNTIL <file> = ?, <pos> = ?` */
  until: { logFile: string; logPos: string };
  /** SHOW … STATUS columns. */
  column: {
    ioRunning: string;
    sqlRunning: string;
    ioState: string;
    secondsBehind: string;
    execFile: string;
    execPos: string;
    readFile: string;
    readPos: string;
    gtidIo: string;
  };
  /** Where the server's binlog stands now: statement and GTID set. */
  binlogStatus: string;
  /** Options after the connection's in CHANGE … TO (MySQL: the source's RSA key for caching_sha2_password over TCP). */
  connectionExtra: string;
  /** Join by GTID: the statement run first (MariaDB sets where it starts), and the CHANGE … TO option. */
  byGtid: { before?: string; option: string };
  /** Join by binlog file and position: the CHANGE … TO option that turns GTIDs off. */
  byPosition: string;
  /** The variable holding the GTID set a replica has executed. */
  executedGtids: string;
}

/** What the SQL of a flavour's server differs in: replication, the grant tables, where events live. */
export interface Dialect {
  name: FlavorName;
  replication: ReplicationSyntax;
  accounts: AccountsFlavor;
  /**
   * A database's events, as columns named alike on both (`?`: the database). MariaDB: the rows of mysql.event (SHOW
   * CREATE EVENT refuses while the scheduler is off); MySQL keeps them in its data dictionary: information_schema.EVENTS.
   */
  eventsQuery: string;
  /**
   * The statement that limits how long each of this session's statements may run, in ms (0: no limit), and the error
   * numbers of a statement stopped by it. MariaDB: max_statement_time (seconds, every statement); MySQL:
   * max_execution_time (ms, SELECT only).
   */
  statementTimeout: { set(ms: number): string; errnos: readonly number[] };
  /**
   * InnoDB's history list length as `n`, and whether its counter is on as `enabled` (1/0): the same INNODB_METRICS
   * counter on both, whose on/off column differs (MariaDB `ENABLED` 1/0, MySQL `STATUS` 'enabled'/'disabled').
   */
  historyListQuery: string;
}

/** The programs of a flavour: the server a backup is restored into, and what replays binlogs, loads SQL and dumps. */
export interface Flavor {
  name: FlavorName;
  client: string;
  binlog: string;
  dump: string;
  /**
   * The Aria table checker, of the server's own version (the Aria files are the server's): MariaDB only (MySQL has no
   * Aria tables).
   */
  ariaCheck?: string;
  /**
   * What every dump of table rows adds for this flavour: MySQL's mysqldump, on a server with GTIDs, otherwise writes
   * `SET @@SESSION.SQL_LOG_BIN= 0` (the rows would reach no replica) and `SET @@GLOBAL.GTID_PURGED` (loaded into a
   * running server, it rewrites or breaks that server's GTID state).
   */
  dumpArgs: readonly string[];
  server: ServerFlavor;
  dialect: Dialect;
}

/** `name` in `toolchain` when a service names one, else the bare name (looked up on PATH). */
export function program(name: string, toolchain?: string): string {
  return toolchain ? join(toolchain, name) : name;
}

const MARIADB_REPLICATION: ReplicationSyntax = {
  showStatus: "SHOW SLAVE STATUS",
  start: "START SLAVE",
  stop: "STOP SLAVE",
  startSqlThread: "START SLAVE SQL_THREAD",
  stopSqlThread: "STOP SLAVE SQL_THREAD",
  reset: "RESET SLAVE ALL",
  showReplicas: "SHOW SLAVE HOSTS",
  change: "CHANGE MASTER TO",
  option: {
    host: "MASTER_HOST",
    port: "MASTER_PORT",
    user: "MASTER_USER",
    password: "MASTER_PASSWORD",
    connectRetry: "MASTER_CONNECT_RETRY",
    logFile: "MASTER_LOG_FILE",
    logPos: "MASTER_LOG_POS",
  },
  until: { logFile: "MASTER_LOG_FILE", logPos: "MASTER_LOG_POS" },
  column: {
    ioRunning: "Slave_IO_Running",
    sqlRunning: "Slave_SQL_Running",
    ioState: "Slave_IO_State",
    secondsBehind: "Seconds_Behind_Master",
    execFile: "Relay_Master_Log_File",
    execPos: "Exec_Master_Log_Pos",
    readFile: "Master_Log_File",
    readPos: "Read_Master_Log_Pos",
    gtidIo: "Gtid_IO_Pos",
  },
  binlogStatus: "SHOW MASTER STATUS",
  connectionExtra: "",
  byGtid: { before: "SET GLOBAL gtid_slave_pos = ?", option: "MASTER_USE_GTID = slave_pos" },
  byPosition: "MASTER_USE_GTID = no",
  executedGtids: "gtid_slave_pos",
};

const MYSQL_REPLICATION: ReplicationSyntax = {
  showStatus: "SHOW REPLICA STATUS",
  start: "START REPLICA",
  stop: "STOP REPLICA",
  startSqlThread: "START REPLICA SQL_THREAD",
  stopSqlThread: "STOP REPLICA SQL_THREAD",
  reset: "RESET REPLICA ALL",
  showReplicas: "SHOW REPLICAS",
  change: "CHANGE REPLICATION SOURCE TO",
  option: {
    host: "SOURCE_HOST",
    port: "SOURCE_PORT",
    user: "SOURCE_USER",
    password: "SOURCE_PASSWORD",
    connectRetry: "SOURCE_CONNECT_RETRY",
    logFile: "SOURCE_LOG_FILE",
    logPos: "SOURCE_LOG_POS",
  },
  until: { logFile: "SOURCE_LOG_FILE", logPos: "SOURCE_LOG_POS" },
  column: {
    ioRunning: "Replica_IO_Running",
    sqlRunning: "Replica_SQL_Running",
    ioState: "Replica_IO_State",
    secondsBehind: "Seconds_Behind_Source",
    execFile: "Relay_Source_Log_File",
    execPos: "Exec_Source_Log_Pos",
    readFile: "Source_Log_File",
    readPos: "Read_Source_Log_Pos",
    gtidIo: "Retrieved_Gtid_Set",
  },
  binlogStatus: "SHOW BINARY LOG STATUS",
  connectionExtra: ", GET_SOURCE_PUBLIC_KEY = 1",
  // The restored data holds its own GTID set (gtid_executed): auto-position asks the source for the rest.
  byGtid: { option: "SOURCE_AUTO_POSITION = 1" },
  byPosition: "SOURCE_AUTO_POSITION = 0",
  executedGtids: "gtid_executed",
};

const MARIADB_DIALECT: Dialect = {
  name: "mariadb",
  replication: MARIADB_REPLICATION,
  accounts: MARIADB_ACCOUNTS,
  eventsQuery: `SELECT name, definer, CAST(body_utf8 AS CHAR) AS body, execute_at, interval_value, interval_field, starts, ends,
            status, on_completion, sql_mode, comment, time_zone, character_set_client, collation_connection, db_collation
       FROM mysql.event WHERE db = ? ORDER BY name`,
  // ER_STATEMENT_TIMEOUT
  statementTimeout: { set: (ms) => `SET SESSION max_statement_time = ${(Math.max(0, Math.round(ms)) / 1000).toFixed(3)}`, errnos: [1969] },
  historyListQuery: "SELECT `COUNT` AS n, `ENABLED` = 1 AS enabled FROM information_schema.INNODB_METRICS WHERE NAME = 'trx_rseg_history_len'",
};

const MYSQL_DIALECT: Dialect = {
  name: "mysql",
  replication: MYSQL_REPLICATION,
  accounts: MYSQL_ACCOUNTS,
  eventsQuery: `SELECT EVENT_NAME AS name, DEFINER AS definer, EVENT_DEFINITION AS body, EXECUTE_AT AS execute_at,
                INTERVAL_VALUE AS interval_value, INTERVAL_FIELD AS interval_field, STARTS AS starts, ENDS AS ends,
                STATUS AS status, ON_COMPLETION AS on_completion, SQL_MODE AS sql_mode, EVENT_COMMENT AS comment,
                TIME_ZONE AS time_zone, CHARACTER_SET_CLIENT AS character_set_client,
                COLLATION_CONNECTION AS collation_connection, DATABASE_COLLATION AS db_collation
           FROM information_schema.EVENTS WHERE EVENT_SCHEMA = ? ORDER BY EVENT_NAME`,
  // ER_QUERY_TIMEOUT
  statementTimeout: { set: (ms) => `SET SESSION max_execution_time = ${Math.max(0, Math.round(ms))}`, errnos: [3024] },
  historyListQuery: "SELECT `COUNT` AS n, `STATUS` = 'enabled' AS enabled FROM information_schema.INNODB_METRICS WHERE NAME = 'trx_rseg_history_len'",
};

/** A flavour's programs, in `toolchain` (a directory) when given. */
export function flavor(name: FlavorName, toolchain?: string): Flavor {
  const p = (n: string) => program(n, toolchain);
  if (name === "mariadb") {
    return {
      name,
      client: p("mariadb"),
      binlog: p("mariadb-binlog"),
      dump: p("mariadb-dump"),
      ariaCheck: p("aria_chk"),
      dumpArgs: [],
      dialect: MARIADB_DIALECT,
      server: {
        name,
        binary: p("mariadbd"),
        extraArgs: () => [],
        // No --user: mariadb-install-db then runs no `chown $user $dir`, which word-splits the datadir (a workDir with a
        // blank or a quote in its name failed). The files are the running user's either way, as the server's are.
        initialize: (datadir) => ({
          file: p("mariadb-install-db"),
          args: ["--no-defaults", `--datadir=${datadir}`, "--auth-root-authentication-method=normal", "--skip-test-db", "--skip-name-resolve"],
        }),
        skipReplicaStart: "--skip-slave-start",
        gtidArgs: () => [],
        sourceArgs: [],
      },
    };
  }
  return {
    name,
    client: p("mysql"),
    binlog: p("mysqlbinlog"),
    dump: p("mysqldump"),
    dumpArgs: ["--set-gtid-purged=OFF"],
    dialect: MYSQL_DIALECT,
    server: {
      name,
      binary: p("mysqld"),
      // No X protocol listener (port 33060): every other way in is closed on a restored copy too. MySQL logs binlogs
      // by default; a restored copy writes none (a source asks for them with --log-bin, which comes later and wins).
      // LOAD DATA and SELECT … INTO OUTFILE only in the server's own tmpdir (Debian's default directory does not exist here).
      extraArgs: ({ tmpdir }) => ["--mysqlx=OFF", "--skip-log-bin", `--secure-file-priv=${tmpdir}`],
      initialize: (datadir) => ({ file: p("mysqld"), args: ["--no-defaults", "--initialize-insecure", `--datadir=${datadir}`, "--user=root"] }),
      skipReplicaStart: "--skip-replica-start",
      // GTIDs, as a MySQL fleet runs (a rebuilt replica joins by auto-position); the clone plugin, for `clone` backups.
      gtidArgs: (gtid) => (/^[0-9a-f-]{36}:/i.test(gtid) ? ["--gtid-mode=ON", "--enforce-gtid-consistency=ON"] : []),
      sourceArgs: ["--gtid-mode=ON", "--enforce-gtid-consistency=ON", "--plugin-load-add=mysql_clone.so"],
    },
  };
}

export const MARIADB_FLAVOR = flavor("mariadb");

/** The flavour a server's `VERSION()` names (`10.11.19-MariaDB-log`, `9.7.4-2`). */
export function flavorOfVersion(version: string): FlavorName {
  return /mariadb/i.test(version) ? "mariadb" : "mysql";
}

/** The flavour of the server behind `db`, asked once per connection pool. */
const asked = new WeakMap<object, Promise<FlavorName>>();
export function flavorOf(db: { query(sql: string): Promise<Record<string, unknown>[]> }): Promise<FlavorName> {
  let known = asked.get(db);
  if (!known) {
    known = db.query("SELECT VERSION() AS v").then((rows) => flavorOfVersion(String(rows[0]?.v ?? "")));
    asked.set(db, known);
    known.catch(() => asked.delete(db));
  }
  return known;
}

/** The SQL dialect of the server behind `db`. */
export async function dialectOf(db: { query(sql: string): Promise<Record<string, unknown>[]> }): Promise<Dialect> {
  return (await flavorOf(db)) === "mysql" ? MYSQL_DIALECT : MARIADB_DIALECT;
}

/** The replication statements for the server behind `db`. */
export async function replicationSyntax(db: { query(sql: string): Promise<Record<string, unknown>[]> }): Promise<ReplicationSyntax> {
  return (await dialectOf(db)).replication;
}
