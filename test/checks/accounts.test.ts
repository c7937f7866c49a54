// The accounts check's pure parts: hashes never survive, big privilege masks stay exact, and each difference is named.
// MySQL's grant tables (user, role_edges, global_grants, password_history) go through the same code as MariaDB's;
// they cannot be read from a real MySQL here, so their rows are written out as the MySQL 8 catalog has them.
import { describe, expect, it } from "vitest";
import { accounts } from "../../src/checks/accounts.ts";
import {
  collectAccounts,
  digestHash,
  flattenPriv,
  globalPrivileges,
  maskStatement,
  quoteBigIntegers,
  type Accounts,
  type GrantTable,
} from "../../src/db/accounts.ts";

const KEY = Buffer.alloc(32, 7);
const HASH = "*2B602296A79E0A8784ACC5C88D92E46588CCA3C3";

describe("password hashes", () => {
  it("become a keyed digest: equal hashes equal digests, another key or hash another digest, no password stays empty", () => {
    expect(digestHash(HASH, KEY)).toMatch(/^digest:[0-9a-f]{32}$/);
    expect(digestHash(HASH, KEY)).toBe(digestHash(HASH, KEY));
    expect(digestHash(HASH, Buffer.alloc(32, 8))).not.toBe(digestHash(HASH, KEY));
    expect(digestHash(HASH.replace("C3", "C4"), KEY)).not.toBe(digestHash(HASH, KEY));
    expect(digestHash("", KEY)).toBe("");
  });

  it("are digested wherever MariaDB's Priv JSON holds them, alternatives (auth_or) included", () => {
    const priv = JSON.stringify({ access: 0, plugin: "ed25519", authentication_string: "abc", auth_or: [{ plugin: "mysql_native_password", authentication_string: HASH }, {}] });
    const flat = flattenPriv(priv, KEY);
    expect(JSON.stringify(flat)).not.toContain(HASH);
    expect(JSON.stringify(flat)).not.toContain('"abc"');
    expect(flat["Priv.auth_or[0].authentication_string"]).toBe(digestHash(HASH, KEY));
    expect(flat["Priv.plugin"]).toBe("ed25519");
  });

  it("never survive in a SHOW CREATE USER / SHOW GRANTS statement, MariaDB's or MySQL's form", () => {
    const statements = [
      `CREATE USER \`app\`@\`%\` IDENTIFIED BY PASSWORD '${HASH}'`,
      "CREATE USER `a`@`%` IDENTIFIED VIA ed25519 USING 'ZIgUREUg5PVgQ6LskhXmO+eZLS0nC8be6HPjYWR4YJY' OR unix_socket",
      "CREATE USER `m`@`%` IDENTIFIED WITH 'caching_sha2_password' AS 0x244124303035245B3A",
    ];
    for (const statement of statements) {
      const masked = maskStatement(statement, KEY);
      expect(masked).toMatch(/'digest:[0-9a-f]{32}'/);
      expect(masked).not.toMatch(/2B602296|ZIgUREUg5|244124303035/);
    }
    expect(maskStatement("GRANT SELECT ON `shop`.* TO `app`@`%`", KEY)).toBe("GRANT SELECT ON `shop`.* TO `app`@`%`");
    // A form the masking does not know: refused rather than recorded.
    expect(() => maskStatement(`ALTER USER x IDENTIFIED BY '${HASH}' -- unknown`.replace("BY", "FROM"), KEY)).toThrow(/refusing to record/);
  });
});

describe("global privileges", () => {
  it("keep every bit of ALL PRIVILEGES (2^64-1) and name what they hold", () => {
    expect(quoteBigIntegers('{"access":18446744073709551615,"x":"1234567890123456789"}')).toBe('{"access":"18446744073709551615","x":"1234567890123456789"}');
    expect(flattenPriv('{"access":18446744073709551615}', KEY)["Priv.access"]).toBe("18446744073709551615");
    expect(globalPrivileges("256")).toEqual(["PROCESS"]);
    expect(globalPrivileges(String(2 ** 38))).toEqual(["SLAVE MONITOR"]);
    expect(globalPrivileges(String(2n ** 39n))).toEqual(["SHOW CREATE ROUTINE"]);
    expect(globalPrivileges(String(2n ** 40n))).toEqual(["privilege bit 40"]);
  });
});

const MYSQL_TABLES: GrantTable[] = [
  { table: "user", user: "User", host: "Host", key: [] },
  { table: "db", user: "User", host: "Host", key: ["Db"] },
  { table: "role_edges", user: "TO_USER", host: "TO_HOST", key: ["FROM_HOST", "FROM_USER"] },
  { table: "global_grants", user: "USER", host: "HOST", key: ["PRIV"] },
  { table: "password_history", user: "User", host: "Host", key: ["Password_timestamp"] },
];

function mysqlRows(options: { appPassword?: string; locked?: "Y" | "N"; backupAdmin?: boolean } = {}): Map<string, Record<string, unknown>[]> {
  return new Map<string, Record<string, unknown>[]>([
    [
      "user",
      [
        { Host: "%", User: "app", Select_priv: "N", plugin: "caching_sha2_password", authentication_string: options.appPassword ?? "$A$005$hash-of-app", account_locked: options.locked ?? "N", password_lifetime: "90", max_user_connections: "20" },
        { Host: "%", User: "reader", Select_priv: "N", plugin: "caching_sha2_password", authentication_string: "", account_locked: "Y", password_lifetime: "NULL", max_user_connections: "0" },
      ],
    ],
    ["db", [{ Host: "%", Db: "shop", User: "reader", Select_priv: "Y", Insert_priv: "N" }]],
    ["role_edges", [{ FROM_HOST: "%", FROM_USER: "reader", TO_HOST: "%", TO_USER: "app", WITH_ADMIN_OPTION: "N" }]],
    ["global_grants", options.backupAdmin === false ? [] : [{ USER: "app", HOST: "%", PRIV: "BACKUP_ADMIN", WITH_GRANT_OPTION: "N" }]],
    ["password_history", [{ Host: "%", User: "app", Password_timestamp: "2026-01-01 00:00:00", Password: "$A$005$old-hash" }]],
  ]);
}

describe("MySQL's grant tables", () => {
  it("give the same accounts, roles from role_edges, dynamic privileges and password history digested", () => {
    const found = collectAccounts(MYSQL_TABLES, mysqlRows(), KEY);
    expect(Object.keys(found).sort()).toEqual(["'app'@'%'", "'reader'@'%'"]);
    expect(found["'reader'@'%'"]?.kind).toBe("role");
    expect(found["'app'@'%'"]?.rows["mysql.global_grants PRIV=BACKUP_ADMIN"]).toEqual({ WITH_GRANT_OPTION: "N" });
    expect(JSON.stringify(found)).not.toMatch(/hash-of-app|old-hash/);
    expect(found["'app'@'%'"]?.rows["mysql.password_history Password_timestamp=2026-01-01 00:00:00"]?.Password).toMatch(/^digest:/);
  });

  it("name a changed password, a lost dynamic privilege and an unlocked account", () => {
    const before = collectAccounts(MYSQL_TABLES, mysqlRows(), KEY);
    const after = collectAccounts(MYSQL_TABLES, mysqlRows({ appPassword: "$A$005$other", backupAdmin: false, locked: "N" }), KEY);
    const finding = accounts.compare(before, after);
    expect(finding.ok).toBe(false);
    const message = finding.ok ? "" : finding.message;
    expect(message).toContain("'app'@'%': authentication changed: the password differs");
    expect(message).toContain("'app'@'%': grant row mysql.global_grants PRIV=BACKUP_ADMIN missing from the restore");
    const unlocked = collectAccounts(MYSQL_TABLES, mysqlRows({ locked: "Y" }), KEY);
    const lock = accounts.compare(unlocked, before);
    expect(lock.ok ? "" : lock.message).toContain("'app'@'%': mysql.user account_locked: Y → N");
  });

  it("leave out the accounts the restore made itself", () => {
    const found = collectAccounts(MYSQL_TABLES, mysqlRows(), KEY, [{ user: "app", host: "%" }]);
    expect(Object.keys(found)).toEqual(["'reader'@'%'"]);
  });
});

describe("the accounts comparison", () => {
  const base: Accounts = {
    "'a'@'%'": { kind: "user", rows: { "mysql.global_priv": { "Priv.access": "256", "Priv.plugin": "mysql_native_password", "Priv.authentication_string": "digest:1" } } },
    "'r'@''": { kind: "role", rows: { "mysql.global_priv": { "Priv.is_role": "true" } } },
  };

  it("is green with a summary when nothing differs", () => {
    expect(accounts.compare(base, structuredClone(base))).toEqual({ ok: true, summary: "1 users and 1 roles with their grants as in the baseline" });
  });

  it("names missing and extra accounts, privileges by name, plugin and password changes", () => {
    const restored = structuredClone(base);
    delete restored["'r'@''"];
    restored["'x'@'h'"] = { kind: "user", rows: {} };
    restored["'a'@'%'"] = { kind: "user", rows: { "mysql.global_priv": { "Priv.access": "1", "Priv.plugin": "ed25519", "Priv.authentication_string": "" } } };
    const finding = accounts.compare(base, restored);
    expect(finding).toEqual({
      ok: false,
      message: [
        "accounts differ from the baseline:",
        "  'r'@'' (role) is missing from the restore",
        "  'x'@'h' (user) is not in the baseline",
        "  'a'@'%': global privileges changed: lost PROCESS; gained SELECT",
        "  'a'@'%': authentication changed: plugin mysql_native_password → ed25519",
        "  'a'@'%': authentication changed: password removed",
      ].join("\n"),
    });
  });
});
