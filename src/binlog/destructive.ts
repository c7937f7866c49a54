// The first event in archived binlog files that destroys a table's data: what `restore --before-destructive` restores
// to just before (issue 17). Files are read as events.ts reads them, without a server and with every event's CRC32
// checked; the position found is the start of the destroying transaction (its GTID event, else its BEGIN, else the
// statement itself), so `--stop-position=<position>` replays everything before that transaction and nothing of it.
//
// What is matched, for the table `db.t` (names compared exactly, as stored; an unqualified name is in the query
// event's current database; backtick-quoted names, and "quoted" ones under sql_mode ANSI_QUOTES):
//
// Statements (query events: statement format, and every DDL in either format), read as the server would: comments
// skipped, MySQL/MariaDB executable comments (`/*! … */`, `/*M! … */`) read as code, strings skipped:
//   DROP TABLE [IF EXISTS] a, db.t, …                 DROP TABLE      (DROP TEMPORARY TABLE is not: a temporary table)
//   DROP DATABASE|SCHEMA [IF EXISTS] db               DROP DATABASE
//   CREATE OR REPLACE TABLE t …                       CREATE OR REPLACE (it drops t first; not … TEMPORARY TABLE)
//   TRUNCATE [TABLE] t                                TRUNCATE
//   DELETE [LOW_PRIORITY|QUICK|IGNORE|HISTORY] FROM t …   DELETE (with or without WHERE: every delete counts)
//   DELETE t1[.*], … FROM refs …  /  DELETE FROM t1[.*], … USING refs …   DELETE when t is a target (aliases resolved)
//   UPDATE t [[AS] a] … SET …                         UPDATE
//   UPDATE refs SET a.c = …, …                        UPDATE when an assigned column is t's (`t.c`, `alias.c`,
//                                                     `db.t.c`), or t is among the tables and a column is unqualified
//   ALTER [ONLINE] [IGNORE] TABLE t DROP [COLUMN] c | DROP PARTITION | TRUNCATE PARTITION | DISCARD [PARTITION …]
//     TABLESPACE | CONVERT PARTITION … TO TABLE | EXCHANGE PARTITION … WITH TABLE | DROP SYSTEM VERSIONING |
//     ENGINE=BLACKHOLE                                ALTER (not DROP INDEX/KEY/PRIMARY KEY/FOREIGN KEY/CONSTRAINT/
//                                                     CHECK/PERIOD; not MODIFY/CHANGE, even to a narrower type)
//   ALTER TABLE x EXCHANGE PARTITION p WITH TABLE t   ALTER (t's rows are swapped out)
//   ALTER TABLE t RENAME [TO|AS] u, RENAME TABLE[S] [IF EXISTS] t TO u, …   RENAME (t as the source of a rename)
//   MariaDB's `SET STATEMENT … FOR <statement>` and MySQL's `WITH … <statement>` are read as <statement>.
// Row events (ROW format, and MIXED's unsafe statements): DELETE_ROWS (25 v1, 32 v2), UPDATE_ROWS (24, 31), MySQL's
// PARTIAL_UPDATE_ROWS (39) and MariaDB's compressed ones (167, 168, 170, 171; log_bin_compress), on a table id the
// transaction's TABLE_MAP (19) names db.t. `rows` is the rows the transaction deleted or updated in t, counted from
// the rows images with the table map's column types (an updated row counts once); unknown (undefined) for MySQL's
// partial JSON updates or a column type not decoded here. MariaDB's annotation of the statement (Annotate_rows, MySQL's
// Rows_query) is given as `statement` when the server wrote one.
//
// Not matched: REPLACE and INSERT … ON DUPLICATE KEY UPDATE and LOAD DATA … REPLACE in statement format (in ROW format
// their overwrites are update or delete row events, and are); rows a foreign key's ON DELETE/ON UPDATE CASCADE or
// SET NULL changes (InnoDB does that inside the engine: MariaDB logs no row events for them, in either format); rows a
// trigger or stored routine changes in statement format (only the calling statement is logged); a statement on a temporary table of the same name; a statement that names t in
// another letter case (lower_case_table_names=1); DDL that loses data by changing a column's type. A statement in
// statement format counts even when it matched no row. MySQL's compressed transaction payloads (type 40) and MariaDB's
// encrypted binlogs cannot be read here: the search stops there with an error rather than miss an event.
import { closeSync, fstatSync, openSync } from "node:fs";
import { crc32 } from "node:zlib";
import { FORMAT_DESCRIPTION_EVENT, HEADER, MAGIC, MARIADB_GTID_EVENT, MYSQL_GTID_EVENTS, QUERY_EVENT, QUERY_POST_HEADER, XID_EVENT, formatChecksumHolds } from "./events.ts";
import {
  ChunkReader,
  countRows,
  MARIADB_ANNOTATE_ROWS_EVENT,
  MARIADB_QUERY_COMPRESSED_EVENT,
  MARIADB_START_ENCRYPTION_EVENT,
  MYSQL_GTID_EVENT,
  MYSQL_GTID_TAGGED_EVENT,
  MYSQL_ROWS_QUERY_EVENT,
  MYSQL_TRANSACTION_PAYLOAD_EVENT,
  mysqlGtid,
  readFormat,
  readQuery,
  readTableMap,
  ROTATE_EVENT,
  ROW_EVENTS,
  STOP_EVENT,
  TABLE_MAP_EVENT,
  XA_PREPARE_EVENT,
  type TableMap,
} from "./rowEvents.ts";
import { destructiveStatement, type DestructiveKind } from "./statement.ts";
import type { TableName } from "../db/quote.ts";

export interface DestructiveEvent {
  /** The binlog file's name. */
  file: string;
  /** Where the destroying transaction starts (its GTID event, else its BEGIN, else the statement): restore with
   * `--stop-position=position` and it stops right before it. */
  position: number;
  /** Where the destroying event itself starts (the statement, or the first row event on the table). */
  eventPosition: number;
  /** The event's timestamp (whole seconds, as the binlog keeps it). */
  time: Date;
  kind: DestructiveKind;
  /** How it is logged: a statement (statement format, and every DDL) or row events. */
  format: "ROW" | "STATEMENT";
  /** The statement (at most ~300 characters): the query's text, or for row events the server's annotation of them. */
  statement?: string;
  /** Row events: the rows the transaction deleted or updated in the table; undefined when they could not be counted. */
  rows?: number;
  /** The transaction's GTID: MariaDB's domain-server-sequence, MySQL's uuid:number; undefined when it has none. */
  gtid?: string;
}

export interface DestructiveSearch {
  /** Only events at or after this time, to the second (binlog times are whole seconds: the same second counts). */
  after?: Date;
  /**
   * Only events at or after this position (a file of `files`, and a byte position in it). An event of a transaction
   * that began before it counts too, and `position` is then that transaction's start, before `from`.
   */
  from?: { file: string; position: number };
}

const STATEMENT_CHARS = 300;

/**
 * The first event in `files` (in binlog order) that destroys data of `table`, at or after `search.after` and
 * `search.from`; undefined when there is none. Throws on a damaged event (CRC32) or an event it cannot read into
 * (encrypted, or a compressed transaction payload) before one is found, naming file:position.
 */
export function findDestructive(files: readonly { name: string; path: string }[], table: TableName, search: DestructiveSearch = {}): DestructiveEvent | undefined {
  let first = 0;
  if (search.from) {
    first = files.findIndex((f) => f.name === search.from?.file);
    if (first < 0) throw new Error(`${search.from.file} is not among the binlog files searched (${files.map((f) => f.name).join(", ") || "none"})`);
  }
  const afterSeconds = search.after ? Math.floor(search.after.getTime() / 1000) : -Infinity;
  for (let i = first; i < files.length; i++) {
    const file = files[i] as { name: string; path: string };
    const found = searchFile(file, table, i === first && search.from ? search.from.position : 0, afterSeconds);
    if (found) return found;
  }
  return undefined;
}

function searchFile(file: { name: string; path: string }, table: TableName, from: number, afterSeconds: number): DestructiveEvent | undefined {
  const fd = openSync(file.path, "r");
  try {
    const reader = new ChunkReader(fd, fstatSync(fd).size);
    if (!reader.read(0, 4).equals(MAGIC)) throw new Error(`${file.path} is not a binlog file (no binlog magic number at its start)`);
    const search = new FileSearch(file, table, from, afterSeconds);
    let offset = 4;
    while (offset + HEADER <= reader.size) {
      const length = reader.read(offset, HEADER).readUInt32LE(9);
      if (length < HEADER || offset + length > reader.size) break; // cut off mid-event: the copy of a file being written
      if (search.step(reader.read(offset, length), offset)) break;
      offset += length;
    }
    return search.found;
  } finally {
    closeSync(fd);
  }
}

/** One event as a handler of FileSearch reads it. */
interface EventAt {
  event: Buffer;
  offset: number;
  type: number;
  /** Where the event's body ends (before its CRC32). */
  bodyEnd: number;
  /** At or after the search's position and time. */
  eligible: boolean;
}

/** One file's search, an event at a time: the transaction being read, the tables mapped, and what was found. */
class FileSearch {
  found: DestructiveEvent | undefined;
  private checksums = false;
  private postHeaders: number[] = [];
  private readonly tables = new Map<number, TableMap>();
  /** The transaction being read: where it started, its GTID, whether it is a BEGIN … COMMIT group. */
  private transaction: { start: number; gtid?: string; begun: boolean } | undefined;
  private annotation: string | undefined;

  constructor(
    private readonly file: { name: string; path: string },
    private readonly table: TableName,
    private readonly from: number,
    private readonly afterSeconds: number,
  ) {}

  /** Reads the event at `offset`; true when the search of this file is over (`found` says what it found). */
  step(event: Buffer, offset: number): boolean {
    const type = event.readUInt8(4);
    if (type === FORMAT_DESCRIPTION_EVENT) ({ checksums: this.checksums, postHeaders: this.postHeaders } = readFormat(event));
    const holds = type === FORMAT_DESCRIPTION_EVENT ? !this.checksums || formatChecksumHolds(event) : !this.checksums || crc32(event.subarray(0, event.length - 4)) === event.readUInt32LE(event.length - 4);
    if (!holds) {
      this.found = damaged(this.file, offset, type, this.found);
      return true;
    }
    const at: EventAt = { event, offset, type, bodyEnd: event.length - (this.checksums ? 4 : 0), eligible: offset >= this.from && event.readUInt32LE(0) >= this.afterSeconds };
    if (type === MARIADB_GTID_EVENT || MYSQL_GTID_EVENTS.has(type) || type === MYSQL_GTID_TAGGED_EVENT) return this.gtid(at);
    if (type === QUERY_EVENT || type === MARIADB_QUERY_COMPRESSED_EVENT) return this.query(at);
    if (type === XID_EVENT || type === XA_PREPARE_EVENT) return this.end();
    if (ROW_EVENTS.has(type)) return this.rows(at);
    if (type === TABLE_MAP_EVENT) {
      const map = readTableMap(event, at.bodyEnd, this.postHeader(type, 8));
      if (map) this.tables.set(map.id, map.table);
    } else if (type === MARIADB_ANNOTATE_ROWS_EVENT) {
      this.annotation = event.toString("utf8", HEADER, at.bodyEnd);
    } else if (type === MYSQL_ROWS_QUERY_EVENT) {
      this.annotation = event.toString("utf8", HEADER + 1, at.bodyEnd);
    } else if (type === ROTATE_EVENT || type === STOP_EVENT) {
      return this.found !== undefined;
    } else if (type === MARIADB_START_ENCRYPTION_EVENT) {
      if (this.found) return true;
      throw new Error(`${this.file.name}:${offset}: the binlog is encrypted from here (encrypt_binlog): its events cannot be searched without the server`);
    } else if (type === MYSQL_TRANSACTION_PAYLOAD_EVENT) {
      if (this.found) return true;
      if (at.eligible) throw new Error(`${this.file.name}:${offset}: a compressed transaction payload (binlog_transaction_compression): its events cannot be searched here`);
    }
    return false;
  }

  private postHeader(type: number, fallback: number): number {
    return this.postHeaders[type - 1] || fallback;
  }

  /** The transaction ends; true when it held what the search looks for. */
  private end(): boolean {
    this.transaction = undefined;
    this.annotation = undefined;
    return this.found !== undefined;
  }

  /** A finding at this event, in the transaction being read. */
  private finding({ event, offset }: EventAt, kind: DestructiveKind, format: DestructiveEvent["format"]): DestructiveEvent {
    const gtid = this.transaction?.gtid;
    return { file: this.file.name, position: this.transaction?.start ?? offset, eventPosition: offset, time: new Date(event.readUInt32LE(0) * 1000), kind, format, ...(gtid ? { gtid } : {}) };
  }

  /** A GTID event starts a transaction (and ends the search when the one before it held a finding). */
  private gtid({ event, offset, type }: EventAt): boolean {
    if (this.found) return true;
    if (type === MARIADB_GTID_EVENT) {
      const sequence = event.readBigUInt64LE(HEADER);
      const domain = event.readUInt32LE(HEADER + 8);
      // FL_STANDALONE: a group of one statement (DDL) without BEGIN.
      this.transaction = { start: offset, gtid: `${domain}-${event.readUInt32LE(5)}-${sequence}`, begun: (event.readUInt8(HEADER + 12) & 1) === 0 };
    } else {
      this.transaction = { start: offset, begun: false, ...(type === MYSQL_GTID_EVENT ? { gtid: mysqlGtid(event) } : {}) };
    }
    this.annotation = undefined;
    return false;
  }

  /** A query event: BEGIN, COMMIT/ROLLBACK, or a statement that may destroy the table. */
  private query(at: EventAt): boolean {
    const { event, offset, type, bodyEnd, eligible } = at;
    const query = readQuery(event, bodyEnd, this.postHeader(type, QUERY_POST_HEADER), type === MARIADB_QUERY_COMPRESSED_EVENT);
    const word = /^\s*(\w+)(?:\s+(\w+))?/.exec(query?.sql ?? "");
    const verb = word?.[1]?.toUpperCase();
    if (verb === "BEGIN" || (verb === "XA" && word?.[2]?.toUpperCase() === "START")) {
      if (this.transaction) this.transaction.begun = true;
      else this.transaction = { start: offset, begun: true };
      return false;
    }
    if (verb === "COMMIT" || verb === "ROLLBACK" || (verb === "XA" && word?.[2]?.toUpperCase() === "COMMIT")) return this.end();
    if (!this.found && eligible && query) {
      const kind = destructiveStatement(query.sql, this.table, { database: query.database, sqlMode: query.sqlMode });
      if (kind) this.found = { ...this.finding(at, kind, "STATEMENT"), statement: shorten(query.sql) };
    }
    if (query === undefined && !this.found && eligible) {
      // A statement that cannot be read (a compressed one that does not inflate) may be the one.
      throw new Error(`${this.file.name}:${offset}: a statement that cannot be read (type ${type}): the search cannot go past it`);
    }
    // A statement outside BEGIN … COMMIT is a transaction of its own (DDL).
    if (!this.transaction?.begun) return this.end();
    return this.found?.format === "STATEMENT";
  }

  /** A row event that deletes or updates rows: a finding when its table map names the table. */
  private rows(at: EventAt): boolean {
    const { event, type, bodyEnd, eligible } = at;
    const rowEvent = ROW_EVENTS.get(type) as { kind: "DELETE" | "UPDATE"; compressed?: boolean; partial?: boolean; postHeader: number };
    const size = this.postHeader(type, rowEvent.postHeader);
    const map = this.tables.get(size === 6 ? event.readUInt32LE(HEADER) : event.readUIntLE(HEADER, 6));
    if (!map || map.database !== this.table.database || map.table !== this.table.table) return false;
    if (this.found?.format === "ROW") {
      // The same transaction's further row events on the table: their rows count too.
      if (this.found.rows !== undefined) {
        const rows = countRows(event, bodyEnd, size, map, rowEvent);
        if (rows === undefined) delete this.found.rows;
        else this.found.rows += rows;
      }
    } else if (!this.found && eligible) {
      const rows = countRows(event, bodyEnd, size, map, rowEvent);
      this.found = { ...this.finding(at, rowEvent.kind, "ROW"), ...(this.annotation ? { statement: shorten(this.annotation) } : {}), ...(rows === undefined ? {} : { rows }) };
    }
    return false;
  }
}

/** A damaged event ends the search: what was found before it stands (its row count, if it was still counting, not). */
function damaged(file: { name: string }, offset: number, type: number, found: DestructiveEvent | undefined): DestructiveEvent {
  if (found) {
    delete found.rows;
    return found;
  }
  throw new Error(`${file.name}:${offset}: damaged event (type ${type}, its CRC32 checksum does not hold): the search cannot go past it`);
}

function shorten(sql: string): string {
  const text = sql.trim();
  return text.length > STATEMENT_CHARS ? `${text.slice(0, STATEMENT_CHARS)}…` : text;
}
