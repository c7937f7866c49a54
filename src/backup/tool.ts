// Backup tool adapters: the command lines of a physical backup tool, behind one small interface.
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import type { Position } from "../baseline/manifest.ts";

export interface CommandSpec {
  file: string;
  args: string[];
}

export interface BackupTool {
  name: string;
  /** Full backup of a running server into an empty `targetDir`, on the source's host. */
  backupCommand(options: { targetDir: string; optionFile: string; datadir?: string }): CommandSpec;
  /** Make a copied backup consistent (apply the redo log), in place. */
  prepareCommand(backupDir: string): CommandSpec;
  /** Move the prepared files into an empty datadir (same filesystem: renames, no second copy). */
  moveBackCommand(backupDir: string, datadir: string): CommandSpec;
  versionCommand(): CommandSpec;
  /** The binlog position the backup is consistent at, from the tool's own info file. */
  readPosition(backupDir: string): Position | null;
}

/** Parse `xtrabackup_binlog_info` / `mariadb_backup_binlog_info`: "file<TAB>position<TAB>gtid". */
export function parseBinlogInfo(text: string): Position | null {
  const line = text.trim().split("\n")[0];
  if (!line) return null;
  const [file, position, gtid] = line.split(/\s+/);
  if (!file || !position || !/^\d+$/.test(position)) return null;
  return { file, position: Number(position), gtid: gtid ?? "" };
}

function readFirstExisting(dir: string, names: string[]): string | undefined {
  for (const name of names) {
    const path = join(dir, name);
    if (existsSync(path)) return readFileSync(path, "utf8");
  }
  return undefined;
}

/** MariaDB's mariadb-backup (mariabackup). */
export const mariabackup: BackupTool = {
  name: "mariabackup",
  backupCommand: ({ targetDir, optionFile, datadir }) => ({
    file: "mariadb-backup",
    args: [`--defaults-extra-file=${optionFile}`, "--backup", `--target-dir=${targetDir}`, ...(datadir ? [`--datadir=${datadir}`] : [])],
  }),
  prepareCommand: (backupDir) => ({ file: "mariadb-backup", args: ["--prepare", `--target-dir=${backupDir}`] }),
  moveBackCommand: (backupDir, datadir) => ({
    file: "mariadb-backup",
    args: ["--move-back", `--target-dir=${backupDir}`, `--datadir=${datadir}`],
  }),
  versionCommand: () => ({ file: "mariadb-backup", args: ["--version"] }),
  readPosition(backupDir) {
    const text = readFirstExisting(backupDir, ["mariadb_backup_binlog_info", "xtrabackup_binlog_info"]);
    return text === undefined ? null : parseBinlogInfo(text);
  },
};

export const BACKUP_TOOLS: Record<string, BackupTool> = { mariabackup };
