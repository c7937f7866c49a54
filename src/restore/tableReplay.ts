// The binlog replay of a restore of some tables (issue 17): the planned range of each binlog file rewritten to the
// events that change those tables, so that a server holding only them applies exactly what the whole restore would
// apply to them. Kept: row events on the tables (their table maps, the statement's annotation), statements that name
// them (DDL, and DML in statement format), transaction boundaries around them; dropped: the rest. Where that cannot be
// proven to give the tables' state at the point, the restore of the tables alone is refused (PartialRestoreRefused)
// and the whole chain is restored instead.
//
// Refused: XA transactions, LOAD DATA, encrypted binlogs and any event type not listed below; a statement naming a
// table that is not a plain DML or DDL statement on tables (CREATE VIEW/TRIGGER/FUNCTION over it, …); DML in statement
// format on a table that has triggers (they may read tables that are not restored); DML in statement format elsewhere
// when a view or another table's trigger names the tables (what it changed through them is not in the binlog);
// DROP/CREATE OR REPLACE of a table's database. The caller refuses as well when statement-format DML was seen and the
// server has stored functions, and when a foreign key links a table to one that is not restored (InnoDB cascades are
// not logged in either format). A statement kept that names a table not restored fails on the replay (the table does
// not exist there): the restore then falls back to the whole chain too, never delivering a table that missed it.
import { closeSync, openSync, readdirSync, readFileSync, statSync, writeSync } from "node:fs";
import { join } from "node:path";
import { crc32 } from "node:zlib";
import { ChunkReader, readFormat, readQuery, readTableMap } from "../binlog/rowEvents.ts";
import { tokenize, type Token } from "../server/sql.ts";
import type { TableName } from "../db/quote.ts";
import { FORMAT_DESCRIPTION_EVENT, HEADER, MAGIC, MARIADB_GTID_EVENT, QUERY_EVENT, QUERY_POST_HEADER, ROTATE_EVENT, STOP_EVENT, XID_EVENT } from "../binlog/events.ts";
import { PartialRestoreRefused, SYSTEM_SCHEMAS } from "./partial.ts";
import type { ReplayPlan } from "../binlog/replay.ts";

const INTVAR_EVENT = 5;
const RAND_EVENT = 13;
const USER_VAR_EVENT = 14;
const TABLE_MAP_EVENT = 19;
const ANNOTATE_ROWS_EVENT = 160;
const BINLOG_CHECKPOINT_EVENT = 161;
const GTID_LIST_EVENT = 163;
const QUERY_COMPRESSED_EVENT = 165;
/** Write, update and delete rows: v1 (MariaDB's), v2 (MySQL's), and MariaDB's compressed ones (log_bin_compress). */
const ROWS_EVENTS = new Set([23, 24, 25, 30, 31, 32, 166, 167, 168, 169, 170, 171]);
/** A rows event's flag: the last event of its statement (the server then closes the statement's tables). */
const STMT_END_F = 1;

/** Statements replayed on the tables alone when they name one of them (the rest of what names them is refused). */
const DML = new Set(["INSERT", "REPLACE", "UPDATE", "DELETE"]);
const TABLE_DDL = new Set(["TRUNCATE", "TRUNCATE TABLE", "ALTER TABLE", "CREATE TABLE", "CREATE INDEX", "DROP TABLE", "DROP INDEX", "RENAME TABLE", "ANALYZE TABLE", "OPTIMIZE TABLE", "REPAIR TABLE", "CHECK TABLE"]);
/** Accounts and privileges: no table's rows. */
const NOT_DATA = new Set(["GRANT", "REVOKE"]);
/** Words between a DDL verb and its object: `CREATE OR REPLACE TEMPORARY TABLE`, `CREATE UNIQUE INDEX`, `ALTER ONLINE IGNORE TABLE`. */
const MODIFIERS = new Set(["OR", "REPLACE", "TEMPORARY", "UNIQUE", "FULLTEXT", "SPATIAL", "ONLINE", "OFFLINE", "IGNORE", "LOCAL", "NO_WRITE_TO_BINLOG"]);
/** Statements that are not data: no table, no row. */
const TRANSACTION = new Set(["BEGIN", "COMMIT", "ROLLBACK", "SAVEPOINT", "RELEASE"]);

export interface TableReplayInput {
  /** The plan's files, plain, in order. */
  files: readonly { name: string; path: string }[];
  plan: ReplayPlan;
  tables: readonly TableName[];
  /** Views and other tables' triggers of the backup whose definitions name one of the tables ("view shop.v"). */
  reachedThrough: readonly string[];
  /** Tables of `tables` that have triggers of their own. */
  withTriggers: readonly TableName[];
}

export interface TableReplay {
  /** Rewritten files in the output directory: replay each whole, from its start, in order. */
  files: string[];
  /** Events kept and dropped within the planned range. */
  kept: number;
  dropped: number;
  /** Statement-format DML seen in the range (kept or dropped). */
  statementDml: number;
  /** What that DML calls (`name(`, lower case): a stored function among them reads and writes what the binlog does not show. */
  calls: string[];
}

/** What to do with one statement (a query event that is not a transaction boundary). */
export type StatementDecision = { keep: boolean; dml: boolean; calls: string[] } | { refuse: string };

/**
 * The statement's verb and the object word after its modifiers (after MariaDB's `SET STATEMENT … FOR`):
 * [`ALTER`, `TABLE`], [`CREATE`, `VIEW`], [`INSERT`, `INTO`], …
 */
function leading(tokens: readonly Token[]): [string, string] {
  let i = 0;
  if (tokens[0]?.upper === "SET" && tokens[1]?.upper === "STATEMENT") {
    while (i < tokens.length && tokens[i]?.upper !== "FOR") i++;
    i++;
  }
  const word = (k: number) => (tokens[k]?.type === "word" ? (tokens[k]?.upper as string) : "");
  const verb = word(i++);
  while (MODIFIERS.has(word(i))) i++;
  return [verb, word(i)];
}

/**
 * Keep, drop or refuse one statement, for a restore of `tables` (pure). Names are compared without case (a statement
 * on `Orders` is taken to name `orders`): a false match refuses or keeps, never drops.
 */
export function decideStatement(sql: string, context: { database: string; sqlMode?: bigint }, input: Pick<TableReplayInput, "tables" | "reachedThrough" | "withTriggers">): StatementDecision {
  const tokens = tokenize(sql, context.sqlMode ?? 0n);
  const names = new Set(input.tables.map((t) => t.table.toLowerCase()));
  const databases = new Set(input.tables.map((t) => t.database.toLowerCase()));
  const [first = "", second = ""] = leading(tokens);
  const words = tokens.filter((t) => t.type === "word" || t.type === "quoted").map((t) => t.text.toLowerCase());
  const verbs = tokens.filter((t) => t.type === "word").map((t) => t.upper);
  // DROP DATABASE, CREATE OR REPLACE DATABASE: the tables go with it, unnamed.
  if ((first === "DROP" || first === "CREATE") && (verbs.includes("DATABASE") || verbs.includes("SCHEMA")) && words.some((w) => databases.has(w))) {
    return { refuse: `it drops or replaces the database: ${shorten(sql)}` };
  }
  if (NOT_DATA.has(first)) return { keep: false, dml: false, calls: [] };
  const dml = DML.has(first) || first === "LOAD" || first === "DO" || first === "CALL";
  const calls = dml ? [...new Set(tokens.filter((t, i) => (t.type === "word" || t.type === "quoted") && tokens[i + 1]?.type === "punct" && tokens[i + 1]?.text === "(").map((t) => t.text.toLowerCase()))] : [];
  const names_ = words.some((w) => names.has(w));
  if (!names_) {
    if (dml && input.reachedThrough.length > 0) {
      return { refuse: `DML in statement format may change the tables through ${input.reachedThrough.slice(0, 3).join(", ")}, unlogged: ${shorten(sql)}` };
    }
    return { keep: false, dml, calls };
  }
  if (DML.has(first)) {
    const triggered = input.withTriggers.find((t) => words.includes(t.table.toLowerCase()));
    if (triggered) return { refuse: `DML in statement format on ${triggered.database}.${triggered.table}, which has triggers (they may read tables not restored): ${shorten(sql)}` };
    return { keep: true, dml: true, calls };
  }
  if (TABLE_DDL.has(first) || TABLE_DDL.has(`${first} ${second}`)) return { keep: true, dml: false, calls: [] };
  return { refuse: `a statement naming the table that is not replayed on it alone: ${shorten(sql)}` };
}

function shorten(sql: string): string {
  const text = sql.replace(/\s+/g, " ").trim();
  return text.length > 200 ? `${text.slice(0, 200)}…` : text;
}

/**
 * Write the planned range of `input.files`, restricted to `input.tables`, to `outDir` (same file names). Throws
 * PartialRestoreRefused naming file:position and why when the restriction cannot be proven exact.
 */
export function filterBinlogs(input: TableReplayInput, outDir: string): TableReplay {
  const result: TableReplay = { files: [], kept: 0, dropped: 0, statementDml: 0, calls: [] };
  const stopTime = input.plan.stopDatetime !== undefined ? Date.parse(`${input.plan.stopDatetime.replace(" ", "T")}Z`) / 1000 : Infinity;
  for (const [i, file] of input.files.entries()) {
    const last = i === input.files.length - 1;
    const done = filterFile(file, join(outDir, file.name), {
      input,
      from: i === 0 ? input.plan.startPosition : 4,
      stopPosition: last && input.plan.stopPosition !== undefined ? input.plan.stopPosition : Infinity,
      stopTime,
      result,
    });
    result.files.push(file.name);
    if (done) break;
  }
  return result;
}

interface FileRun {
  input: TableReplayInput;
  from: number;
  stopPosition: number;
  stopTime: number;
  result: TableReplay;
}

/** One file; true when the stop point was reached in it (no later file is read, as mariadb-binlog stops there). */
function filterFile(file: { name: string; path: string }, out: string, run: FileRun): boolean {
  const fd = openSync(file.path, "r");
  const outFd = openSync(out, "w", 0o600);
  try {
    const reader = new ChunkReader(fd, statSync(file.path).size);
    if (!reader.read(0, 4).equals(MAGIC)) throw new Error(`${file.path} is not a binlog file (no binlog magic number at its start)`);
    writeSync(outFd, MAGIC);
    const filter = new FileFilter(file, outFd, run);
    let offset = 4;
    while (offset + HEADER <= reader.size) {
      const length = reader.read(offset, HEADER).readUInt32LE(9);
      if (length < HEADER || offset + length > reader.size) break;
      if (filter.step(Buffer.from(reader.read(offset, length)), offset)) return true;
      offset += length;
    }
    return false;
  } finally {
    closeSync(fd);
    closeSync(outFd);
  }
}

/**
 * One file filtered an event at a time into the output: the transaction being read (held until it turns out to change
 * a wanted table, else dropped whole), and the statement being read in row events.
 */
class FileFilter {
  private outPosition = 4;
  private checksums = false;
  private postHeaders: number[] = [];
  // The transaction being read: its GTID and BEGIN, held until it turns out to change a table (else dropped whole).
  private prefix: Buffer[] = [];
  private hasData = false;
  private begun = false;
  // Intvar/Rand/User_var events belong to the statement that follows them.
  private vars: Buffer[] = [];
  // The statement being read in row events: its annotation and kept table maps, and its last kept rows event, held
  // so that it can carry the statement's end when the event that did is dropped.
  private maps = new Map<number, boolean>();
  private heldMaps: Buffer[] = [];
  private heldRow: Buffer | undefined;

  constructor(
    private readonly file: { name: string },
    private readonly outFd: number,
    private readonly run: FileRun,
  ) {}

  /** Reads the event at `offset` and writes what is kept; true when the replay's stop is reached. */
  step(event: Buffer, offset: number): boolean {
    const type = event.readUInt8(4);
    if (type === FORMAT_DESCRIPTION_EVENT) {
      ({ checksums: this.checksums, postHeaders: this.postHeaders } = readFormat(event));
      // Verbatim: its checksum is of the event as the server wrote it.
      writeSync(this.outFd, event);
      this.outPosition += event.length;
      return false;
    }
    // mariadb-binlog --start-position reads on from there; --stop-position and --stop-datetime stop at the first
    // event at or after them (the stop position in the last file only).
    if (offset < this.run.from) return false;
    if (event.readUInt32LE(0) >= this.run.stopTime || offset >= this.run.stopPosition) return true;
    const bodyEnd = event.length - (this.checksums ? 4 : 0);
    if (type === MARIADB_GTID_EVENT) {
      this.endTransaction(undefined);
      this.prefix = [event];
      this.begun = (event.readUInt8(HEADER + 12) & 1) === 0;
    } else if (type === QUERY_EVENT || type === QUERY_COMPRESSED_EVENT) {
      this.query(event, offset, bodyEnd);
    } else if (type === INTVAR_EVENT || type === RAND_EVENT || type === USER_VAR_EVENT) {
      this.vars.push(event);
    } else if (type === XID_EVENT) {
      this.endTransaction(event);
    } else if (type === ANNOTATE_ROWS_EVENT) {
      this.heldMaps = [event];
    } else if (type === TABLE_MAP_EVENT) {
      this.tableMap(event, offset, bodyEnd);
    } else if (ROWS_EVENTS.has(type)) {
      this.rows(event, offset);
    } else if (type === ROTATE_EVENT || type === STOP_EVENT || type === GTID_LIST_EVENT || type === BINLOG_CHECKPOINT_EVENT) {
      this.run.result.dropped++;
    } else {
      this.refuse(offset, `an event of type ${type}, which a restore of single tables does not replay (LOAD DATA, encryption, an incident…)`);
    }
    return false;
  }

  private postHeader(type: number, fallback: number): number {
    return this.postHeaders[type - 1] || fallback;
  }

  private refuse(offset: number, why: string): never {
    throw new PartialRestoreRefused(`${this.file.name}:${offset}: ${why}`);
  }

  /** Write an event at the output's position: its next-position field and, with `stmtEnd`, the rows flag set; CRC anew. */
  private emit(event: Buffer, options: { stmtEnd?: boolean } = {}): void {
    const copy = Buffer.from(event);
    copy.writeUInt32LE(this.outPosition + copy.length, 13);
    if (options.stmtEnd) {
      const at = HEADER + (this.postHeader(copy.readUInt8(4), 8) === 6 ? 4 : 6);
      copy.writeUInt16LE(copy.readUInt16LE(at) | STMT_END_F, at);
    }
    if (this.checksums) copy.writeUInt32LE(crc32(copy.subarray(0, copy.length - 4)), copy.length - 4);
    writeSync(this.outFd, copy);
    this.outPosition += copy.length;
    this.run.result.kept++;
  }

  private flushPrefix(): void {
    for (const e of this.prefix) this.emit(e);
    this.prefix = [];
    this.hasData = true;
  }

  private endTransaction(event: Buffer | undefined): void {
    if (this.hasData && event) this.emit(event);
    else if (event) this.run.result.dropped++;
    this.run.result.dropped += this.prefix.length;
    this.prefix = [];
    this.hasData = false;
    this.begun = false;
    this.vars = [];
  }

  /** A query event: BEGIN, COMMIT/ROLLBACK, a savepoint, or a statement kept or dropped by decideStatement. */
  private query(event: Buffer, offset: number, bodyEnd: number): void {
    const { input, result } = this.run;
    const type = event.readUInt8(4);
    const query = readQuery(event, bodyEnd, this.postHeader(type, QUERY_POST_HEADER), type === QUERY_COMPRESSED_EVENT);
    if (!query) this.refuse(offset, `a statement that cannot be read (type ${type})`);
    const sql = query.sql;
    const verb = /^\s*(\w+)/.exec(sql)?.[1]?.toUpperCase() ?? "";
    if (verb === "XA") this.refuse(offset, "an XA transaction");
    if (verb === "BEGIN") {
      this.prefix.push(event);
      this.begun = true;
    } else if ((verb === "COMMIT" || verb === "ROLLBACK") && !/^\s*ROLLBACK\s+TO\b/i.test(sql)) {
      this.endTransaction(event);
    } else if (TRANSACTION.has(verb)) {
      // SAVEPOINT, ROLLBACK TO, RELEASE: kept with the transaction (a later ROLLBACK TO needs its SAVEPOINT).
      this.flushPrefix();
      this.emit(event);
    } else {
      const decision = decideStatement(sql, { database: query.database, sqlMode: query.sqlMode }, input);
      if ("refuse" in decision) this.refuse(offset, decision.refuse);
      const { keep, dml, calls } = decision as { keep: boolean; dml: boolean; calls: string[] };
      if (dml) result.statementDml++;
      for (const c of calls) if (!result.calls.includes(c)) result.calls.push(c);
      if (keep) {
        this.flushPrefix();
        for (const v of this.vars) this.emit(v);
        this.emit(event);
      } else result.dropped += 1 + this.vars.length;
      this.vars = [];
      // A statement outside BEGIN … COMMIT is a transaction of its own (DDL, or autocommit DML).
      if (!this.begun) this.endTransaction(undefined);
    }
  }

  /** A table map: held when it names a wanted table (its rows events follow), else dropped. */
  private tableMap(event: Buffer, offset: number, bodyEnd: number): void {
    const map = readTableMap(event, bodyEnd, this.postHeader(TABLE_MAP_EVENT, 8));
    if (!map) this.refuse(offset, "a table map that cannot be read");
    const keep = this.run.input.tables.some((t) => t.database === map.table.database && t.table.toLowerCase() === map.table.table.toLowerCase());
    this.maps.set(map.id, keep);
    if (keep) this.heldMaps.push(event);
    else this.run.result.dropped++;
  }

  /** A rows event: kept on a wanted table; the statement's end flag moves to the last kept one. */
  private rows(event: Buffer, offset: number): void {
    const size = this.postHeader(event.readUInt8(4), 8);
    const id = size === 6 ? event.readUInt32LE(HEADER) : event.readUIntLE(HEADER, 6);
    const flags = event.readUInt16LE(HEADER + (size === 6 ? 4 : 6));
    const keep = this.maps.get(id);
    if (keep === undefined) this.refuse(offset, `a rows event on table id ${id}, which no table map named`);
    if (keep) {
      if (!this.hasData) this.flushPrefix();
      for (const m of this.heldMaps) this.emit(m);
      this.heldMaps = [];
      if (this.heldRow) this.emit(this.heldRow);
      this.heldRow = event;
    } else this.run.result.dropped++;
    if (flags & STMT_END_F) {
      if (this.heldRow) this.emit(this.heldRow, { stmtEnd: true });
      this.run.result.dropped += this.heldMaps.length;
      this.heldRow = undefined;
      this.heldMaps = [];
      this.maps = new Map();
    }
  }
}

/**
 * Views and triggers of other tables, in a backup's data directory, whose definitions name one of `tables` (by word,
 * without case): a statement-format change to another table or through a view may reach the tables through them.
 * Also which of `tables` have triggers of their own. Read from the files (`.frm` of a view, `.TRG`), so before anything
 * is copied.
 */
export function definitionsNaming(dataDir: string, tables: readonly TableName[]): { reachedThrough: string[]; withTriggers: TableName[] } {
  const names = new Set(tables.map((t) => t.table.toLowerCase()));
  const reachedThrough: string[] = [];
  const withTriggers: TableName[] = [];
  const names_ = (text: string) => tokenize(text).some((t) => (t.type === "word" || t.type === "quoted") && names.has(t.text.toLowerCase()));
  for (const database of readdirSync(dataDir, { withFileTypes: true })) {
    // The server's own schemas (sys's views) read no user table.
    if (!database.isDirectory() || SYSTEM_SCHEMAS.has(database.name)) continue;
    for (const file of readdirSync(join(dataDir, database.name))) {
      const path = join(dataDir, database.name, file);
      if (file.endsWith(".TRG")) {
        const table = file.slice(0, -4);
        const own = tables.find((t) => t.database === database.name && t.table.toLowerCase() === table.toLowerCase());
        if (own) withTriggers.push(own);
        else if (names_(triggerBodies(readFileSync(path, "utf8")))) reachedThrough.push(`the triggers of ${database.name}.${table}`);
      } else if (file.endsWith(".frm")) {
        const head = readFileSync(path).subarray(0, 9).toString("latin1");
        if (head !== "TYPE=VIEW") continue;
        const query = /^query=(.*)$/m.exec(readFileSync(path, "utf8"))?.[1] ?? "";
        if (names_(unescapeFrm(query))) reachedThrough.push(`view ${database.name}.${file.slice(0, -4)}`);
      }
    }
  }
  return { reachedThrough, withTriggers };
}

/** A `.TRG` file's `triggers='…' '…'` line: the CREATE TRIGGER statements, each quoted, unescaped. */
function triggerBodies(text: string): string {
  const line = /^triggers=(.*)$/m.exec(text)?.[1] ?? "";
  return [...line.matchAll(/'((?:[^'\\]|\\.)*)'/g)].map((m) => unescapeFrm(m[1] as string)).join("\n");
}

/** The server's escaping in `.frm`/`.TRG` text files (`\n`, `\'`, `\\`). */
function unescapeFrm(text: string): string {
  return text.replace(/\\(.)/g, (_, c: string) => (c === "n" ? "\n" : c === "t" ? "\t" : c));
}
