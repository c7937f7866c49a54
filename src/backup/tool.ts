// Backup tool adapters: the command lines of mariadb-backup, Percona XtraBackup and a logical dump, behind one interface.
import { closeSync, existsSync, openSync, readFileSync, readSync } from "node:fs";
import { join } from "node:path";
import type { Position } from "../binlog/position.ts";
import { shellQuote, type CommandSpec } from "../base/command.ts";
import type { Checkpoints } from "../store/chain.ts";
import { flavor, program, type Flavor } from "../server/flavor.ts";
import type { Queryable } from "../db/connection.ts";
import { qualifiedName } from "../db/quote.ts";

export interface BackupCommandOptions {
  /** Empty directory the backup is written to. */
  targetDir: string;
  /** Client option file with the source's credentials (mode 0600): passwords never go on a command line. */
  optionFile: string;
  datadir?: string;
  /** The previous link's data directory: take an incremental on top of it. */
  incrementalBaseDir?: string;
  /** Databases a logical dump includes. */
  databases?: string[];
}

interface ToolBase {
  name: string;
  flavor: Flavor;
  /** Whether the tool can take an incremental on top of a previous backup (`--incremental-basedir`). */
  incremental: boolean;
  /** A backup of a running server into `targetDir`, on the source's host. */
  backupCommand(options: BackupCommandOptions): CommandSpec;
  versionCommand(): CommandSpec;
  /** The binlog position the backup is consistent at, from the tool's own output. */
  readPosition(backupDir: string): Position | null;
  /** Refuses a source this tool cannot back up whole, naming what would be lost (before anything is copied). */
  preflight?(db: Queryable, databases: readonly string[], consistency: "quiescent" | "snapshot" | "pausedReplica"): Promise<void>;
}

/** A physical backup: files copied from the datadir, copied into the restored server's datadir and made consistent there by `prepare`. */
export interface PhysicalBackupTool extends ToolBase {
  kind: "physical";
  /**
   * Make the copied full backup in `backupDir` consistent, or apply one incremental (`incrementalDir`) onto it.
   * `more`: further incrementals follow (XtraBackup must then not roll back uncommitted transactions yet).
   * Absent for a copy that is consistent as written (clone): the restore then skips prepare.
   */
  prepareCommand?(backupDir: string, options?: { incrementalDir?: string; more?: boolean }): CommandSpec;
  readCheckpoints(backupDir: string): Checkpoints | null;
  /**
   * The names the tool gives its checkpoints file, in the order read: MariaDB 11.x's mariadb-backup writes
   * `mariadb_backup_checkpoints` (and `_info`, `_binlog_info`), 10.11's and XtraBackup's `xtrabackup_checkpoints`.
   */
  checkpointFiles?: readonly string[];
  /**
   * The backup as one stream on stdout (`--stream`), with its checkpoints and position written to `infoDir`
   * (`--extra-lsndir`); an incremental takes the changes after `incrementalLsn`. Absent for a tool that writes a
   * directory only (clone).
   */
  streamCommand?(options: StreamCommandOptions): CommandSpec;
  /** The program that unpacks the stream into a directory (`mbstream -x -C DIR`), on the restore host. */
  extractCommand?(dir: string): CommandSpec;
  /** `mbstream` or `xbstream`: the stream's format, in the stored file's name. */
  streamFormat?: string;
}

export interface StreamCommandOptions {
  optionFile: string;
  datadir?: string;
  /** Where the tool writes xtrabackup_checkpoints and xtrabackup_info (plain, small, kept beside the stream). */
  infoDir: string;
  /** The tool's own scratch directory (--target-dir; it writes nothing there when streaming). */
  scratchDir: string;
  incrementalLsn?: number;
}

/** A logical backup: SQL text, loaded through the client into a freshly initialised server. */
export interface LogicalBackupTool extends ToolBase {
  kind: "logical";
  /** Create an empty datadir with the system tables, for the dump to be loaded into. */
  initializeCommand(datadir: string): CommandSpec;
  /** Load the dump into the running restored server (a shell line: the dump goes in on stdin). */
  /** `clientOptionFile`: the restored server's socket and verifier account, on the restore host. */
  loadCommand(backupDir: string, clientOptionFile: string): CommandSpec;
}

export type BackupTool = PhysicalBackupTool | LogicalBackupTool;
/** A physical tool whose copy is made consistent by a prepare step (the xtrabackup family). */
export type PreparedTool = PhysicalBackupTool & Required<Pick<PhysicalBackupTool, "prepareCommand">>;

/** Parse `xtrabackup_binlog_info` / `mariadb_backup_binlog_info`: "file<TAB>position<TAB>gtid". */
export function parseBinlogInfo(text: string): Position | null {
  const line = text.trim().split("\n")[0];
  if (!line) return null;
  const [file, position, gtid] = line.split(/\s+/);
  if (!file || !position || !/^\d+$/.test(position)) return null;
  return { file, position: Number(position), gtid: gtid ?? "" };
}

/** Parse `xtrabackup_checkpoints` ("backup_type = incremental", "from_lsn = 44878", …); null when a key is missing. */
export function parseCheckpoints(text: string): Checkpoints | null {
  const values = new Map<string, string>();
  for (const line of text.split("\n")) {
    const m = /^\s*(\w+)\s*=\s*(.*?)\s*$/.exec(line);
    if (m) values.set(m[1] as string, m[2] as string);
  }
  const backupType = values.get("backup_type");
  const from = values.get("from_lsn");
  const to = values.get("to_lsn");
  if (!backupType || !from || !to || !/^\d+$/.test(from) || !/^\d+$/.test(to)) return null;
  return { backupType, fromLsn: Number(from), toLsn: Number(to) };
}

/**
 * The position a dump was taken at, from the comment `--master-data=2` writes near its top
 * (`-- CHANGE MASTER TO MASTER_LOG_FILE='mysql-bin.000002', MASTER_LOG_POS=1234;`; MySQL 8.0.26+ spells it SOURCE_).
 */
export function parseDumpPosition(head: string): Position | null {
  const m = /CHANGE (?:MASTER|REPLICATION SOURCE) TO (?:MASTER|SOURCE)_LOG_FILE='([^']+)',\s*(?:MASTER|SOURCE)_LOG_POS=(\d+)/.exec(head);
  if (!m) return null;
  const gtid = /SET GLOBAL gtid_slave_pos='([^']*)'/.exec(head)?.[1] ?? "";
  return { file: m[1] as string, position: Number(m[2]), gtid };
}

/**
 * The position in `xtrabackup_info` (what --extra-lsndir keeps of a stream backup):
 * `binlog_pos = filename 'mysql-bin.000001', position '1160', GTID of the last change '0-1-5'`.
 */
export function parseToolInfoPosition(text: string): Position | null {
  const m = /^binlog_pos\s*=\s*filename '([^']+)', position '?(\d+)'?(?:, GTID of the last change '([^']*)')?/m.exec(text);
  if (!m) return null;
  return { file: m[1] as string, position: Number(m[2]), gtid: (m[3] ?? "").replace(/\s+/g, "") };
}

function readFirstExisting(dir: string, names: string[]): string | undefined {
  for (const name of names) {
    const path = join(dir, name);
    if (existsSync(path)) return readFileSync(path, "utf8");
  }
  return undefined;
}

/** The first bytes of a file: a dump's header, without reading gigabytes of data after it. */
function readHead(path: string, bytes = 1 << 20): string {
  const fd = openSync(path, "r");
  try {
    const buffer = Buffer.alloc(bytes);
    const n = readSync(fd, buffer, 0, bytes, 0);
    return buffer.subarray(0, n).toString("utf8");
  } finally {
    closeSync(fd);
  }
}

/** The xtrabackup family: one command-line shape, differing in binary, info-file names and one prepare flag. */
function physicalTool(spec: {
  name: string;
  binary: string;
  flavor: Flavor;
  /** XtraBackup must not roll back uncommitted transactions while more incrementals follow; mariadb-backup refuses the flag. */
  applyLogOnlyBetweenIncrementals: boolean;
  binlogInfoFiles: string[];
  checkpointFiles: string[];
  /** `--stream=` value, and the program that unpacks it. */
  stream: { format: string; extractor: string };
}): PreparedTool {
  return {
    name: spec.name,
    kind: "physical",
    flavor: spec.flavor,
    incremental: true,
    backupCommand: ({ targetDir, optionFile, datadir, incrementalBaseDir }) => ({
      file: spec.binary,
      args: [
        `--defaults-extra-file=${optionFile}`,
        "--backup",
        `--target-dir=${targetDir}`,
        ...(incrementalBaseDir ? [`--incremental-basedir=${incrementalBaseDir}`] : []),
        ...(datadir ? [`--datadir=${datadir}`] : []),
      ],
    }),
    prepareCommand: (backupDir, options = {}) => ({
      file: spec.binary,
      args: [
        "--prepare",
        ...(options.more && spec.applyLogOnlyBetweenIncrementals ? ["--apply-log-only"] : []),
        `--target-dir=${backupDir}`,
        ...(options.incrementalDir ? [`--incremental-dir=${options.incrementalDir}`] : []),
      ],
    }),
    streamCommand: ({ optionFile, datadir, infoDir, scratchDir, incrementalLsn }) => ({
      file: spec.binary,
      args: [
        `--defaults-extra-file=${optionFile}`,
        "--backup",
        `--stream=${spec.stream.format}`,
        `--target-dir=${scratchDir}`,
        `--extra-lsndir=${infoDir}`,
        ...(incrementalLsn !== undefined ? [`--incremental-lsn=${incrementalLsn}`] : []),
        ...(datadir ? [`--datadir=${datadir}`] : []),
      ],
    }),
    extractCommand: (dir) => ({ file: spec.stream.extractor, args: ["-x", "-C", dir] }),
    streamFormat: spec.stream.format,
    versionCommand: () => ({ file: spec.binary, args: ["--version"] }),
    readPosition(backupDir) {
      const text = readFirstExisting(backupDir, spec.binlogInfoFiles);
      if (text !== undefined) return parseBinlogInfo(text);
      // A stream backup keeps only xtrabackup_info beside the stream.
      const info = readFirstExisting(backupDir, ["xtrabackup_info", "mariadb_backup_info"]);
      return info === undefined ? null : parseToolInfoPosition(info);
    },
    readCheckpoints(backupDir) {
      const text = readFirstExisting(backupDir, spec.checkpointFiles);
      return text === undefined ? null : parseCheckpoints(text);
    },
    checkpointFiles: spec.checkpointFiles,
  };
}

/** MariaDB's mariadb-backup (mariabackup). Since 10.2 it needs no --apply-log-only between incrementals (10.11 refuses it). */
function mariabackupTool(toolchain?: string): PreparedTool {
  return {
    ...physicalTool({
      name: "mariabackup",
      binary: program("mariadb-backup", toolchain),
      flavor: flavor("mariadb", toolchain),
      applyLogOnlyBetweenIncrementals: false,
      binlogInfoFiles: ["mariadb_backup_binlog_info", "xtrabackup_binlog_info"],
      checkpointFiles: ["xtrabackup_checkpoints", "mariadb_backup_checkpoints"],
      stream: { format: "mbstream", extractor: program("mbstream", toolchain) },
    }),
    preflight: (db) => refuseUnlockableNames(db),
  };
}

/**
 * mariadb-backup (10.11 and 11.8 alike, measured) runs BACKUP LOCK `db`.`table` for each table of another engine
 * than InnoDB (Aria, MyISAM, CSV) without doubling a backtick in either name: the statement is a syntax error and the
 * backup dies ("FATAL ERROR … failed to execute query BACKUP LOCK"), minutes in, its cause deep in its log. Refused
 * before it starts, every such table named. It copies the whole server, so every schema is looked at.
 */
async function refuseUnlockableNames(db: Queryable): Promise<void> {
  // Names alone first: the server answers them from its directory listing, without opening a table's definition
  // (ENGINE does open every one); the engines only of the few names that hold a backtick.
  const named = await db.query<{ db: string; name: string }>(
    `SELECT TABLE_SCHEMA AS db, TABLE_NAME AS name FROM information_schema.TABLES WHERE LOCATE('\`', TABLE_SCHEMA) > 0 OR LOCATE('\`', TABLE_NAME) > 0`,
  );
  if (named.length === 0) return;
  const rows = await db.query<{ db: string; name: string; engine: string }>(
    `SELECT TABLE_SCHEMA AS db, TABLE_NAME AS name, ENGINE AS engine FROM information_schema.TABLES
      WHERE TABLE_TYPE = 'BASE TABLE' AND ENGINE <> 'InnoDB' AND (${named.map(() => "(TABLE_SCHEMA = ? AND TABLE_NAME = ?)").join(" OR ")})
      ORDER BY TABLE_SCHEMA, TABLE_NAME`,
    named.flatMap((n) => [n.db, n.name]),
  );
  if (rows.length === 0) return;
  const listed = rows.slice(0, 20).map((r) => `${qualifiedName(r.db, r.name)} (${r.engine})`);
  throw new Error(
    `mariadb-backup cannot copy ${rows.length} table(s) whose name holds a backtick, of engines it locks one by one: ${listed.join(", ")}${rows.length > 20 ? ", …" : ""}. ` +
      "It runs BACKUP LOCK on each without escaping the backtick, and the statement fails. Rename them, convert them to InnoDB (ALTER TABLE … ENGINE=InnoDB), or back this service up with tool: dump",
  );
}

/** Percona XtraBackup 8 for MySQL 8. */
function xtrabackupTool(toolchain?: string): PreparedTool {
  return physicalTool({
    name: "xtrabackup",
    binary: program("xtrabackup", toolchain),
    flavor: flavor("mysql", toolchain),
    applyLogOnlyBetweenIncrementals: true,
    binlogInfoFiles: ["xtrabackup_binlog_info"],
    checkpointFiles: ["xtrabackup_checkpoints"],
    stream: { format: "xbstream", extractor: program("xbstream", toolchain) },
  });
}

/** Where the clone tool records the binlog position and GTID set its copy starts from. */
export const CLONE_BINLOG_INFO = "clone_binlog_info";

/**
 * MySQL's CLONE plugin (8.0.17+): `CLONE LOCAL DATA DIRECTORY` makes the running server write a physical, consistent
 * copy of its whole datadir, redo applied: nothing to prepare, a restore is transfer + start. Full only. The server
 * process writes the copy, so its user (mysql) must be able to write the store's directory, on the source's host.
 *
 * Where the copy stands in the binlog: a local clone records no position (performance_schema.clone_status has one only
 * for a remote clone), but the copy holds its own GTID set (mysql.gtid_executed, which clone keeps exact). So the
 * position recorded is the one just before the clone started (performance_schema.log_status: file, position, GTID set),
 * and a replay from it skips, by GTID, every transaction the copy already has. That needs gtid_mode=ON on the source,
 * or a quiet source (backup.consistency quiescent, whose position check then proves nothing was written).
 */
function cloneTool(toolchain?: string): PhysicalBackupTool {
  const mysqlFlavor = flavor("mysql", toolchain);
  return {
    name: "clone",
    kind: "physical",
    flavor: mysqlFlavor,
    incremental: false,
    backupCommand: (options) => cloneCommand(mysqlFlavor, options),
    // What the clone could not copy whole is refused before it starts (a table of another engine would come back
    // empty, found only by the nightly).
    async preflight(db, databases, consistency) {
      await requireGtidsUnlessQuiet(db, consistency);
      await refuseOutsideTablespaces(db);
      await refuseOtherEngines(db, databases);
    },
    versionCommand: () => ({ file: mysqlFlavor.client, args: ["--version"] }),
    readPosition(backupDir) {
      const text = readFirstExisting(backupDir, [CLONE_BINLOG_INFO]);
      return text === undefined ? null : parseBinlogInfo(text);
    },
    readCheckpoints: () => null,
  };
}

/** The clone itself, through the client: the plugin checked, the position read just before, the copy, the position written beside it. */
function cloneCommand(mysqlFlavor: Flavor, { targetDir, optionFile }: BackupCommandOptions): CommandSpec {
  // Measured on MySQL 9.7: CLONE LOCAL DATA DIRECTORY refuses a path holding a backslash (ER_WRONG_VALUE "file
  // path"), however it is quoted; blanks, #, quotes, ;, $, backticks and non-ASCII it takes.
  if (targetDir.includes("\\")) {
    throw new Error(`MySQL's CLONE refuses a directory whose path holds a backslash: ${targetDir} (backup.store): choose a store path without one, or tool: dump`);
  }
  const client = `${shellQuote(mysqlFlavor.client)} ${shellQuote(`--defaults-extra-file=${optionFile}`)} --batch --skip-column-names`;
  const sql = (statement: string) => `${client} -e ${shellQuote(statement)}`;
  const active = "SELECT COUNT(*) FROM information_schema.PLUGINS WHERE PLUGIN_NAME = 'clone' AND PLUGIN_STATUS = 'ACTIVE'";
  const position =
    "SELECT JSON_UNQUOTE(LOCAL->'$.binary_log_file'), LOCAL->'$.binary_log_position', " +
    "REPLACE(REPLACE(JSON_UNQUOTE(LOCAL->'$.gtid_executed'), '\\n', ''), ' ', '') FROM performance_schema.log_status";
  const target = targetDir.replace(/\\/g, "\\\\").replace(/'/g, "''");
  return {
    file: "bash",
    args: [
      "-c",
      `set -o pipefail; if [ "$(${sql(active)})" != 1 ]; then echo "the clone plugin is not active on the source: run INSTALL PLUGIN clone SONAME 'mysql_clone.so' there (or add plugin-load-add=mysql_clone.so to its option file), and grant the backup user BACKUP_ADMIN" >&2; exit 3; fi` +
        ` && position="$(${sql(position)})"` +
        ` && ${sql(`CLONE LOCAL DATA DIRECTORY = '${target}'`)}` +
        ` && printf '%s\\n' "$position" > ${shellQuote(join(targetDir, CLONE_BINLOG_INFO))}`,
    ],
  };
}

/** Writes during the clone are found again only by their GTIDs (see cloneTool): without GTIDs, only a quiet source. */
async function requireGtidsUnlessQuiet(db: Queryable, consistency: "quiescent" | "snapshot" | "pausedReplica"): Promise<void> {
  if (consistency === "quiescent") return;
  const [mode] = await db.query<{ mode: string }>("SELECT @@GLOBAL.gtid_mode AS mode");
  if (mode?.mode !== "ON") {
    throw new Error(
      `clone with backup.consistency ${consistency} needs gtid_mode=ON on the source (it is ${mode?.mode ?? "unknown"}): the copy's place in the binlog is known by its GTID set only. ` +
        "Turn GTIDs on, or set backup.consistency: quiescent for a source nothing writes to during the backup",
    );
  }
}

/**
 * CLONE LOCAL writes a tablespace that lives outside the data directory (DATA DIRECTORY, a general tablespace's
 * ADD DATAFILE '/…') back to its own absolute path, which on the source's host is the source's file: the clone
 * stops with ERROR 1086 "File … already exists" (found by the generated-schema matrix). The whole instance is
 * cloned, so any database's count.
 */
async function refuseOutsideTablespaces(db: Queryable): Promise<void> {
  const outside = await db.query<{ name: string; path: string }>(
    `SELECT t.NAME AS name, d.PATH AS path FROM information_schema.INNODB_DATAFILES d
       JOIN information_schema.INNODB_TABLESPACES t ON t.SPACE = d.SPACE
      WHERE d.PATH LIKE '/%' ORDER BY t.NAME`,
  );
  if (outside.length > 0) {
    const named = outside.slice(0, 20).map((r) => `${r.name.replace("/", ".")} (${r.path})`);
    throw new Error(
      `clone cannot copy ${outside.length} tablespace(s) outside the data directory on the source's own host (CLONE LOCAL writes them back to their own path, which exists): ${named.join(", ")}${outside.length > 20 ? ", …" : ""}. ` +
        "Recreate them without DATA DIRECTORY (a rebuild keeps it), or back this service up with xtrabackup or dump",
    );
  }
}

/** Clone copies InnoDB data only: a table of another engine in the backed-up databases would be restored empty. */
async function refuseOtherEngines(db: Queryable, databases: readonly string[]): Promise<void> {
  if (databases.length === 0) return;
  const rows = await db.query<{ db: string; name: string; engine: string }>(
    `SELECT TABLE_SCHEMA AS db, TABLE_NAME AS name, ENGINE AS engine FROM information_schema.TABLES
      WHERE TABLE_TYPE = 'BASE TABLE' AND ENGINE <> 'InnoDB' AND TABLE_SCHEMA IN (${databases.map(() => "?").join(", ")})
      ORDER BY TABLE_SCHEMA, TABLE_NAME`,
    [...databases],
  );
  if (rows.length === 0) return;
  const named = rows.slice(0, 20).map((r) => `${r.db}.${r.name} (${r.engine})`);
  throw new Error(
    `clone copies InnoDB data only: ${rows.length} table(s) of other engines would be restored empty: ${named.join(", ")}${rows.length > 20 ? ", …" : ""}. ` +
      "Convert them to InnoDB (ALTER TABLE … ENGINE=InnoDB), or back this service up with xtrabackup or dump",
  );
}

export const DUMP_FILE = "dump.sql";
/** The dumped databases' events, as rows of mysql.event. */
export const EVENTS_FILE = "events.sql";
/** The server's accounts, grants, roles and time zones (`mariadb-dump --system=users,timezones`). */
export const SYSTEM_FILE = "system.sql";

/** `'a', 'b'` for an SQL IN list (names are data here, not identifiers). */
function sqlStrings(names: readonly string[]): string {
  return names.map((n) => `'${n.replace(/\\/g, "\\\\").replace(/'/g, "''")}'`).join(", ");
}

/**
 * MySQL's grant and time-zone tables, dumped as rows (REPLACE INTO) and loaded before FLUSH PRIVILEGES: MySQL's
 * mysqldump has no --system=users, and rows keep every account attribute exactly (SHOW CREATE USER would too, but only
 * one account at a time). Tables the source does not have are skipped by the dump (--ignore-error is not needed: all
 * exist since 8.0).
 */
const MYSQL_SYSTEM_TABLES = [
  "user",
  "db",
  "tables_priv",
  "columns_priv",
  "procs_priv",
  "proxies_priv",
  "role_edges",
  "default_roles",
  "global_grants",
  "password_history",
  "time_zone",
  "time_zone_name",
  "time_zone_transition",
  "time_zone_transition_type",
  "time_zone_leap_second",
];

/**
 * A logical dump (mariadb-dump or MySQL's mysqldump), for tiny services: one InnoDB snapshot (--single-transaction) at
 * a recorded binlog position (as a comment), with routines and triggers. MariaDB's events are dumped as mysql.event rows
 * (events.sql): the rows keep each event exactly as it was (its `starts`, `created`), which CREATE EVENT would set anew;
 * MySQL keeps events in its data dictionary, so they go into dump.sql as CREATE EVENT. Accounts and time zones go to
 * system.sql. Non-transactional tables are read outside the snapshot, so writes to them during the dump make it
 * inconsistent: use it where those tables are quiet.
 */
function dumpTool(name: "mariadb" | "mysql", toolchain?: string): LogicalBackupTool {
  const f = flavor(name, toolchain);
  const mysql = name === "mysql";
  return {
    name: "dump",
    kind: "logical",
    flavor: f,
    incremental: false,
    backupCommand: ({ targetDir, optionFile, databases }) => {
      if (!databases || databases.length === 0) throw new Error("a dump needs the databases to include (none listed or found)");
      const common = [`--defaults-extra-file=${optionFile}`, "--hex-blob", "--default-character-set=utf8mb4"];
      const data = [
        f.dump,
        ...common,
        "--single-transaction",
        mysql ? "--source-data=2" : "--master-data=2",
        "--routines",
        "--triggers",
        // MariaDB: system-versioned tables with their history rows (without it their restore loses every past version).
        // MySQL: events live in the data dictionary, dumped as CREATE EVENT with their database.
        ...(mysql ? ["--events"] : ["--dump-history"]),
        `--result-file=${join(targetDir, DUMP_FILE)}`,
        "--databases",
        ...databases,
      ];
      const events = [
        f.dump,
        ...common,
        "--no-create-info",
        "--skip-triggers",
        // Without --events, mariadb-dump leaves mysql.event out of any dump of the mysql database.
        "--events",
        "--complete-insert",
        `--where=db IN (${sqlStrings(databases)})`,
        `--result-file=${join(targetDir, EVENTS_FILE)}`,
        "mysql",
        "event",
      ];
      // The service, not only its rows: its accounts, grants, roles and time zones, replacing the fresh datadir's own
      // accounts. Read just after the data's snapshot. MariaDB: portable SQL (CREATE OR REPLACE USER, GRANT, REPLACE
      // INTO); --force: an account SHOW CREATE USER cannot show (a host name under skip-name-resolve) is left out, not
      // fatal, and shows as a difference in the accounts check. MySQL: the grant tables' rows.
      const system = mysql
        ? [f.dump, ...common, "--no-create-info", "--replace", "--complete-insert", "--skip-triggers", ...f.dumpArgs, `--result-file=${join(targetDir, SYSTEM_FILE)}`, "mysql", ...MYSQL_SYSTEM_TABLES]
        : [f.dump, ...common, "--system=users,timezones", "--replace", "--force", `--result-file=${join(targetDir, SYSTEM_FILE)}`];
      const line = (c: string[]) => c.map(shellQuote).join(" ");
      // With --force, exit code 2 means "some statements failed, the rest was dumped".
      const script = mysql ? `${line(data)} && ${line(system)}` : `${line(data)} && ${line(events)} && { ${line(system)} || [ $? -eq 2 ]; }`;
      return { file: "bash", args: ["-c", script] };
    },
    initializeCommand: (datadir) => f.server.initialize(datadir),
    loadCommand: (backupDir, clientOptionFile) => {
      const client = `${shellQuote(f.client)} --defaults-file=${shellQuote(clientOptionFile)} --binary-mode --default-character-set=utf8mb4`;
      const load = (file: string, database = "") => `${client}${database ? ` ${database}` : ""} < ${shellQuote(join(backupDir, file))}`;
      // MySQL: the grant tables' rows, then the privilege system reloads them (the verifier's own row stays).
      if (mysql) return { file: "bash", args: ["-c", `${load(DUMP_FILE)} && ${load(SYSTEM_FILE, "mysql")} && ${client} -e 'FLUSH PRIVILEGES'`] };
      return {
        file: "bash",
        args: [
          "-c",
          `${load(DUMP_FILE)} && ${load(EVENTS_FILE, "mysql")}` +
            // Statements about accounts the dump could not show in full (left out with --force) fail here too: what is
            // then missing or different is the accounts check's finding, named account by account.
            ` && { ${client} --force mysql < ${shellQuote(join(backupDir, SYSTEM_FILE))} || echo 'some statements of ${SYSTEM_FILE} failed: the accounts check shows what differs' >&2; }`,
        ],
      };
    },
    versionCommand: () => ({ file: f.dump, args: ["--version"] }),
    readPosition(backupDir) {
      const path = join(backupDir, DUMP_FILE);
      return existsSync(path) ? parseDumpPosition(readHead(path)) : null;
    },
  };
}

export const BACKUP_TOOL_NAMES = ["mariabackup", "xtrabackup", "clone", "dump"] as const;

/**
 * The adapter named in services.yaml `backup.tool`, its programs in `toolchain` when the service names one. `dump`
 * takes the flavour of the server it dumps (MariaDB unless `flavorName` says mysql).
 */
export function backupTool(name: string, toolchain?: string, flavorName: "mariadb" | "mysql" = "mariadb"): BackupTool {
  switch (name) {
    case "mariabackup":
      return mariabackupTool(toolchain);
    case "xtrabackup":
      return xtrabackupTool(toolchain);
    case "clone":
      return cloneTool(toolchain);
    case "dump":
      return dumpTool(flavorName, toolchain);
    default:
      throw new Error(`unknown backup tool ${JSON.stringify(name)} (known: ${BACKUP_TOOL_NAMES.join(", ")})`);
  }
}

export const mariabackup = mariabackupTool();
export const xtrabackup = xtrabackupTool();
export const clone = cloneTool();
export const dump = dumpTool("mariadb");
