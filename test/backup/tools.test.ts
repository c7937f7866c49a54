// The exact commands each backup tool adapter runs. XtraBackup cannot be installed here, so its commands are pinned by
// these tests (docs/backup-tools.md); mariadb-backup and the dump also run for real in chain.test.ts and dump.test.ts.
import { describe, expect, it } from "vitest";
import { backupTool, clone, dump, mariabackup, parseCheckpoints, parseDumpPosition, xtrabackup } from "../../src/backup/tool.ts";
import { shellQuote } from "../../src/base/command.ts";
import { replayScript } from "../../src/binlog/replay.ts";

const cmd = (c: { file: string; args: string[] }) => [c.file, ...c.args].join(" ");

describe("xtrabackup (Percona XtraBackup 8, MySQL 8)", () => {
  it("takes full and incremental backups", () => {
    expect(cmd(xtrabackup.backupCommand({ targetDir: "/s/b1/data", optionFile: "/w/client.cnf", datadir: "/var/lib/mysql" }))).toBe(
      "xtrabackup --defaults-extra-file=/w/client.cnf --backup --target-dir=/s/b1/data --datadir=/var/lib/mysql",
    );
    expect(cmd(xtrabackup.backupCommand({ targetDir: "/s/b2/data", optionFile: "/w/client.cnf", incrementalBaseDir: "/s/b1/data" }))).toBe(
      "xtrabackup --defaults-extra-file=/w/client.cnf --backup --target-dir=/s/b2/data --incremental-basedir=/s/b1/data",
    );
  });

  it("prepares a chain with --apply-log-only on every step but the last", () => {
    // full + 2 incrementals, in the order the pipeline runs them
    expect(cmd(xtrabackup.prepareCommand("/r/datadir", { more: true }))).toBe("xtrabackup --prepare --apply-log-only --target-dir=/r/datadir");
    expect(cmd(xtrabackup.prepareCommand("/r/datadir", { incrementalDir: "/r/incremental-1-b2", more: true }))).toBe(
      "xtrabackup --prepare --apply-log-only --target-dir=/r/datadir --incremental-dir=/r/incremental-1-b2",
    );
    expect(cmd(xtrabackup.prepareCommand("/r/datadir", { incrementalDir: "/r/incremental-2-b3", more: false }))).toBe(
      "xtrabackup --prepare --target-dir=/r/datadir --incremental-dir=/r/incremental-2-b3",
    );
    // a lone full
    expect(cmd(xtrabackup.prepareCommand("/r/datadir"))).toBe("xtrabackup --prepare --target-dir=/r/datadir");
  });

  it("reports its version, starts mysqld and replays with the MySQL clients", () => {
    expect(cmd(xtrabackup.versionCommand())).toBe("xtrabackup --version");
    expect(xtrabackup.flavor).toMatchObject({ name: "mysql", client: "mysql", binlog: "mysqlbinlog", dump: "mysqldump", server: { binary: "mysqld", skipReplicaStart: "--skip-replica-start" } });
    expect(xtrabackup.flavor.server.extraArgs({ tmpdir: "/r/tmp" })).toEqual(["--mysqlx=OFF", "--skip-log-bin", "--secure-file-priv=/r/tmp"]);
    expect(replayScript({ files: ["binlog.000007"], startPosition: 157, stopPosition: 900 }, "/r/binlogs", "/r/client.cnf", xtrabackup.flavor)).toBe(
      "set -o pipefail; mysqlbinlog --start-position=157 --stop-position=900 /r/binlogs/binlog.000007 | mysql --defaults-file=/r/client.cnf --binary-mode",
    );
  });
});

describe("mariadb-backup", () => {
  it("never passes --apply-log-only (MariaDB 10.11 refuses it) and applies incrementals with --incremental-dir", () => {
    expect(cmd(mariabackup.backupCommand({ targetDir: "/s/b2/data", optionFile: "/w/c.cnf", datadir: "/d", incrementalBaseDir: "/s/b1/data" }))).toBe(
      "mariadb-backup --defaults-extra-file=/w/c.cnf --backup --target-dir=/s/b2/data --incremental-basedir=/s/b1/data --datadir=/d",
    );
    expect(cmd(mariabackup.prepareCommand("/r/datadir", { more: true }))).toBe("mariadb-backup --prepare --target-dir=/r/datadir");
    expect(cmd(mariabackup.prepareCommand("/r/datadir", { incrementalDir: "/r/incremental-1-b2", more: false }))).toBe(
      "mariadb-backup --prepare --target-dir=/r/datadir --incremental-dir=/r/incremental-1-b2",
    );
  });
});

describe("dump", () => {
  it("dumps the databases at a recorded position, and their events as mysql.event rows", () => {
    const c = dump.backupCommand({ targetDir: "/s/b1/data", optionFile: "/w/c.cnf", databases: ["shop", "o'brien"] });
    expect(c.file).toBe("bash");
    expect(c.args[1]).toBe(
      "mariadb-dump --defaults-extra-file=/w/c.cnf --hex-blob --default-character-set=utf8mb4 --single-transaction --master-data=2 --routines --triggers " +
        "--dump-history --result-file=/s/b1/data/dump.sql --databases shop 'o'\\''brien' && " +
        "mariadb-dump --defaults-extra-file=/w/c.cnf --hex-blob --default-character-set=utf8mb4 --no-create-info --skip-triggers --events --complete-insert " +
        "'--where=db IN ('\\''shop'\\'', '\\''o'\\'''\\''brien'\\'')' --result-file=/s/b1/data/events.sql mysql event && " +
        "{ mariadb-dump --defaults-extra-file=/w/c.cnf --hex-blob --default-character-set=utf8mb4 --system=users,timezones --replace --force " +
        "--result-file=/s/b1/data/system.sql || [ $? -eq 2 ]; }",
    );
    expect(() => dump.backupCommand({ targetDir: "/s", optionFile: "/c", databases: [] })).toThrow(/needs the databases/);
  });

  it("initialises an empty datadir and loads the dump through the client", () => {
    expect(cmd(dump.initializeCommand("/r/datadir"))).toBe(
      "mariadb-install-db --no-defaults --datadir=/r/datadir --auth-root-authentication-method=normal --skip-test-db --skip-name-resolve",
    );
    expect(dump.loadCommand("/r/datadir", "/r/client.cnf").args[1]).toBe(
      "mariadb --defaults-file=/r/client.cnf --binary-mode --default-character-set=utf8mb4 < /r/datadir/dump.sql && " +
        "mariadb --defaults-file=/r/client.cnf --binary-mode --default-character-set=utf8mb4 mysql < /r/datadir/events.sql && " +
        "{ mariadb --defaults-file=/r/client.cnf --binary-mode --default-character-set=utf8mb4 --force mysql < /r/datadir/system.sql || " +
        "echo 'some statements of system.sql failed: the accounts check shows what differs' >&2; }",
    );
  });
});

describe("tool output files", () => {
  it("reads xtrabackup_checkpoints", () => {
    expect(parseCheckpoints("backup_type = incremental\nfrom_lsn = 44878\nto_lsn = 44894\nlast_lsn = 47314\nrecover_binlog_info = 0\n")).toEqual({
      backupType: "incremental",
      fromLsn: 44878,
      toLsn: 44894,
    });
    expect(parseCheckpoints("backup_type = full-backuped\nfrom_lsn = 0\n")).toBeNull();
  });

  it("reads a dump's position from its --master-data comment (MariaDB and MySQL 8.0.26+ spellings)", () => {
    const maria = "-- Position to start replication or point-in-time recovery from\n--\n\n-- CHANGE MASTER TO MASTER_LOG_FILE='mysql-bin.000002', MASTER_LOG_POS=1234;\n";
    expect(parseDumpPosition(maria)).toEqual({ file: "mysql-bin.000002", position: 1234, gtid: "" });
    expect(parseDumpPosition(`${maria}-- SET GLOBAL gtid_slave_pos='0-1-55';\n`)).toEqual({ file: "mysql-bin.000002", position: 1234, gtid: "0-1-55" });
    expect(parseDumpPosition("-- CHANGE REPLICATION SOURCE TO SOURCE_LOG_FILE='binlog.000007', SOURCE_LOG_POS=157;")).toEqual({
      file: "binlog.000007",
      position: 157,
      gtid: "",
    });
    expect(parseDumpPosition("-- MariaDB dump 10.19\n")).toBeNull();
  });
});

describe("clone (MySQL's clone plugin)", () => {
  it("checks the plugin, records log_status's position, then clones into the target; no prepare, full only", () => {
    const c = clone.backupCommand({ targetDir: "/s/b1/data", optionFile: "/w/client.cnf" });
    expect(c.file).toBe("bash");
    // The shell quotes each statement: compare the statements as the client receives them.
    const script = (c.args[1] as string).replace(/'\\''/g, "'");
    expect(script).toContain("PLUGIN_NAME = 'clone' AND PLUGIN_STATUS = 'ACTIVE'");
    expect(script).toContain("INSTALL PLUGIN clone SONAME 'mysql_clone.so'");
    // The position is read before the clone starts; the copy's own GTID set covers what committed during it.
    expect(script.indexOf("performance_schema.log_status")).toBeLessThan(script.indexOf("CLONE LOCAL DATA DIRECTORY = '/s/b1/data'"));
    expect(script).toContain("> /s/b1/data/clone_binlog_info");
    expect(clone.prepareCommand).toBeUndefined();
    expect(clone.incremental).toBe(false);
    expect(clone.flavor.name).toBe("mysql");
  });

  it("names the store path MySQL's CLONE refuses (a backslash in it), and quotes any other for SQL, then for the shell", () => {
    expect(() => clone.backupCommand({ targetDir: "/s\\x/b1/data", optionFile: "/w/c.cnf" })).toThrow(
      "MySQL's CLONE refuses a directory whose path holds a backslash: /s\\x/b1/data (backup.store): choose a store path without one, or tool: dump",
    );
    const script = clone.backupCommand({ targetDir: "/s #'\"$`ü/b1/data", optionFile: "/w/c.cnf" }).args[1] as string;
    expect(script).toContain(shellQuote("CLONE LOCAL DATA DIRECTORY = '/s #''\"$`ü/b1/data'"));
  });

  it("takes its programs from the service's toolchain", () => {
    const tool = backupTool("clone", "/opt/mysql/bin");
    expect(tool.flavor.client).toBe("/opt/mysql/bin/mysql");
    expect(tool.flavor.server.binary).toBe("/opt/mysql/bin/mysqld");
    expect(tool.flavor.server.initialize("/r/d")).toEqual({ file: "/opt/mysql/bin/mysqld", args: ["--no-defaults", "--initialize-insecure", "--datadir=/r/d", "--user=root"] });
  });
});

describe("dump on MySQL (mysqldump)", () => {
  it("dumps with --source-data and events, the grant tables as rows, and loads them before FLUSH PRIVILEGES", () => {
    const tool = backupTool("dump", undefined, "mysql");
    const script = tool.backupCommand({ targetDir: "/s/b1/data", optionFile: "/w/c.cnf", databases: ["shop"] }).args[1] as string;
    expect(script).toMatch(/^mysqldump --defaults-extra-file=\/w\/c\.cnf --hex-blob --default-character-set=utf8mb4 --single-transaction --source-data=2 --routines --triggers --events /);
    expect(script).toContain("--replace --complete-insert --skip-triggers --set-gtid-purged=OFF --result-file=/s/b1/data/system.sql mysql user db tables_priv");
    expect(script).not.toContain("--system=");
    const load = tool.kind === "logical" ? (tool.loadCommand("/r/staging", "/r/client.cnf").args[1] as string) : "";
    expect(load).toBe(
      "mysql --defaults-file=/r/client.cnf --binary-mode --default-character-set=utf8mb4 < /r/staging/dump.sql && " +
        "mysql --defaults-file=/r/client.cnf --binary-mode --default-character-set=utf8mb4 mysql < /r/staging/system.sql && " +
        "mysql --defaults-file=/r/client.cnf --binary-mode --default-character-set=utf8mb4 -e 'FLUSH PRIVILEGES'",
    );
  });
});
