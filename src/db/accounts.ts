// Reading a server's accounts and grants from its own grant tables, with every password hash replaced by a keyed digest.
import { createHmac } from "node:crypto";
import type { Queryable } from "./connection.ts";
import { qualifiedName, quoteIdent } from "./quote.ts";
import type { AccountsFlavor } from "../server/flavor.ts";

/** One account's rows in the grant tables: `mysql.db db=blog` → column → value (hashes already digested). */
export interface AccountGrants {
  /** `role` where the server marks the account as one (MariaDB's is_role, MySQL's role edges); else `user`. */
  kind: "user" | "role";
  rows: Record<string, Record<string, string>>;
}

/** Every account by `'user'@'host'`. */
export type Accounts = Record<string, AccountGrants>;

/** A grant table, and which of its columns name the account a row belongs to. */
export interface GrantTable {
  table: string;
  user: string;
  host: string;
  /** The primary key's other columns: they tell one row of the account from another (`db=blog table=posts`). */
  key: string[];
}


/** Column and JSON key names that hold a password hash: never stored, only their digest. */
const HASHES = new Set(["authentication_string", "password", "additional_password"]);

export function isHashField(name: string): boolean {
  return HASHES.has(name.toLowerCase());
}

/** `digest:` and 32 hex digits of HMAC-SHA256(key, hash); an empty hash (no password) stays empty. */
export function digestHash(value: string, key: Buffer): string {
  if (value === "") return "";
  return `digest:${createHmac("sha256", key).update(value).digest("hex").slice(0, 32)}`;
}

export function accountName(user: string, host: string): string {
  return `'${user}'@'${host}'`;
}

/** The grant tables the catalog reports, plus the flavour's additions that exist on this server. */
export async function grantTables(db: Queryable, flavor: AccountsFlavor): Promise<(GrantTable & { columns: { name: string; binary: boolean }[] })[]> {
  const columns = await db.query<{ t: string; c: string; type: string }>(
    `SELECT c.TABLE_NAME AS t, c.COLUMN_NAME AS c, c.DATA_TYPE AS type
       FROM information_schema.COLUMNS c
       JOIN information_schema.TABLES t ON t.TABLE_SCHEMA = c.TABLE_SCHEMA AND t.TABLE_NAME = c.TABLE_NAME AND t.TABLE_TYPE = 'BASE TABLE'
      WHERE c.TABLE_SCHEMA = 'mysql' ORDER BY c.TABLE_NAME, c.ORDINAL_POSITION`,
  );
  // A row's identity within its account: the primary key, else the first unique key (MariaDB's roles_mapping has no
  // primary key), else every column.
  const keys = await db.query<{ t: string; idx: string; c: string }>(
    `SELECT TABLE_NAME AS t, INDEX_NAME AS idx, COLUMN_NAME AS c FROM information_schema.STATISTICS
      WHERE TABLE_SCHEMA = 'mysql' AND NON_UNIQUE = 0 ORDER BY TABLE_NAME, INDEX_NAME <> 'PRIMARY', INDEX_NAME, SEQ_IN_INDEX`,
  );
  const byTable = new Map<string, { name: string; binary: boolean }[]>();
  for (const r of columns) byTable.set(r.t, [...(byTable.get(r.t) ?? []), { name: r.c, binary: /blob|binary/i.test(r.type) }]);
  const tables: (GrantTable & { columns: { name: string; binary: boolean }[] })[] = [];
  for (const [table, cols] of byTable) {
    const names = cols.map((c) => c.name);
    const extra = flavor.extraTables.find((e) => e.table === table);
    const user = extra?.user ?? names.find((c) => c.toLowerCase() === "user");
    const host = extra?.host ?? names.find((c) => c.toLowerCase() === "host");
    if (!user || !host) continue;
    const first = keys.find((k) => k.t === table)?.idx;
    const unique = first === undefined ? names : keys.filter((k) => k.t === table && k.idx === first).map((k) => k.c);
    tables.push({ table, user, host, key: unique.filter((c) => c !== user && c !== host), columns: cols });
  }
  return tables;
}

/** Who granted a privilege and when: they change nothing an account may do, and a re-granted copy differs in them. */
const PROVENANCE = new Set(["grantor", "timestamp"]);
/** Read every grant table: accounts by name, their rows keyed by table and key, hashes digested, `ignore` left out. */
export async function readAccounts(
  db: Queryable,
  flavor: AccountsFlavor,
  key: Buffer,
  ignore: readonly { user: string; host: string }[] = [],
): Promise<Accounts> {
  const tables = await grantTables(db, flavor);
  if (!tables.some((t) => t.table === flavor.principal)) {
    throw new Error(`the account table mysql.${flavor.principal} is missing: the server has no accounts to compare`);
  }
  const rows = new Map<string, Record<string, unknown>[]>();
  for (const t of tables) {
    // Every value as the server's own text (JSON such as global_priv.Priv exactly as stored, big integers included);
    // binary columns in hex.
    const select = t.columns.map((c) => `${c.binary ? `HEX(${quoteIdent(c.name)})` : `CAST(${quoteIdent(c.name)} AS CHAR)`} AS ${quoteIdent(c.name)}`);
    rows.set(t.table, await db.query(`SELECT ${select.join(", ")} FROM ${qualifiedName("mysql", t.table)}`));
  }
  return collectAccounts(tables, rows, key, ignore);
}

/** The accounts in grant-table rows (pure: the same for MariaDB's and MySQL's tables, read or made up by a test). */
export function collectAccounts(
  tables: readonly GrantTable[],
  rowsByTable: ReadonlyMap<string, readonly Record<string, unknown>[]>,
  key: Buffer,
  ignore: readonly { user: string; host: string }[] = [],
): Accounts {
  const accounts: Accounts = {};
  const skip = new Set(ignore.map((a) => accountName(a.user, a.host)));
  for (const t of tables) {
    for (const row of rowsByTable.get(t.table) ?? []) {
      const name = accountName(text(row[t.user]), text(row[t.host]));
      if (skip.has(name)) continue;
      const account = (accounts[name] ??= { kind: "user", rows: {} });
      const id = [`mysql.${t.table}`, ...t.key.map((k) => `${k}=${text(row[k])}`)].join(" ");
      const fields: Record<string, string> = {};
      for (const [column, value] of Object.entries(row)) {
        if (column === t.user || column === t.host || t.key.includes(column) || PROVENANCE.has(column.toLowerCase())) continue;
        if (isHashField(column)) fields[column] = digestHash(text(value), key);
        else if (column === "Priv" && t.table === "global_priv") Object.assign(fields, flattenPriv(text(value), key));
        else fields[column] = text(value);
      }
      if (fields["Priv.is_role"] === "true") account.kind = "role";
      if (t.table === "role_edges") {
        const role = accountName(text(row.FROM_USER), text(row.FROM_HOST));
        if (!skip.has(role)) (accounts[role] ??= { kind: "role", rows: {} }).kind = "role";
      }
      account.rows[id] = fields;
    }
  }
  return accounts;
}

function text(value: unknown): string {
  if (value === null || value === undefined) return "NULL";
  if (Buffer.isBuffer(value)) return value.toString("hex");
  return String(value);
}

/**
 * MariaDB's global_priv.Priv JSON as flat fields (`Priv.access`, `Priv.auth_or[1].plugin`), each hash digested. Integers
 * beyond 2^53 (`access` of ALL PRIVILEGES is 2^64-1) are read as text so no bit is lost.
 */
export function flattenPriv(json: string, key: Buffer): Record<string, string> {
  const out: Record<string, string> = {};
  let parsed: unknown;
  try {
    parsed = JSON.parse(quoteBigIntegers(json));
  } catch {
    // An unreadable Priv is itself a finding: kept (digested, as it may hold a hash) so it differs from the baseline.
    return { Priv: digestHash(json, key) };
  }
  const walk = (value: unknown, path: string, field: string): void => {
    if (Array.isArray(value)) value.forEach((v, i) => walk(v, `${path}[${i}]`, field));
    else if (value !== null && typeof value === "object") for (const [k, v] of Object.entries(value)) walk(v, `${path}.${k}`, k);
    else out[path] = isHashField(field) ? digestHash(String(value ?? ""), key) : String(value);
  };
  walk(parsed, "Priv", "Priv");
  return out;
}

/** Quote integer literals of 16 digits or more outside strings, so JSON.parse keeps them exact. */
export function quoteBigIntegers(json: string): string {
  let out = "";
  let inString = false;
  for (let i = 0; i < json.length; i++) {
    const c = json[i] as string;
    if (inString) {
      out += c;
      if (c === "\\") out += json[++i] ?? "";
      else if (c === '"') inString = false;
      continue;
    }
    if (c === '"') {
      inString = true;
      out += c;
      continue;
    }
    const digits = /^-?\d{16,}(?![.eE\d])/.exec(json.slice(i));
    if (digits && !/[\d.]/.test(json[i - 1] ?? "")) {
      out += `"${digits[0]}"`;
      i += digits[0].length - 1;
      continue;
    }
    out += c;
  }
  return out;
}

/**
 * MariaDB's global privilege bits (sql/privilege.h), for naming what changed in `Priv.access`. SHOW CREATE ROUTINE is
 * 11.3's (bit 39, seen as 549755813888 on 11.8); a bit a later version adds is named by its number.
 */
const MARIADB_GLOBAL_PRIVILEGES = [
  "SELECT", "INSERT", "UPDATE", "DELETE", "CREATE", "DROP", "RELOAD", "SHUTDOWN", "PROCESS", "FILE", "GRANT OPTION",
  "REFERENCES", "INDEX", "ALTER", "SHOW DATABASES", "SUPER", "CREATE TEMPORARY TABLES", "LOCK TABLES", "EXECUTE",
  "REPLICATION SLAVE", "BINLOG MONITOR", "CREATE VIEW", "SHOW VIEW", "CREATE ROUTINE", "ALTER ROUTINE", "CREATE USER",
  "EVENT", "TRIGGER", "CREATE TABLESPACE", "DELETE HISTORY", "SET USER", "FEDERATED ADMIN", "CONNECTION ADMIN",
  "READ_ONLY ADMIN", "REPLICATION SLAVE ADMIN", "REPLICATION MASTER ADMIN", "BINLOG ADMIN", "BINLOG REPLAY", "SLAVE MONITOR",
  "SHOW CREATE ROUTINE",
];

/** The privileges set in a MariaDB `access` bitmask, by name (an unknown bit as `privilege bit N`). */
export function globalPrivileges(access: string): string[] {
  let bits: bigint;
  try {
    bits = BigInt(access);
  } catch {
    return [`access ${access}`];
  }
  const names: string[] = [];
  for (let bit = 0; bits >> BigInt(bit) !== 0n && bit < 64; bit++) {
    if ((bits >> BigInt(bit)) & 1n) names.push(MARIADB_GLOBAL_PRIVILEGES[bit] ?? `privilege bit ${bit}`);
  }
  return names;
}

/** Quoted hash strings in SHOW CREATE USER / SHOW GRANTS text: after PASSWORD, USING or AS (MariaDB and MySQL forms). */
const QUOTED_HASH = /\b(PASSWORD|USING|AS)\s+('(?:[^'\\]|\\.|'')*'|0x[0-9A-Fa-f]+)/g;

/** A statement the server printed with every hash in it replaced by its keyed digest. */
export function maskStatement(statement: string, key: Buffer): string {
  const masked = statement.replace(QUOTED_HASH, (_m, keyword: string, value: string) => `${keyword} '${digestHash(value, key)}'`);
  // A safety net: the shape of a mysql_native_password hash must never survive, whatever the statement's form.
  if (/\*[0-9A-F]{40}/.test(masked)) throw new Error("a password hash was left in an account statement: refusing to record it");
  return masked;
}

/**
 * The accounts as the server renders them: SHOW CREATE USER and SHOW GRANTS per account, hashes digested. What a
 * logical restore (CREATE USER / GRANT statements) can reproduce exactly; the raw grant-table rows (readAccounts) also
 * differ in representation (a recreated account's version_id, an ALL PRIVILEGES mask's unused bits).
 */
export async function readAccountStatements(
  db: Queryable,
  flavor: AccountsFlavor,
  key: Buffer,
  ignore: readonly { user: string; host: string }[] = [],
): Promise<Accounts> {
  const skip = new Set(ignore.map((a) => accountName(a.user, a.host)));
  const roleColumn = flavor.principal === "global_priv" ? "JSON_VALUE(Priv, '$.is_role') = 'true'" : "FALSE";
  const list = await db.query<{ user: string; host: string; role: string | number | null }>(
    `SELECT CAST(User AS CHAR) AS user, CAST(Host AS CHAR) AS host, ${roleColumn} AS role FROM ${qualifiedName("mysql", flavor.principal)} ORDER BY User, Host`,
  );
  const accounts: Accounts = {};
  const show = async (sql: string, params: unknown[]): Promise<string[]> => {
    try {
      return (await db.query<Record<string, string>>(sql, params)).map((r) => maskStatement(String(Object.values(r)[0]), key));
    } catch (error) {
      if (/refusing to record/.test((error as Error).message)) throw error;
      // An account the server cannot show (a host name under skip-name-resolve) is recorded as such, on both sides.
      return [`cannot be shown: ${(error as Error).message.replace(/^.*?: /, "").split("\n")[0]}`];
    }
  };
  for (const a of list) {
    const name = accountName(a.user, a.host);
    if (skip.has(name)) continue;
    const role = Number(a.role) === 1;
    const rows: Record<string, Record<string, string>> = {};
    if (!role) rows["SHOW CREATE USER"] = { statement: (await show("SHOW CREATE USER ?@?", [a.user, a.host])).join("\n") };
    const grants = await show(role ? `SHOW GRANTS FOR ${quoteIdent(a.user)}` : "SHOW GRANTS FOR ?@?", role ? [] : [a.user, a.host]);
    for (const g of grants) rows[g] = {};
    accounts[name] = { kind: role ? "role" : "user", rows };
  }
  return accounts;
}
