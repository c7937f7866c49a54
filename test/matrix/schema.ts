// The generated-schema matrix's generator: from a seed, a schema across what a server's catalog can hold (odd
// identifiers, table options, partitions, generated/invisible/JSON/spatial columns, every index kind, CHECKs, foreign
// keys, views on views, triggers, routines, events, sequences, system-versioned tables, accounts, roles and grants at
// every level, rows per column type), as a model, and the model as SQL for one server flavour. Everything random comes
// from fast-check, so a seed replays the same schema.
import fc from "fast-check";
import { escape as literal } from "mysql2";
import type { FlavorName } from "../../src/server/flavor.ts";
import { qualifiedName, quoteIdent } from "../../src/db/quote.ts";

/** What one server can hold, and what the generator leaves out there (each exclusion names why). */
export interface Capabilities {
  flavor: FlavorName;
  /** Identifier styles whose names become file names the tool cannot back up yet (see MatrixServer.exclusions). */
  fileNameStyles: boolean;
  /** MySQL: tables in a general tablespace (CREATE TABLESPACE). */
  generalTablespaces: boolean;
  /** DATA DIRECTORY on some tables (the runner makes the directory and, on MySQL, names it in innodb_directories). */
  dataDirectory: boolean;
}

export type Style = "plain" | "nonAscii" | "dash" | "space" | "dot" | "reserved" | "backtick" | "long64" | "upper";
/** Styles whose names are encoded in file names (@002d, @0020, @30c6…): the ones MySQL's file-name decoding trips on. */
export const FILE_NAME_STYLES: readonly Style[] = ["nonAscii", "dash", "space", "dot", "backtick"];
const RESERVED = ["select", "order", "group", "table", "key", "index", "where", "from", "desc", "check", "default", "character"];

export type ColumnType =
  | "int"
  | "bigint"
  | "decimal"
  | "double"
  | "varchar"
  | "latin1"
  | "text"
  | "blob"
  | "datetime"
  | "date"
  | "time"
  | "json"
  | "enum"
  | "set"
  | "bit"
  | "point"
  /** A foreign key's column: the parent's key type. */
  | "ref";

/** A value as the INSERT writes it: a parameter, in an expression when the type needs one (`ST_GeomFromText(?)`). */
export interface Value {
  param: unknown;
  expr?: string;
}

export interface Column {
  name: string;
  type: ColumnType;
  nullable: boolean;
  invisible?: boolean;
  generated?: { expr: string; stored: boolean };
}

export interface Index {
  name: string;
  kind: "key" | "fulltext" | "spatial" | "functional";
  columns: string[];
  desc?: boolean;
}

export interface Table {
  database: string;
  name: string;
  engine: "InnoDB" | "MyISAM" | "Aria";
  pk: string;
  /** The INT column every table has: CHECKs, generated columns, triggers and row faults use it. */
  n: string;
  columns: Column[];
  indexes: Index[];
  checks: { name: string; expr: string }[];
  foreignKey?: { name: string; column: string; parent: string; parentKey: string };
  rowFormat?: string;
  pageCompressed?: boolean;
  compression?: boolean;
  dataDirectory?: boolean;
  tablespace?: string;
  versioned?: boolean;
  partition?: { kind: "hash" | "key" | "range" | "rangeSub"; names: string[] };
  rows: Value[][];
  /** Rows the write load inserts while the backup runs. */
  loadRows: Value[][];
  /** FK parents and children are left out of the write load (an insert's reference, a cascade). */
  writable: boolean;
}

export interface View {
  database: string;
  name: string;
  /** A table or another view of the same database. */
  from: string;
  columns: string[];
  where: string;
  checkOption: boolean;
  invoker: boolean;
}

export interface Trigger {
  database: string;
  name: string;
  table: string;
  column: string;
}

export interface Routine {
  database: string;
  name: string;
  kind: "PROCEDURE" | "FUNCTION";
  body: string;
  reads?: string;
}

export interface Event {
  database: string;
  name: string;
  table: string;
  pk: string;
  everyHours: number;
  enabled: boolean;
}

export interface Sequence {
  database: string;
  name: string;
  start: number;
  increment: number;
  cache: number;
  cycle: boolean;
  calls: number;
}

export interface Grant {
  level: "global" | "database" | "table" | "column" | "routine" | "role";
  sql: string;
  /** How to take it back (a fault): the REVOKE. */
  revoke: string;
  /** The object it is on, for messages. */
  on: string;
}

export interface Account {
  user: string;
  host: string;
  password: string;
  role: boolean;
  locked: boolean;
  grants: Grant[];
  defaultRole?: string;
}

export interface Database {
  name: string;
  charset: "utf8mb4" | "latin1";
}

export interface Schema {
  seed: number;
  flavor: FlavorName;
  databases: Database[];
  tablespaces: string[];
  tables: Table[];
  views: View[];
  triggers: Trigger[];
  routines: Routine[];
  events: Event[];
  sequences: Sequence[];
  accounts: Account[];
}

/** One statement of a generated schema, its values as parameters (escaped by the driver). */
export interface Statement {
  sql: string;
  params?: unknown[];
}

type Gen = fc.GeneratorValue;

/** Unique names per namespace; `lower` for namespaces the server compares case-insensitively (columns, routines…). */
class Names {
  private used = new Set<string>();
  constructor(private readonly lower: boolean) {}
  take(base: string): string {
    const key = (s: string) => (this.lower ? s.toLowerCase() : s);
    let name = base;
    for (let i = 2; this.used.has(key(name)); i++) name = `${base.slice(0, 64 - String(i).length - 1)}_${i}`;
    this.used.add(key(name));
    return name;
  }
}

let counter = 0;
/** A name in `style` from a base word; never longer than 64 characters, never ending in a space. */
function styled(style: Style, base: string): string {
  const i = ++counter % 1000;
  switch (style) {
    case "plain":
      return `${base}${i}`;
    case "nonAscii":
      return `${base}_ñé名前${i}`;
    case "dash":
      return `${base}-items-${i}`;
    case "space":
      return `${base} with space ${i}`;
    case "dot":
      return `${base}.v${i}`;
    case "reserved":
      return RESERVED[i % RESERVED.length] as string;
    case "backtick":
      return `${base}\`q${i}`;
    case "long64":
      return `${base}_${"x".repeat(64)}`.slice(0, 64 - String(i).length) + i;
    case "upper":
      return `${base.toUpperCase()}${i}`;
  }
}

function pickStyle(g: Gen, caps: Capabilities, allowed: readonly Style[] = ["plain", "nonAscii", "dash", "space", "dot", "reserved", "backtick", "long64", "upper"]): Style {
  const styles = allowed.filter((s) => caps.fileNameStyles || !FILE_NAME_STYLES.includes(s));
  return g(() => fc.constantFrom(...styles));
}

/** Values for one column type (NULL where the column allows it, one time in five). */
function valueArb(c: Column, flavor: FlavorName): fc.Arbitrary<Value> {
  const v = (a: fc.Arbitrary<unknown>, expr?: string): fc.Arbitrary<Value> => a.map((param) => (expr ? { param, expr } : { param }));
  const pad = (n: number, w = 2) => String(n).padStart(w, "0");
  let arb: fc.Arbitrary<Value>;
  switch (c.type) {
    case "int":
      arb = v(fc.integer({ min: -1_000_000, max: 1_000_000 }));
      break;
    case "bigint":
      arb = v(fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }).map(String));
      break;
    case "decimal":
      arb = v(fc.integer({ min: -999_999_999, max: 999_999_999 }).map((x) => (x / 1000).toFixed(3)));
      break;
    case "double":
      // Subnormals are out of DOUBLE's documented range: 0 for them.
      arb = v(fc.double({ noNaN: true, noDefaultInfinity: true, min: -1e300, max: 1e300 }).map((x) => (Math.abs(x) < 1e-300 ? 0 : x)));
      break;
    case "varchar":
      arb = v(fc.string({ unit: "grapheme", maxLength: 20 }).map((s) => [...s].slice(0, 40).join("")));
      break;
    case "latin1":
      arb = v(fc.string({ unit: fc.constantFrom(..."abcXYZ 019éüñß'\"\\`;#%_\t"), maxLength: 30 }));
      break;
    case "text":
      arb = v(fc.string({ unit: "grapheme", maxLength: 60 }));
      break;
    case "blob":
      arb = v(fc.uint8Array({ maxLength: 80 }).map((b) => Buffer.from(b)));
      break;
    case "datetime":
      arb = v(
        fc
          .record({ y: fc.integer({ min: 1000, max: 9999 }), mo: fc.integer({ min: 1, max: 12 }), d: fc.integer({ min: 1, max: 28 }), s: fc.integer({ min: 0, max: 86_399 }), us: fc.integer({ min: 0, max: 999_999 }) })
          .map((t) => `${t.y}-${pad(t.mo)}-${pad(t.d)} ${pad(Math.floor(t.s / 3600))}:${pad(Math.floor(t.s / 60) % 60)}:${pad(t.s % 60)}.${pad(t.us, 6)}`),
      );
      break;
    case "date":
      arb = v(fc.record({ y: fc.integer({ min: 1000, max: 9999 }), mo: fc.integer({ min: 1, max: 12 }), d: fc.integer({ min: 1, max: 28 }) }).map((t) => `${t.y}-${pad(t.mo)}-${pad(t.d)}`));
      break;
    case "time":
      arb = v(fc.integer({ min: -838 * 3600 + 1, max: 838 * 3600 - 1 }).map((s) => `${s < 0 ? "-" : ""}${Math.floor(Math.abs(s) / 3600)}:${pad(Math.floor(Math.abs(s) / 60) % 60)}:${pad(Math.abs(s) % 60)}.${pad(Math.abs(s) % 1000, 3)}`));
      break;
    case "json":
      arb = v(fc.jsonValue({ maxDepth: 2, noUnicodeString: false }).map((j) => JSON.stringify(j)).filter((s) => !/\\ud[89a-f]/i.test(s)));
      break;
    case "enum":
      arb = v(fc.constantFrom("a", "b c", "ü'q"));
      break;
    case "set":
      arb = v(fc.subarray(["x", "y", "ẞ"]).map((s) => s.join(",")));
      break;
    case "bit":
      arb = v(fc.integer({ min: 0, max: 255 }));
      break;
    case "ref":
      arb = v(fc.integer({ min: 1, max: 30 }));
      break;
    case "point":
      arb = v(fc.tuple(fc.integer({ min: -1000, max: 1000 }), fc.integer({ min: -1000, max: 1000 })).map(([x, y]) => `POINT(${x} ${y})`), flavor === "mysql" ? "ST_GeomFromText(?, 0)" : "ST_GeomFromText(?)");
      break;
  }
  return c.nullable ? fc.oneof({ weight: 1, arbitrary: fc.constant({ param: null }) }, { weight: 4, arbitrary: arb }) : arb;
}

function columnSql(c: Column, flavor: FlavorName): string {
  const types: Record<ColumnType, string> = {
    int: "INT",
    bigint: "BIGINT UNSIGNED",
    decimal: "DECIMAL(12,3)",
    double: "DOUBLE",
    varchar: "VARCHAR(40) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin",
    latin1: "VARCHAR(30) CHARACTER SET latin1",
    text: "TEXT CHARACTER SET utf8mb4",
    blob: "BLOB",
    datetime: "DATETIME(6)",
    date: "DATE",
    time: "TIME(3)",
    json: "JSON",
    enum: "ENUM('a','b c','ü''q') CHARACTER SET utf8mb4",
    set: "SET('x','y','ẞ') CHARACTER SET utf8mb4",
    bit: "BIT(8)",
    point: flavor === "mysql" ? "POINT NOT NULL SRID 0" : "POINT NOT NULL",
    ref: "INT UNSIGNED",
  };
  const parts = [quoteIdent(c.name), types[c.type]];
  if (c.generated) parts.push(`AS (${c.generated.expr}) ${c.generated.stored ? "STORED" : "VIRTUAL"}`);
  else if (c.type !== "point") parts.push(c.nullable ? "NULL" : "NOT NULL");
  if (c.invisible) parts.push("INVISIBLE");
  return parts.join(" ");
}

/** The columns an INSERT names: every stored, non-generated one but the auto-increment key. */
export function insertColumns(t: Table): Column[] {
  return t.columns.filter((c) => !c.generated);
}

function insertSql(t: Table, row: Value[]): Statement {
  const cols = insertColumns(t);
  return {
    sql: `INSERT INTO ${qualifiedName(t.database, t.name)} (${cols.map((c) => quoteIdent(c.name)).join(", ")}) VALUES (${row.map((v) => v.expr ?? "?").join(", ")})`,
    params: row.map((v) => v.param),
  };
}

/** The INSERT of one load row (the write load runs these during the backup). */
export function loadInsert(t: Table, i: number): Statement {
  return insertSql(t, t.loadRows[i % t.loadRows.length] as Value[]);
}

function genTable(g: Gen, caps: Capabilities, db: Database, tableNames: Names, constraintNames: Names, forceName?: string): Table {
  const mysql = caps.flavor === "mysql";
  // MySQL's clone copies InnoDB only (the backup job refuses other engines, and says so): InnoDB there.
  const engine = g(() => fc.constantFrom<Table["engine"]>(...((mysql ? ["InnoDB"] : ["InnoDB", "InnoDB", "InnoDB", "MyISAM", "Aria"]) as Table["engine"][])));
  const innodb = engine === "InnoDB";
  // mariadb-backup cannot lock a non-InnoDB table whose name holds a backtick (BACKUP LOCK unescaped): the backup job
  // refuses such a source up front, naming the table (test/backup/unlockableNames.test.ts), so it is no sound backup
  // to prove. Such a name becomes a plain one, after the same draw: every other seed's schema stays as it was.
  const drawn = pickStyle(g, caps);
  const name = forceName ?? tableNames.take(styled(!mysql && !innodb && drawn === "backtick" ? "plain" : drawn, "t"));
  const columnNames = new Names(true);
  const pk = columnNames.take(styled(pickStyle(g, caps, ["plain", "nonAscii", "reserved", "space", "long64", "backtick"]), "id"));
  const n = columnNames.take(styled(pickStyle(g, caps, ["plain", "nonAscii", "reserved", "dash", "dot"]), "n"));
  // MySQL partitions InnoDB tables only (native partitioning).
  const partitioned = (innodb || !mysql) && g(fc.integer, { min: 0, max: 4 }) === 0;
  const partition: Table["partition"] = partitioned
    ? { kind: g(() => fc.constantFrom<("hash" | "key" | "range" | "rangeSub")[]>("hash", "key", "range", "rangeSub")), names: [] }
    : undefined;
  if (partition) {
    const partNames = new Names(true);
    const count = partition.kind === "range" ? 3 : partition.kind === "rangeSub" ? 2 : 0;
    for (let i = 0; i < count; i++) partition.names.push(partNames.take(styled(pickStyle(g, caps, ["plain", "nonAscii", "dash", "upper"]), "p")));
  }
  const versioned = !mysql && innodb && !partition && g(fc.integer, { min: 0, max: 4 }) === 0;
  const columns: Column[] = [{ name: n, type: "int", nullable: true }];
  const types: ColumnType[] = ["int", "bigint", "decimal", "double", "varchar", "latin1", "text", "blob", "datetime", "date", "time", "json", "enum", "set", "bit"];
  const extra = g(() => fc.subarray(types, { minLength: 1, maxLength: 6 }));
  for (const type of extra) columns.push({ name: columnNames.take(styled(pickStyle(g, caps), type)), type, nullable: g(fc.boolean) });
  const spatial = !partition && g(fc.integer, { min: 0, max: 5 }) === 0;
  if (spatial) columns.push({ name: columnNames.take(styled(pickStyle(g, caps, ["plain", "nonAscii"]), "pos")), type: "point", nullable: false });
  if (g(fc.boolean)) {
    const c = columns[g(fc.integer, { min: 1, max: columns.length - 1 })] as Column;
    // An invisible column needs a default: NULL.
    if (c.type !== "point") Object.assign(c, { invisible: true, nullable: true });
  }
  if (g(fc.boolean)) {
    columns.push({ name: columnNames.take(styled(pickStyle(g, caps), "gen")), type: "int", nullable: true, generated: { expr: `${quoteIdent(n)} * 2 + 1`, stored: g(fc.boolean) } });
  }
  const indexes: Index[] = [];
  const indexNames = new Names(true);
  // Indexes on generated columns: InnoDB's.
  const indexable = columns.filter((c) => ["int", "bigint", "decimal", "varchar", "latin1", "datetime", "date", "time", "enum"].includes(c.type) && (!c.generated || innodb));
  for (let i = g(fc.integer, { min: 0, max: 3 }); i > 0; i--) {
    const cols = g(() => fc.subarray(indexable.map((c) => c.name), { minLength: 1, maxLength: Math.min(2, indexable.length) }));
    indexes.push({ name: indexNames.take(styled(pickStyle(g, caps), "idx")), kind: "key", columns: cols, desc: (innodb || !mysql) && g(fc.boolean) });
  }
  const texts = columns.filter((c) => (c.type === "varchar" || c.type === "text") && !c.generated);
  if (texts.length && !partition && g(fc.boolean)) indexes.push({ name: indexNames.take(styled(pickStyle(g, caps), "ft")), kind: "fulltext", columns: [texts[0]?.name as string] });
  const point = columns.find((c) => c.type === "point");
  if (point && g(fc.boolean)) indexes.push({ name: indexNames.take(styled(pickStyle(g, caps), "sp")), kind: "spatial", columns: [point.name] });
  if (mysql && innodb && g(fc.boolean)) indexes.push({ name: indexNames.take(styled(pickStyle(g, caps), "fn")), kind: "functional", columns: [n] });
  const checks = g(fc.boolean) ? [{ name: constraintNames.take(styled(pickStyle(g, caps, ["plain", "nonAscii", "space", "upper"]), "chk")), expr: `${quoteIdent(n)} > -2000000` }] : [];
  const rowFormat = innodb && g(fc.boolean) ? g(() => fc.constantFrom(...(mysql ? ["DYNAMIC", "COMPACT", "REDUNDANT", "COMPRESSED"] : ["DYNAMIC", "COMPACT", "REDUNDANT"]))) : undefined;
  const pageCompressed = !mysql && innodb && rowFormat !== "REDUNDANT" && g(fc.integer, { min: 0, max: 3 }) === 0;
  const compression = mysql && innodb && rowFormat !== "COMPRESSED" && !partition && g(fc.integer, { min: 0, max: 3 }) === 0;
  const dataDirectory = caps.dataDirectory && (innodb || (!mysql && engine === "MyISAM")) && !partition && !versioned && g(fc.integer, { min: 0, max: 3 }) === 0;
  const table: Table = {
    database: db.name,
    name,
    engine,
    pk,
    n,
    columns,
    indexes,
    checks,
    rowFormat,
    pageCompressed,
    compression,
    dataDirectory,
    versioned,
    partition,
    rows: [],
    loadRows: [],
    writable: true,
  };
  const rowArb = fc.tuple(...insertColumns(table).map((c) => valueArb(c, caps.flavor)));
  table.rows = g(() => fc.array(rowArb, { maxLength: 30 }));
  table.loadRows = g(() => fc.array(rowArb, { minLength: 5, maxLength: 10 }));
  return table;
}

function genSchema(g: Gen, seed: number, caps: Capabilities): Schema {
  counter = 0;
  const mysql = caps.flavor === "mysql";
  const dbNames = new Names(false);
  const databases: Database[] = [];
  for (let i = g(fc.integer, { min: 1, max: 2 }); i > 0; i--) {
    // mariadb-backup 10.11 runs BACKUP LOCK for non-InnoDB tables without escaping a backtick in the database name
    // (test/support/seed-odd): a server limitation, left out of database names.
    const style = pickStyle(g, caps, ["plain", "nonAscii", "dash", "space", "dot", "reserved", "long64", "upper"]);
    databases.push({ name: dbNames.take(styled(style, "db")), charset: g(() => fc.constantFrom<("utf8mb4" | "latin1")[]>("utf8mb4", "utf8mb4", "latin1")) });
  }
  const tablespaces = caps.generalTablespaces && g(fc.boolean) ? [styled("plain", "ts")] : [];
  const tables: Table[] = [];
  const views: View[] = [];
  const triggers: Trigger[] = [];
  const routines: Routine[] = [];
  const events: Event[] = [];
  const sequences: Sequence[] = [];
  for (const db of databases) {
    const tableNames = new Names(false);
    const constraintNames = new Names(true);
    const routineNames = new Names(true);
    const count = g(fc.integer, { min: 2, max: 5 });
    for (let i = 0; i < count; i++) tables.push(genTable(g, caps, db, tableNames, constraintNames));
    // Names that differ only in case are two tables (lower_case_table_names=0, as on Linux).
    if (g(fc.boolean)) {
      const base = `Case${++counter}`;
      tables.push(genTable(g, caps, db, tableNames, constraintNames, tableNames.take(base)));
      tables.push(genTable(g, caps, db, tableNames, constraintNames, tableNames.take(base.toLowerCase())));
    }
    const own = tables.filter((t) => t.database === db.name);
    if (tablespaces.length) {
      const t = own.find((x) => x.engine === "InnoDB" && !x.partition && !x.dataDirectory && !x.compression && x.rowFormat !== "COMPRESSED");
      if (t) t.tablespace = tablespaces[0];
    }
    // A foreign key: parent and child plain InnoDB tables.
    const plainInno = own.filter((t) => t.engine === "InnoDB" && !t.partition && !t.versioned);
    // Only where a table is left for the write load (parent and child are not written to).
    if (plainInno.length >= 2 && own.length >= 3 && g(fc.boolean)) {
      const [parent, child] = plainInno as [Table, Table];
      const column = `${parent.name.slice(0, 50)}_ref`;
      child.columns.push({ name: column, type: "ref", nullable: true });
      child.foreignKey = { name: constraintNames.take(styled(pickStyle(g, caps, ["plain", "nonAscii", "upper"]), "fk")), column, parent: parent.name, parentKey: parent.pk };
      // The child's references point at parent rows (ids 1…n: the parent's inserts in order) or are NULL.
      child.rows = child.rows.map((r, i) => [...r, { param: parent.rows.length && i % 4 ? 1 + (i % parent.rows.length) : null }]);
      child.loadRows = child.loadRows.map((r) => [...r, { param: null }]);
      parent.writable = false;
      child.writable = false;
    }
    // Views, some on views.
    const viewNames = tableNames;
    for (let i = g(fc.integer, { min: 0, max: 3 }); i > 0; i--) {
      const sources = [...own.map((t) => ({ name: t.name, columns: [t.pk, t.n] })), ...views.filter((v) => v.database === db.name).map((v) => ({ name: v.name, columns: v.columns }))];
      const from = g(() => fc.constantFrom(...sources));
      views.push({
        database: db.name,
        name: viewNames.take(styled(pickStyle(g, caps), "v")),
        from: from.name,
        columns: from.columns,
        where: `${quoteIdent(from.columns[0] as string)} > ${g(fc.integer, { min: 0, max: 5 })}`,
        checkOption: g(fc.boolean),
        invoker: g(fc.boolean),
      });
    }
    const triggerNames = new Names(true);
    for (const t of own.filter((x) => g(fc.boolean) && !x.foreignKey)) {
      triggers.push({ database: db.name, name: triggerNames.take(styled(pickStyle(g, caps), "trg")), table: t.name, column: t.n });
    }
    for (let i = g(fc.integer, { min: 0, max: 2 }); i > 0; i--) {
      const t = g(() => fc.constantFrom(...own));
      const kind = g(() => fc.constantFrom<("PROCEDURE" | "FUNCTION")[]>("PROCEDURE", "FUNCTION"));
      const name = routineNames.take(styled(pickStyle(g, caps), kind === "FUNCTION" ? "f" : "p"));
      const k = g(fc.integer, { min: 2, max: 9 });
      routines.push(
        kind === "FUNCTION"
          ? { database: db.name, name, kind, body: `(\`a\` INT) RETURNS INT DETERMINISTIC READS SQL DATA COMMENT ${literal(`count of ${t.name} × ${k}`)} RETURN (SELECT COUNT(*) FROM ${quoteIdent(t.name)}) * ${k} + \`a\``, reads: t.name }
          : { database: db.name, name, kind, body: `(IN \`a\` INT, OUT \`b\` VARCHAR(20)) SQL SECURITY ${g(fc.boolean) ? "INVOKER" : "DEFINER"} BEGIN SET \`b\` = CONCAT('é', \`a\` + ${k}); END` },
      );
    }
    for (let i = g(fc.integer, { min: 0, max: 2 }); i > 0; i--) {
      const t = g(() => fc.constantFrom(...own));
      events.push({ database: db.name, name: routineNames.take(styled(pickStyle(g, caps), "ev")), table: t.name, pk: t.pk, everyHours: g(fc.integer, { min: 1, max: 48 }), enabled: g(fc.boolean) });
    }
    if (!mysql) {
      for (let i = g(fc.integer, { min: 0, max: 2 }); i > 0; i--) {
        sequences.push({
          database: db.name,
          name: tableNames.take(styled(pickStyle(g, caps), "seq")),
          start: g(fc.integer, { min: 1, max: 1000 }),
          increment: g(fc.integer, { min: 1, max: 7 }),
          cache: g(() => fc.constantFrom(0, 1, 10, 1000)),
          cycle: g(fc.boolean),
          calls: g(fc.integer, { min: 0, max: 5 }),
        });
      }
    }
  }
  return { seed, flavor: caps.flavor, databases, tablespaces, tables, views, triggers, routines, events, sequences, accounts: genAccounts(g, caps, tables, routines) };
}

/** Every printable ASCII character, and a few beyond. */
const PRINTABLE = Array.from({ length: 95 }, (_, i) => String.fromCharCode(32 + i)).join("") + "éß名";

function genAccounts(g: Gen, caps: Capabilities, tables: Table[], routines: Routine[]): Account[] {
  const mysql = caps.flavor === "mysql";
  const names = new Names(false);
  const userStyles = ["plain", "nonAscii", "dash", "space", "dot", "backtick", "upper"] as const;
  const accounts: Account[] = [];
  const role = (name: string) => `${literal(name)}`;
  const roles: string[] = [];
  for (let i = g(fc.integer, { min: 0, max: 2 }); i > 0; i--) {
    const name = names.take(styled(g(() => fc.constantFrom(...userStyles)), "role").slice(0, 32));
    roles.push(name);
    accounts.push({ user: name, host: mysql ? "%" : "", password: "", role: true, locked: false, grants: [] });
  }
  const count = g(fc.integer, { min: 1, max: 4 });
  for (let i = 0; i < count; i++) {
    const user = names.take(`${styled(g(() => fc.constantFrom(...userStyles)), "u")}${g(fc.boolean) ? "'o" : ""}`.slice(0, 32));
    // The first account's password holds every printable character; the others, a random printable string.
    const password =
      i === 0
        ? g(() => fc.shuffledSubarray([...PRINTABLE], { minLength: PRINTABLE.length, maxLength: PRINTABLE.length })).join("")
        : g(fc.string, { unit: fc.constantFrom(...PRINTABLE), minLength: 1, maxLength: 40 });
    accounts.push({ user, host: g(() => fc.constantFrom("%", "localhost", "10.0.%")), password, role: false, locked: g(fc.integer, { min: 0, max: 4 }) === 0, grants: [] });
  }
  const grantees = accounts;
  const account = (a: Account) => (a.role && !mysql ? role(a.user) : `${literal(a.user)}@${literal(a.host)}`);
  for (const a of grantees) {
    const to = account(a);
    const levels = g(() => fc.subarray(["global", "database", "table", "column", "routine"] as const, { minLength: 1 }));
    for (const level of levels) {
      const t = tables.length ? g(() => fc.constantFrom(...tables)) : undefined;
      if (level === "global") {
        const privs = g(() => fc.subarray(["PROCESS", "RELOAD", "SHOW DATABASES", "REPLICATION CLIENT"], { minLength: 1 })).join(", ");
        a.grants.push({ level, sql: `GRANT ${privs} ON *.* TO ${to}`, revoke: `REVOKE ${privs} ON *.* FROM ${to}`, on: "*.*" });
        if (mysql && g(fc.boolean)) a.grants.push({ level, sql: `GRANT BACKUP_ADMIN ON *.* TO ${to}`, revoke: `REVOKE BACKUP_ADMIN ON *.* FROM ${to}`, on: "*.*" });
      } else if (level === "database" && t) {
        const on = `${quoteIdent(t.database)}.*`;
        a.grants.push({ level, sql: `GRANT SELECT, INSERT ON ${on} TO ${to}`, revoke: `REVOKE INSERT ON ${on} FROM ${to}`, on: t.database });
      } else if (level === "table" && t) {
        const on = qualifiedName(t.database, t.name);
        a.grants.push({ level, sql: `GRANT UPDATE, DELETE ON ${on} TO ${to}`, revoke: `REVOKE DELETE ON ${on} FROM ${to}`, on: `${t.database}.${t.name}` });
      } else if (level === "column" && t) {
        const on = qualifiedName(t.database, t.name);
        a.grants.push({ level, sql: `GRANT SELECT (${quoteIdent(t.n)}), UPDATE (${quoteIdent(t.n)}) ON ${on} TO ${to}`, revoke: `REVOKE UPDATE (${quoteIdent(t.n)}) ON ${on} FROM ${to}`, on: `${t.database}.${t.name}` });
      } else if (level === "routine" && routines.length) {
        const r = g(() => fc.constantFrom(...routines));
        const on = `${r.kind} ${qualifiedName(r.database, r.name)}`;
        a.grants.push({ level, sql: `GRANT EXECUTE ON ${on} TO ${to}`, revoke: `REVOKE EXECUTE ON ${on} FROM ${to}`, on: `${r.database}.${r.name}` });
      }
    }
    if (!a.role && roles.length && g(fc.boolean)) {
      const r = g(() => fc.constantFrom(...roles));
      const granted = mysql ? `${literal(r)}@'%'` : role(r);
      // A restored server's verifier may not REVOKE a role it was not granted WITH ADMIN OPTION: on MariaDB the grant's
      // row goes, as a lost restore would lose it.
      const revoke = mysql ? `REVOKE ${granted} FROM ${to}` : `DELETE FROM mysql.roles_mapping WHERE User = ${literal(a.user)} AND Host = ${literal(a.host)} AND Role = ${literal(r)}`;
      a.grants.push({ level: "role", sql: `GRANT ${granted} TO ${to}`, revoke, on: r });
      if (g(fc.boolean)) a.defaultRole = r;
    }
  }
  return accounts;
}

/** The schema a seed makes for a server. */
export function generateSchema(seed: number, caps: Capabilities): Schema {
  const [schema] = fc.sample(fc.gen().map((g) => genSchema(g, seed, caps)), { seed, numRuns: 1 });
  if (!schema) throw new Error(`no schema for seed ${seed}`);
  return schema;
}

function tableSql(t: Table, flavor: FlavorName, dataDir: string): string {
  const lines = t.columns.map((c) => columnSql(c, flavor));
  lines.unshift(`${quoteIdent(t.pk)} INT UNSIGNED NOT NULL AUTO_INCREMENT`);
  lines.push(`PRIMARY KEY (${quoteIdent(t.pk)})`);
  for (const ix of t.indexes) {
    const cols = ix.columns.map((c) => `${quoteIdent(c)}${ix.desc ? " DESC" : ""}`).join(", ");
    if (ix.kind === "key") lines.push(`KEY ${quoteIdent(ix.name)} (${cols})`);
    if (ix.kind === "fulltext") lines.push(`FULLTEXT KEY ${quoteIdent(ix.name)} (${cols})`);
    if (ix.kind === "spatial") lines.push(`SPATIAL KEY ${quoteIdent(ix.name)} (${cols})`);
    if (ix.kind === "functional") lines.push(`KEY ${quoteIdent(ix.name)} ((ABS(${quoteIdent(ix.columns[0] as string)})))`);
  }
  for (const c of t.checks) lines.push(`CONSTRAINT ${quoteIdent(c.name)} CHECK (${c.expr})`);
  if (t.foreignKey) {
    lines.push(`CONSTRAINT ${quoteIdent(t.foreignKey.name)} FOREIGN KEY (${quoteIdent(t.foreignKey.column)}) REFERENCES ${qualifiedName(t.database, t.foreignKey.parent)} (${quoteIdent(t.foreignKey.parentKey)}) ON DELETE CASCADE`);
  }
  const options = [`ENGINE=${t.engine}`];
  if (t.rowFormat) options.push(`ROW_FORMAT=${t.rowFormat}`);
  if (t.pageCompressed) options.push("PAGE_COMPRESSED=1");
  if (t.compression) options.push("COMPRESSION='zlib'");
  if (t.dataDirectory) options.push(`DATA DIRECTORY=${literal(dataDir)}`);
  if (t.tablespace) options.push(`TABLESPACE ${quoteIdent(t.tablespace)}`);
  if (t.versioned) options.push("WITH SYSTEM VERSIONING");
  let partition = "";
  const id = quoteIdent(t.pk);
  const [p0, p1, p2] = (t.partition?.names ?? []).map(quoteIdent);
  if (t.partition?.kind === "hash") partition = ` PARTITION BY HASH (${id}) PARTITIONS 3`;
  if (t.partition?.kind === "key") partition = ` PARTITION BY KEY (${id}) PARTITIONS 2`;
  if (t.partition?.kind === "range") partition = ` PARTITION BY RANGE (${id}) (PARTITION ${p0} VALUES LESS THAN (10), PARTITION ${p1} VALUES LESS THAN (25), PARTITION ${p2} VALUES LESS THAN MAXVALUE)`;
  if (t.partition?.kind === "rangeSub") partition = ` PARTITION BY RANGE (${id}) SUBPARTITION BY HASH (${id}) SUBPARTITIONS 2 (PARTITION ${p0} VALUES LESS THAN (15), PARTITION ${p1} VALUES LESS THAN MAXVALUE)`;
  return `CREATE TABLE ${qualifiedName(t.database, t.name)} (\n  ${lines.join(",\n  ")}\n) ${options.join(" ")}${partition}`;
}

/**
 * The schema as SQL for its flavour, in order: databases, tablespaces, tables and rows, views, triggers, routines,
 * events, sequences, accounts. `dataDir`: the directory DATA DIRECTORY tables go to.
 */
export function schemaSql(s: Schema, dataDir: string): Statement[] {
  const mysql = s.flavor === "mysql";
  const out: Statement[] = [];
  for (const d of s.databases) out.push({ sql: `CREATE DATABASE ${quoteIdent(d.name)} CHARACTER SET ${d.charset}` });
  for (const ts of s.tablespaces) out.push({ sql: `CREATE TABLESPACE ${quoteIdent(ts)} ADD DATAFILE ${literal(`${ts}.ibd`)}` });
  // Parents before children: foreign keys reference tables made earlier.
  const ordered = [...s.tables.filter((t) => !t.foreignKey), ...s.tables.filter((t) => t.foreignKey)];
  for (const t of ordered) {
    out.push({ sql: tableSql(t, s.flavor, dataDir) });
    for (const row of t.rows) out.push(insertSql(t, row));
    // History for a system-versioned table: a few rows updated after they were written.
    if (t.versioned && t.rows.length) out.push({ sql: `UPDATE ${qualifiedName(t.database, t.name)} SET ${quoteIdent(t.n)} = COALESCE(${quoteIdent(t.n)}, 0) + 1 WHERE ${quoteIdent(t.pk)} % 3 = 0` });
  }
  for (const v of s.views) {
    const cols = v.columns.map(quoteIdent).join(", ");
    const security = v.invoker ? "SQL SECURITY INVOKER " : "";
    out.push({ sql: `CREATE ${security}VIEW ${qualifiedName(v.database, v.name)} AS SELECT ${cols} FROM ${qualifiedName(v.database, v.from)} WHERE ${v.where}${v.checkOption ? " WITH CASCADED CHECK OPTION" : ""}` });
  }
  for (const tr of s.triggers) {
    const c = quoteIdent(tr.column);
    out.push({ sql: `CREATE TRIGGER ${qualifiedName(tr.database, tr.name)} BEFORE INSERT ON ${qualifiedName(tr.database, tr.table)} FOR EACH ROW SET NEW.${c} = COALESCE(NEW.${c}, 0)` });
  }
  for (const r of s.routines) {
    out.push({ sql: `USE ${quoteIdent(r.database)}` });
    out.push({ sql: `CREATE ${r.kind} ${qualifiedName(r.database, r.name)}${r.body}` });
  }
  for (const e of s.events) {
    out.push({
      sql: `CREATE EVENT ${qualifiedName(e.database, e.name)} ON SCHEDULE EVERY ${e.everyHours} HOUR STARTS '2031-01-01 00:00:00' ON COMPLETION PRESERVE ${e.enabled ? "ENABLE" : "DISABLE"} COMMENT ${literal(`évent ${e.name}`)} DO UPDATE ${qualifiedName(e.database, e.table)} SET ${quoteIdent(e.pk)} = ${quoteIdent(e.pk)} WHERE ${quoteIdent(e.pk)} = 0`,
    });
  }
  for (const q of s.sequences) {
    out.push({ sql: `CREATE SEQUENCE ${qualifiedName(q.database, q.name)} START WITH ${q.start} INCREMENT BY ${q.increment} MINVALUE 1 MAXVALUE 1000000 CACHE ${q.cache} ${q.cycle ? "CYCLE" : "NOCYCLE"}` });
    for (let i = 0; i < q.calls; i++) out.push({ sql: `SELECT NEXTVAL(${qualifiedName(q.database, q.name)})` });
  }
  for (const a of s.accounts) {
    const who = a.role && !mysql ? literal(a.user) : `${literal(a.user)}@${literal(a.host)}`;
    if (a.role) out.push({ sql: `CREATE ROLE ${who}` });
    else out.push({ sql: `CREATE USER ${who} IDENTIFIED BY ${literal(a.password)}${a.locked ? " ACCOUNT LOCK" : ""}` });
  }
  for (const a of s.accounts) {
    for (const grant of a.grants) out.push({ sql: grant.sql });
    if (a.defaultRole) {
      const who = `${literal(a.user)}@${literal(a.host)}`;
      out.push({ sql: mysql ? `SET DEFAULT ROLE ${literal(a.defaultRole)}@'%' TO ${who}` : `SET DEFAULT ROLE ${literal(a.defaultRole)} FOR ${who}` });
    }
  }
  return out;
}

/** The objects of a schema, by kind: what the report counts. */
export function objectsOf(s: Schema): { kind: string; name: string }[] {
  const tableKind = (t: Table) =>
    t.versioned ? "system-versioned table" : t.partition ? (t.partition.kind === "rangeSub" ? "subpartitioned table" : "partitioned table") : `${t.engine} table`;
  return [
    ...s.databases.map((d) => ({ kind: "database", name: d.name })),
    ...s.tablespaces.map((ts) => ({ kind: "general tablespace", name: ts })),
    ...s.tables.map((t) => ({ kind: tableKind(t), name: `${t.database}.${t.name}` })),
    ...s.tables.flatMap((t) => t.indexes.map((ix) => ({ kind: `${ix.kind === "key" ? (ix.desc ? "descending" : "secondary") : ix.kind} index`, name: `${t.database}.${t.name}.${ix.name}` }))),
    ...s.tables.flatMap((t) => t.columns.filter((c) => c.generated).map((c) => ({ kind: `${c.generated?.stored ? "stored" : "virtual"} generated column`, name: `${t.database}.${t.name}.${c.name}` }))),
    ...s.tables.flatMap((t) => t.columns.filter((c) => c.invisible).map((c) => ({ kind: "invisible column", name: `${t.database}.${t.name}.${c.name}` }))),
    ...s.tables.flatMap((t) => t.columns.filter((c) => c.type === "json").map((c) => ({ kind: "JSON column", name: `${t.database}.${t.name}.${c.name}` }))),
    ...s.tables.flatMap((t) => t.checks.map((c) => ({ kind: "CHECK constraint", name: `${t.database}.${t.name}.${c.name}` }))),
    ...s.tables.flatMap((t) => (t.foreignKey ? [{ kind: "foreign key", name: `${t.database}.${t.name}.${t.foreignKey.name}` }] : [])),
    ...s.tables.flatMap((t) => (t.dataDirectory ? [{ kind: "DATA DIRECTORY table", name: `${t.database}.${t.name}` }] : [])),
    ...s.tables.flatMap((t) => (t.pageCompressed || t.compression ? [{ kind: "compressed table", name: `${t.database}.${t.name}` }] : [])),
    ...s.tables.flatMap((t) => (t.rowFormat ? [{ kind: `ROW_FORMAT=${t.rowFormat} table`, name: `${t.database}.${t.name}` }] : [])),
    ...s.views.map((v) => ({ kind: s.views.some((o) => o.database === v.database && o.name === v.from) ? "view on a view" : "view", name: `${v.database}.${v.name}` })),
    ...s.triggers.map((t) => ({ kind: "trigger", name: `${t.database}.${t.name}` })),
    ...s.routines.map((r) => ({ kind: r.kind === "FUNCTION" ? "function" : "procedure", name: `${r.database}.${r.name}` })),
    ...s.events.map((e) => ({ kind: "event", name: `${e.database}.${e.name}` })),
    ...s.sequences.map((q) => ({ kind: "sequence", name: `${q.database}.${q.name}` })),
    ...s.accounts.map((a) => ({ kind: a.role ? "role" : "account", name: a.role ? a.user : `'${a.user}'@'${a.host}'` })),
    ...s.accounts.flatMap((a) => a.grants.map((gr) => ({ kind: `${gr.level} grant`, name: `${a.user} on ${gr.on}` }))),
  ];
}
