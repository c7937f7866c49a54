// server: the settings that change what the data means, captured at baseline time; the restored server starts with them.
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { z } from "zod";
import { serverSettings, type ServerSettings } from "../db/introspect.ts";
import type { Finding, ServerCheck } from "./types.ts";

const Schema = z.record(z.string(), z.string());

/** How each startup setting is given to the restored server; `null`: the value is left to the server. */
const STARTUP_OPTIONS: Partial<Record<keyof ServerSettings, (value: string) => string | null>> = {
  lower_case_table_names: (v) => `--lower-case-table-names=${v}`,
  character_set_server: (v) => `--character-set-server=${v}`,
  collation_server: (v) => `--collation-server=${v}`,
  sql_mode: (v) => `--sql-mode=${v}`,
  innodb_page_size: (v) => `--innodb-page-size=${v}`,
  explicit_defaults_for_timestamp: (v) => `--explicit-defaults-for-timestamp=${/^(1|on)$/i.test(v) ? "ON" : "OFF"}`,
  default_storage_engine: (v) => `--default-storage-engine=${v}`,
  // SYSTEM means the restore host's own zone: nothing to pass (a difference shows as system_time_zone).
  time_zone: (v) => (v === "SYSTEM" ? null : `--default-time-zone=${v}`),
};

/** The `[mysqld]` settings a physical backup recorded of its source (`backup-my.cnf`), as name → value. */
export function readBackupMyCnf(backupDataDir: string): Record<string, string> {
  const path = join(backupDataDir, "backup-my.cnf");
  return existsSync(path) ? parseBackupMyCnf(readFileSync(path, "utf8")) : {};
}

/** backup-my.cnf's `key=value` lines, keys with `_` (a stream backup's, read where it was unpacked). */
export function parseBackupMyCnf(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of text.split("\n")) {
    const m = /^\s*([\w-]+)\s*=\s*(.*?)\s*$/.exec(line);
    if (m) out[(m[1] as string).replace(/-/g, "_")] = m[2] as string;
  }
  return out;
}

/**
 * The restored server's command-line options that carry the source's settings (the safety overrides come after
 * them): the baseline's values, and where a manifest predates them, innodb_page_size from the backup's own backup-my.cnf.
 */
export function startupOptions(settings: Record<string, string> | undefined, backupMyCnf: Record<string, string> = {}): string[] {
  const values: Record<string, string> = { ...(backupMyCnf.innodb_page_size ? { innodb_page_size: backupMyCnf.innodb_page_size } : {}), ...settings };
  return Object.entries(STARTUP_OPTIONS).flatMap(([name, option]) => {
    const value = values[name];
    const arg = value === undefined ? null : (option as (v: string) => string | null)(value);
    return arg ? [arg] : [];
  });
}

/** `10.11.19-MariaDB-log` → `10.11`, the series a restore must match (a patch release apart reads the same data). */
function series(version: string): string {
  return /^(\d+\.\d+)/.exec(version)?.[1] ?? version;
}

export const server: ServerCheck<Record<string, string>> = {
  name: "server",
  scope: "server",
  description:
    "lower_case_table_names, character set and collation, sql_mode, innodb_page_size, explicit_defaults_for_timestamp, default storage engine, time zone (and whether the time zone tables are loaded) and the server series equal the source's",
  schema: Schema,
  capture: async (db) => ({ ...(await serverSettings(db)) }),
  compare(expected, actual): Finding {
    const differences: string[] = [];
    for (const name of Object.keys(expected)) {
      const want = expected[name] as string;
      const have = actual[name];
      if (name === "version") {
        if (series(want) !== series(have ?? "")) differences.push(`server version ${have} is not of the source's series ${series(want)} (source: ${want})`);
        continue;
      }
      if (name === "system_time_zone" && expected.time_zone !== "SYSTEM") continue;
      if (want !== have) {
        const hint = STARTUP_OPTIONS[name as keyof ServerSettings] ? " (a startup option: restore.optionsFile or the restore host's configuration sets it otherwise)" : "";
        differences.push(`${name} is ${JSON.stringify(have ?? null)}, the source's is ${JSON.stringify(want)}${hint}`);
      }
    }
    if (differences.length === 0) {
      const patch = expected.version !== actual.version ? `; version ${actual.version} (source ${expected.version})` : `; version ${actual.version}`;
      return { ok: true, summary: `${Object.keys(expected).length - 1} settings as on the source${patch}` };
    }
    return { ok: false, message: `the restored server's settings differ from the source's:\n${differences.map((d) => `  ${d}`).join("\n")}` };
  },
};
