// Which checks apply to which object, decided here and nowhere else, from the kind the server's catalog reports.
import type { CheckName } from "../config/schema.ts";

/** Stored schemas of the server itself: checked whatever `databases` says (information_schema and performance_schema are computed, nothing is restored). */
export const SYSTEM_SCHEMAS = ["mysql", "sys"] as const;

const ALL_TABLE_CHECKS: readonly CheckName[] = ["checksum", "definition", "rowCount", "integrity", "indexes", "autoIncrement"];

/**
 * Table checks by information_schema.TABLES.TABLE_TYPE. A system-versioned table is checked with its history rows
 * (CHECKSUM TABLE reads them; counts use FOR SYSTEM_TIME ALL). A sequence is one row of state: CHECK TABLE does not
 * support it and it has no indexes or auto-increment column. Views are database objects (`tables`, `views`).
 */
const TABLE_CHECKS_BY_TYPE: Readonly<Record<string, readonly CheckName[]>> = {
  "BASE TABLE": ALL_TABLE_CHECKS,
  "SYSTEM VERSIONED": ALL_TABLE_CHECKS,
  SEQUENCE: ["checksum", "definition"],
  VIEW: [],
};

/** Database-wide checks that cover each kind of object a database holds. */
const DATABASE_CHECKS_BY_KIND: Readonly<Record<string, readonly CheckName[]>> = {
  table: ["tables"],
  view: ["tables", "views"],
  trigger: ["triggers"],
  routine: ["routines"],
  event: ["events"],
  database: ["database"],
};

/** Server-wide checks by the kind of thing they cover. */
const SERVER_CHECKS_BY_KIND: Readonly<Record<string, readonly CheckName[]>> = { account: ["accounts"], setting: ["server"] };

/**
 * System tables whose rows the server rewrites as it runs, or that this tool changes on the restored server: their
 * presence, definition and integrity are checked, their rows are not (the reason says what covers them instead).
 */
const GRANT_TABLE = "a grant table: compared account by account, column by column, by the accounts check (the restore adds its verifier account)";

export const UNCOMPARED_SYSTEM_ROWS: Readonly<Record<string, string>> = {
  ...Object.fromEntries(
    // MariaDB's and MySQL's grant tables (src/db/accounts.ts reads every table with User and Host columns).
    ["global_priv", "user", "db", "tables_priv", "columns_priv", "procs_priv", "proxies_priv", "roles_mapping", "role_edges", "default_roles", "global_grants", "password_history"].map(
      (t) => [`mysql.${t}`, GRANT_TABLE],
    ),
  ),
  "mysql.general_log": "the server's own query log",
  "mysql.slow_log": "the server's own slow query log",
  "mysql.innodb_table_stats": "statistics InnoDB recalculates by itself",
  "mysql.innodb_index_stats": "statistics InnoDB recalculates by itself",
  "mysql.table_stats": "statistics recomputed by ANALYZE",
  "mysql.column_stats": "statistics recomputed by ANALYZE",
  "mysql.index_stats": "statistics recomputed by ANALYZE",
  "mysql.event": "the event scheduler updates last_executed without logging it; definitions are compared by the events check",
  "mysql.gtid_slave_pos": "replication state, which a replayed binlog does not update (the rejoin stage tests replication)",
  "mysql.gtid_executed": "replication state, which a replayed binlog does not update (the rejoin stage tests replication)",
  "mysql.transaction_registry": "transaction ids of system-versioned tables, new on every server that replays",
  "mysql.slave_master_info": "replication state (the rejoin stage tests replication)",
  "mysql.slave_relay_log_info": "replication state (the rejoin stage tests replication)",
  "mysql.slave_worker_info": "replication state (the rejoin stage tests replication)",
};

/** Checks that read a table's rows. */
const ROW_CHECKS: ReadonlySet<CheckName> = new Set(["checksum", "rowCount", "indexes", "autoIncrement"]);

/** An object that no enabled check covers: never a silent gap, always an error that names it. */
export class CoverageError extends Error {
  override name = "CoverageError";
}

export interface TableObject {
  database: string;
  name: string;
  /** TABLE_TYPE as the catalog reports it. */
  type: string;
  system?: boolean;
}

/**
 * The table checks that apply to `table`, among those enabled. `logical`: the backup is a dump, whose restore builds the
 * system schemas anew (routines' timestamps, statistics, sys_config): their rows are not compared, only what the dump
 * carries is (accounts, time zones: the accounts and server checks).
 */
export function tableChecksFor(table: TableObject, enabled: readonly string[], options: { logical?: boolean } = {}): CheckName[] {
  const byType = TABLE_CHECKS_BY_TYPE[table.type];
  if (!byType) {
    throw new CoverageError(
      `${table.database}.${table.name} is a ${JSON.stringify(table.type)}, a kind of table restoretest has no checks for: ` +
        `it cannot be verified, so the backup is refused rather than leave it unchecked (report it, with SHOW CREATE TABLE)`,
    );
  }
  const uncompared = table.system && (options.logical || UNCOMPARED_SYSTEM_ROWS[`${table.database}.${table.name}`] !== undefined);
  return byType.filter((c) => enabled.includes(c) && !(uncompared && ROW_CHECKS.has(c)));
}

export type ObjectKind = "table" | "view" | "trigger" | "routine" | "event" | "database" | "account" | "setting";

/** The database- and server-wide checks that cover an object of `kind`, among those enabled. */
export function coveringChecks(kind: ObjectKind, enabled: readonly string[]): CheckName[] {
  const by = DATABASE_CHECKS_BY_KIND[kind] ?? SERVER_CHECKS_BY_KIND[kind] ?? [];
  return by.filter((c) => enabled.includes(c));
}

/** What the catalog reports of one database, for the coverage rule. */
export interface DatabaseObjects {
  name: string;
  tables: readonly TableObject[];
  triggers: number;
  routines: number;
  events: number;
}

/**
 * Every object's check set, or a CoverageError naming the objects no enabled check covers, the kind, and what to
 * enable. Called at backup time, before anything is captured; `wholeServer`: accounts and settings are captured too.
 */
export function assertCovered(databases: readonly DatabaseObjects[], enabled: readonly string[], wholeServer: boolean, options: { logical?: boolean } = {}): void {
  const gaps: string[] = [];
  const need = (what: string, kind: ObjectKind, checks: readonly CheckName[]) => {
    if (checks.length === 0) gaps.push(`${what} (${kind}): enable ${(DATABASE_CHECKS_BY_KIND[kind] ?? SERVER_CHECKS_BY_KIND[kind] ?? []).join(" or ")}`);
  };
  for (const d of databases) {
    need(`database ${d.name}`, "database", coveringChecks("database", enabled));
    for (const t of d.tables) {
      const kind: ObjectKind = t.type === "VIEW" ? "view" : "table";
      const own = kind === "view" ? [] : tableChecksFor(t, enabled, options);
      if (own.length === 0 && coveringChecks(kind, enabled).length === 0) {
        gaps.push(`${d.name}.${t.name} (${t.type}): enable ${kind === "view" ? "views or tables" : `one of ${(TABLE_CHECKS_BY_TYPE[t.type] ?? []).join(", ")}`}`);
      }
    }
    if (d.triggers) need(`${d.triggers} trigger(s) of ${d.name}`, "trigger", coveringChecks("trigger", enabled));
    if (d.routines) need(`${d.routines} routine(s) of ${d.name}`, "routine", coveringChecks("routine", enabled));
    if (d.events) need(`${d.events} event(s) of ${d.name}`, "event", coveringChecks("event", enabled));
  }
  if (wholeServer) {
    need("the server's accounts", "account", coveringChecks("account", enabled));
    need("the server's settings", "setting", coveringChecks("setting", enabled));
  }
  if (gaps.length) {
    const shown = gaps.slice(0, 10).map((g) => `  ${g}`);
    if (gaps.length > 10) shown.push(`  … and ${gaps.length - 10} more`);
    throw new CoverageError(`verify.checks leaves objects unchecked, so the baseline is refused:\n${shown.join("\n")}`);
  }
}
