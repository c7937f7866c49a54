// Backup tool adapters: the command lines of mariadb-backup, Percona XtraBackup and a logical dump, behind one interface.
import { closeSync, existsSync, openSync, readFileSync, readSync } from "node:fs";
import { join } from "node:path";
import type { Position } from "../baseline/manifest.ts";
import { shellQuote } from "../process/command.ts";

export interface CommandSpec {
  file: string;
  args: string[];
}

/** The programs of a server flavour: the server a backup is restored into, and what replays binlogs and loads SQL. */
export interface Flavor {
  client: string;
  binlog: string;
  /** The restored server, and options only it takes (`--loose-`: a server of the other flavour ignores them). */
  server: ServerFlavor;
}

export interface ServerFlavor {
  binary: string;
  extraArgs: readonly string[];
}

export const MARIADB_FLAVOR: Flavor = { client: "mariadb", binlog: "mariadb-binlog", server: { binary: "mariadbd", extraArgs: [] } };
/** MySQL 8 would also listen for the X protocol (port 33060): off, as every other way in is for a restored copy. */
export const MYSQL_FLAVOR: Flavor = { client: "mysql", binlog: "mysqlbinlog", server: { binary: "mysqld", extraArgs: ["--loose-mysqlx=OFF"] } };

/** What `xtrabackup_checkpoints` says: the kind of backup and the InnoDB LSN range its data covers. */
export interface Checkpoints {
  /** `full-backuped`, `incremental`, `log-applied`, `full-prepared`. */
  backupType: string;
  fromLsn: number;
  toLsn: number;
}

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
}

/** A physical backup: files copied from the datadir, copied into the restored server's datadir and made consistent there by `prepare`. */
export interface PhysicalBackupTool extends ToolBase {
  kind: "physical";
  /**
   * Make the copied full backup in `backupDir` consistent, or apply one incremental (`incrementalDir`) onto it.
   * `more`: further incrementals follow (XtraBackup must then not roll back uncommitted transactions yet).
   */
  prepareCommand(backupDir: string, options?: { incrementalDir?: string; more?: boolean }): CommandSpec;
  readCheckpoints(backupDir: string): Checkpoints | null;
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
  flavor: PhysicalBackupTool["flavor"];
  /** XtraBackup must not roll back uncommitted transactions while more incrementals follow; mariadb-backup refuses the flag. */
  applyLogOnlyBetweenIncrementals: boolean;
  binlogInfoFiles: string[];
  checkpointFiles: string[];
}): PhysicalBackupTool {
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
    versionCommand: () => ({ file: spec.binary, args: ["--version"] }),
    readPosition(backupDir) {
      const text = readFirstExisting(backupDir, spec.binlogInfoFiles);
      return text === undefined ? null : parseBinlogInfo(text);
    },
    readCheckpoints(backupDir) {
      const text = readFirstExisting(backupDir, spec.checkpointFiles);
      return text === undefined ? null : parseCheckpoints(text);
    },
  };
}

/** MariaDB's mariadb-backup (mariabackup). Since 10.2 it needs no --apply-log-only between incrementals (10.11 refuses it). */
export const mariabackup = physicalTool({
  name: "mariabackup",
  binary: "mariadb-backup",
  flavor: MARIADB_FLAVOR,
  applyLogOnlyBetweenIncrementals: false,
  binlogInfoFiles: ["mariadb_backup_binlog_info", "xtrabackup_binlog_info"],
  checkpointFiles: ["xtrabackup_checkpoints", "mariadb_backup_checkpoints"],
});

/** Percona XtraBackup 8 for MySQL 8. */
export const xtrabackup = physicalTool({
  name: "xtrabackup",
  binary: "xtrabackup",
  flavor: MYSQL_FLAVOR,
  applyLogOnlyBetweenIncrementals: true,
  binlogInfoFiles: ["xtrabackup_binlog_info"],
  checkpointFiles: ["xtrabackup_checkpoints"],
});

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
 * A logical dump with mariadb-dump, for tiny services: one InnoDB snapshot (--single-transaction) at a recorded
 * binlog position (--master-data=2, as a comment), with routines and triggers. Events are dumped as mysql.event rows
 * (events.sql): the rows keep each event exactly as it was (its `starts`, `created`), which CREATE EVENT would set
 * anew. Accounts and time zones go to system.sql. Non-transactional tables are read outside the
 * snapshot, so writes to them during the dump make it inconsistent: use it where those tables are quiet.
 */
export const dump: LogicalBackupTool = {
  name: "dump",
  kind: "logical",
  flavor: MARIADB_FLAVOR,
  incremental: false,
  backupCommand: ({ targetDir, optionFile, databases }) => {
    if (!databases || databases.length === 0) throw new Error("a dump needs the databases to include (none listed or found)");
    const common = [`--defaults-extra-file=${optionFile}`, "--hex-blob", "--default-character-set=utf8mb4"];
    const data = [
      "mariadb-dump",
      ...common,
      "--single-transaction",
      "--master-data=2",
      "--routines",
      "--triggers",
      // System-versioned tables with their history rows: without it their restore loses every past version.
      "--dump-history",
      `--result-file=${join(targetDir, DUMP_FILE)}`,
      "--databases",
      ...databases,
    ];
    const events = [
      "mariadb-dump",
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
    // The service, not only its rows: its accounts, grants, roles and time zones, as portable SQL (CREATE OR REPLACE
    // USER, GRANT, REPLACE INTO) that replaces the fresh datadir's own accounts. Read just after the data's snapshot.
    // --force: an account SHOW CREATE USER cannot show (a host name under skip-name-resolve) is left out, not fatal;
    // whatever is left out shows as a difference in the accounts check.
    const system = ["mariadb-dump", ...common, "--system=users,timezones", "--replace", "--force", `--result-file=${join(targetDir, SYSTEM_FILE)}`];
    const line = (c: string[]) => c.map(shellQuote).join(" ");
    // With --force, exit code 2 means "some statements failed, the rest was dumped".
    return { file: "bash", args: ["-c", `${line(data)} && ${line(events)} && { ${line(system)} || [ $? -eq 2 ]; }`] };
  },
  initializeCommand: (datadir) => ({
    file: "mariadb-install-db",
    args: ["--no-defaults", `--datadir=${datadir}`, "--user=root", "--auth-root-authentication-method=normal", "--skip-test-db", "--skip-name-resolve"],
  }),
  loadCommand: (backupDir, clientOptionFile) => {
    const client = `${MARIADB_FLAVOR.client} --defaults-file=${shellQuote(clientOptionFile)} --binary-mode --default-character-set=utf8mb4`;
    return {
      file: "bash",
      args: [
        "-c",
        `${client} < ${shellQuote(join(backupDir, DUMP_FILE))} && ${client} mysql < ${shellQuote(join(backupDir, EVENTS_FILE))}` +
          // Statements about accounts the dump could not show in full (left out with --force) fail here too: what is
          // then missing or different is the accounts check's finding, named account by account.
          ` && { ${client} --force mysql < ${shellQuote(join(backupDir, SYSTEM_FILE))} || echo 'some statements of ${SYSTEM_FILE} failed: the accounts check shows what differs' >&2; }`,
      ],
    };
  },
  versionCommand: () => ({ file: "mariadb-dump", args: ["--version"] }),
  readPosition(backupDir) {
    const path = join(backupDir, DUMP_FILE);
    return existsSync(path) ? parseDumpPosition(readHead(path)) : null;
  },
};

export const BACKUP_TOOLS: Record<string, BackupTool> = { mariabackup, xtrabackup, dump };

/** The adapter named in services.yaml `backup.tool`. */
export function backupTool(name: string): BackupTool {
  const tool = BACKUP_TOOLS[name];
  if (!tool) throw new Error(`unknown backup tool ${JSON.stringify(name)} (known: ${Object.keys(BACKUP_TOOLS).join(", ")})`);
  return tool;
}
