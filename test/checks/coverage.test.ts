// Coverage: which checks apply to which object, decided in one place; an object no enabled check covers is an error
// that names it. And the server check: settings compared by name, the source's settings handed to the restored server.
import { describe, expect, it } from "vitest";
import { CHECK_NAMES } from "../../src/config/schema.ts";
import { assertCovered, CoverageError, tableChecksFor, UNCOMPARED_SYSTEM_ROWS } from "../../src/checks/coverage.ts";
import { server, startupOptions } from "../../src/checks/settings.ts";

const ALL = [...CHECK_NAMES];
const table = (type: string, name = "t", system = false) => ({ database: system ? "mysql" : "shop", name, type, system });

describe("table checks by kind", () => {
  it("every table check for base and system-versioned tables, checksum and definition for a sequence", () => {
    expect(tableChecksFor(table("BASE TABLE"), ALL)).toEqual(["checksum", "definition", "rowCount", "integrity", "indexes", "autoIncrement"]);
    expect(tableChecksFor(table("SYSTEM VERSIONED"), ALL)).toEqual(tableChecksFor(table("BASE TABLE"), ALL));
    expect(tableChecksFor(table("SEQUENCE"), ALL)).toEqual(["checksum", "definition"]);
    expect(tableChecksFor(table("VIEW"), ALL)).toEqual([]);
  });

  it("only enabled checks, and no row checks for system tables the server rewrites or a dump rebuilds", () => {
    expect(tableChecksFor(table("BASE TABLE"), ["checksum", "tables"])).toEqual(["checksum"]);
    expect(tableChecksFor(table("BASE TABLE", "global_priv", true), ALL)).toEqual(["definition", "integrity"]);
    expect(tableChecksFor(table("BASE TABLE", "time_zone_name", true), ALL)).toContain("checksum");
    expect(tableChecksFor(table("BASE TABLE", "time_zone_name", true), ALL, { logical: true })).toEqual(["definition", "integrity"]);
    // Every exception says why, and names a table of the mysql schema.
    for (const [name, reason] of Object.entries(UNCOMPARED_SYSTEM_ROWS)) {
      expect(name).toMatch(/^mysql\.\w+$/);
      expect(reason.length).toBeGreaterThan(10);
    }
  });

  it("refuses a kind of table it has no rule for, naming the object and the kind", () => {
    expect(() => tableChecksFor(table("TEMPORARY", "scratch"), ALL)).toThrow(CoverageError);
    expect(() => tableChecksFor(table("TEMPORARY", "scratch"), ALL)).toThrow(/^shop\.scratch is a "TEMPORARY", a kind of table restoretest has no checks for/);
  });
});

describe("assertCovered", () => {
  const db = { name: "shop", tables: [table("BASE TABLE", "orders"), table("VIEW", "big"), table("SEQUENCE", "seq")], triggers: 2, routines: 0, events: 1 };

  it("accepts every object covered", () => {
    expect(() => assertCovered([db], ALL, true)).not.toThrow();
  });

  it("names every object no enabled check covers, its kind, and what to enable", () => {
    expect(() => assertCovered([db], ["rowCount", "database"], true)).toThrow(
      [
        "verify.checks leaves objects unchecked, so the baseline is refused:",
        "  shop.big (VIEW): enable views or tables",
        "  shop.seq (SEQUENCE): enable one of checksum, definition",
        "  2 trigger(s) of shop (trigger): enable triggers",
        "  1 event(s) of shop (event): enable events",
        "  the server's accounts (account): enable accounts",
        "  the server's settings (setting): enable server",
      ].join("\n"),
    );
  });

  it("does not ask for accounts and settings where only the databases are captured (the rejoin comparison)", () => {
    expect(() => assertCovered([{ ...db, triggers: 0, events: 0 }], ["checksum", "tables", "database"], false)).not.toThrow();
  });
});

describe("server settings", () => {
  const source = {
    version: "10.11.19-MariaDB-log",
    lower_case_table_names: "0",
    character_set_server: "utf8mb4",
    collation_server: "utf8mb4_unicode_ci",
    sql_mode: "STRICT_TRANS_TABLES,NO_ENGINE_SUBSTITUTION",
    innodb_page_size: "16384",
    explicit_defaults_for_timestamp: "1",
    default_storage_engine: "InnoDB",
    time_zone: "Europe/Berlin",
    system_time_zone: "UTC",
    time_zone_tables_loaded: "yes",
  };

  it("become the restored server's startup options (SYSTEM time zone left to the host; innodb_page_size from backup-my.cnf for old manifests)", () => {
    expect(startupOptions(source)).toEqual([
      "--lower-case-table-names=0",
      "--character-set-server=utf8mb4",
      "--collation-server=utf8mb4_unicode_ci",
      "--sql-mode=STRICT_TRANS_TABLES,NO_ENGINE_SUBSTITUTION",
      "--innodb-page-size=16384",
      "--explicit-defaults-for-timestamp=ON",
      "--default-storage-engine=InnoDB",
      "--default-time-zone=Europe/Berlin",
    ]);
    expect(startupOptions({ ...source, time_zone: "SYSTEM" })).not.toContain("--default-time-zone=SYSTEM");
    expect(startupOptions(undefined, { innodb_page_size: "32768" })).toEqual(["--innodb-page-size=32768"]);
  });

  it("are green across a patch release and the -log suffix, red across a series, each difference named", () => {
    expect(server.compare(source, { ...source, version: "10.11.20-MariaDB" }).ok).toBe(true);
    const finding = server.compare(source, { ...source, version: "11.4.2-MariaDB", sql_mode: "", time_zone_tables_loaded: "no", system_time_zone: "CET" });
    expect(finding).toEqual({
      ok: false,
      message: [
        "the restored server's settings differ from the source's:",
        "  server version 11.4.2-MariaDB is not of the source's series 10.11 (source: 10.11.19-MariaDB-log)",
        '  sql_mode is "", the source\'s is "STRICT_TRANS_TABLES,NO_ENGINE_SUBSTITUTION" (a startup option: restore.optionsFile or the restore host\'s configuration sets it otherwise)',
        '  time_zone_tables_loaded is "no", the source\'s is "yes"',
      ].join("\n"),
    });
    // system_time_zone matters only where the time zone is SYSTEM.
    expect(server.compare({ ...source, time_zone: "SYSTEM" }, { ...source, time_zone: "SYSTEM", system_time_zone: "CET" }).ok).toBe(false);
  });
});
