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
import { closeSync, fstatSync, openSync, readSync } from "node:fs";
import { crc32, inflateSync } from "node:zlib";
import { FORMAT_DESCRIPTION_EVENT, HEADER, MAGIC, MARIADB_GTID_EVENT, MYSQL_GTID_EVENTS, QUERY_EVENT, QUERY_POST_HEADER, XID_EVENT, formatChecksumHolds } from "./events.ts";

export type DestructiveKind = "DROP TABLE" | "DROP DATABASE" | "CREATE OR REPLACE" | "TRUNCATE" | "DELETE" | "UPDATE" | "ALTER" | "RENAME";

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

export interface TableName {
  database: string;
  table: string;
}

/** `db.t`, as messages and the command line name a table. */
export function tableLabel(t: TableName): string {
  return `${t.database}.${t.table}`;
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

const STOP_EVENT = 3;
const ROTATE_EVENT = 4;
const TABLE_MAP_EVENT = 19;
const MYSQL_ROWS_QUERY_EVENT = 29;
const MYSQL_GTID_EVENT = 33;
const XA_PREPARE_EVENT = 38;
const MYSQL_TRANSACTION_PAYLOAD_EVENT = 40;
/** MySQL 8.3 on: the GTID event of a transaction whose GTID has a tag. */
const MYSQL_GTID_TAGGED_EVENT = 42;
const MARIADB_ANNOTATE_ROWS_EVENT = 160;
const MARIADB_START_ENCRYPTION_EVENT = 164;
const MARIADB_QUERY_COMPRESSED_EVENT = 165;
/** The format description's flag on the file the server is writing; its checksum is of the event without it. */
/** Row events that delete or change rows: their kind, whether MariaDB compressed their rows, and their default post-header size. */
const ROW_EVENTS = new Map<number, { kind: "DELETE" | "UPDATE"; compressed?: boolean; partial?: boolean; postHeader: number }>([
  [24, { kind: "UPDATE", postHeader: 8 }],
  [25, { kind: "DELETE", postHeader: 8 }],
  [31, { kind: "UPDATE", postHeader: 10 }],
  [32, { kind: "DELETE", postHeader: 10 }],
  [39, { kind: "UPDATE", partial: true, postHeader: 10 }],
  [167, { kind: "UPDATE", compressed: true, postHeader: 8 }],
  [168, { kind: "DELETE", compressed: true, postHeader: 8 }],
  [170, { kind: "UPDATE", compressed: true, postHeader: 10 }],
  [171, { kind: "DELETE", compressed: true, postHeader: 10 }],
]);
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

interface TableMap {
  database: string;
  table: string;
  types: number[];
  /** Each column's metadata, as the server's table_def decodes it. */
  meta: number[];
}

/** Reads a file's bytes a chunk at a time: one read per few MB, not two per event. */
export class ChunkReader {
  private buffer = Buffer.alloc(0);
  private start = 0;
  constructor(
    private readonly fd: number,
    readonly size: number,
  ) {}

  read(position: number, length: number): Buffer {
    const offset = position - this.start;
    if (offset < 0 || offset + length > this.buffer.length) {
      const buffer = Buffer.allocUnsafe(Math.max(length, 4 << 20));
      this.buffer = buffer.subarray(0, readSync(this.fd, buffer, 0, buffer.length, position));
      this.start = position;
      return this.buffer.subarray(0, Math.min(length, this.buffer.length));
    }
    return this.buffer.subarray(offset, offset + length);
  }
}

function searchFile(file: { name: string; path: string }, table: TableName, from: number, afterSeconds: number): DestructiveEvent | undefined {
  const fd = openSync(file.path, "r");
  try {
    const reader = new ChunkReader(fd, fstatSync(fd).size);
    if (!reader.read(0, 4).equals(MAGIC)) throw new Error(`${file.path} is not a binlog file (no binlog magic number at its start)`);
    let checksums = false;
    let postHeaders: number[] = [];
    const postHeader = (type: number, fallback: number) => postHeaders[type - 1] || fallback;
    const tables = new Map<number, TableMap>();
    // The transaction being read: where it started, its GTID, whether it is a BEGIN … COMMIT group.
    let transaction: { start: number; gtid?: string; begun: boolean } | undefined;
    let annotation: string | undefined;
    let found: DestructiveEvent | undefined;
    const end = () => {
      transaction = undefined;
      annotation = undefined;
      return found;
    };
    let offset = 4;
    while (offset + HEADER <= reader.size) {
      const header = reader.read(offset, HEADER);
      const length = header.readUInt32LE(9);
      if (length < HEADER || offset + length > reader.size) break; // cut off mid-event: the copy of a file being written
      const event = reader.read(offset, length);
      const type = event.readUInt8(4);
      const time = event.readUInt32LE(0);
      if (type === FORMAT_DESCRIPTION_EVENT) {
        ({ checksums, postHeaders } = readFormat(event));
        if (checksums && !formatChecksumHolds(event)) return damaged(file, offset, type, found);
      } else if (checksums && crc32(event.subarray(0, length - 4)) !== event.readUInt32LE(length - 4)) {
        return damaged(file, offset, type, found);
      }
      const bodyEnd = length - (checksums ? 4 : 0);
      const eligible = offset >= from && time >= afterSeconds;
      const at = (kind: DestructiveKind, format: DestructiveEvent["format"]): DestructiveEvent => ({
        file: file.name,
        position: transaction?.start ?? offset,
        eventPosition: offset,
        time: new Date(time * 1000),
        kind,
        format,
        ...(transaction?.gtid ? { gtid: transaction.gtid } : {}),
      });
      if (type === MARIADB_GTID_EVENT) {
        if (found) return found;
        const sequence = event.readBigUInt64LE(HEADER);
        const domain = event.readUInt32LE(HEADER + 8);
        // FL_STANDALONE: a group of one statement (DDL) without BEGIN.
        transaction = { start: offset, gtid: `${domain}-${event.readUInt32LE(5)}-${sequence}`, begun: (event.readUInt8(HEADER + 12) & 1) === 0 };
        annotation = undefined;
      } else if (MYSQL_GTID_EVENTS.has(type) || type === MYSQL_GTID_TAGGED_EVENT) {
        if (found) return found;
        transaction = { start: offset, begun: false, ...(type === MYSQL_GTID_EVENT ? { gtid: mysqlGtid(event) } : {}) };
        annotation = undefined;
      } else if (type === QUERY_EVENT || type === MARIADB_QUERY_COMPRESSED_EVENT) {
        const query = readQuery(event, bodyEnd, postHeader(type, QUERY_POST_HEADER), type === MARIADB_QUERY_COMPRESSED_EVENT);
        const word = /^\s*(\w+)(?:\s+(\w+))?/.exec(query?.sql ?? "");
        const verb = word?.[1]?.toUpperCase();
        if (verb === "BEGIN" || (verb === "XA" && word?.[2]?.toUpperCase() === "START")) {
          if (transaction) transaction.begun = true;
          else transaction = { start: offset, begun: true };
        } else if (verb === "COMMIT" || verb === "ROLLBACK" || (verb === "XA" && word?.[2]?.toUpperCase() === "COMMIT")) {
          if (end()) return found;
        } else {
          if (!found && eligible && query) {
            const kind = destructiveStatement(query.sql, table, { database: query.database, sqlMode: query.sqlMode });
            if (kind) found = { ...at(kind, "STATEMENT"), statement: shorten(query.sql) };
          }
          if (query === undefined && !found && eligible) {
            // A statement that cannot be read (a compressed one that does not inflate) may be the one.
            throw new Error(`${file.name}:${offset}: a statement that cannot be read (type ${type}): the search cannot go past it`);
          }
          // A statement outside BEGIN … COMMIT is a transaction of its own (DDL).
          if (!transaction?.begun) {
            if (end()) return found;
          } else if (found?.format === "STATEMENT") return found;
        }
      } else if (type === XID_EVENT || type === XA_PREPARE_EVENT) {
        if (end()) return found;
      } else if (type === TABLE_MAP_EVENT) {
        const map = readTableMap(event, bodyEnd, postHeader(type, 8));
        if (map) tables.set(map.id, map.table);
      } else if (type === MARIADB_ANNOTATE_ROWS_EVENT) {
        annotation = event.toString("utf8", HEADER, bodyEnd);
      } else if (type === MYSQL_ROWS_QUERY_EVENT) {
        annotation = event.toString("utf8", HEADER + 1, bodyEnd);
      } else if (ROW_EVENTS.has(type)) {
        const rowEvent = ROW_EVENTS.get(type) as { kind: "DELETE" | "UPDATE"; compressed?: boolean; partial?: boolean; postHeader: number };
        const size = postHeader(type, rowEvent.postHeader);
        const id = size === 6 ? event.readUInt32LE(HEADER) : event.readUIntLE(HEADER, 6);
        const map = tables.get(id);
        if (map && map.database === table.database && map.table === table.table) {
          if (found?.format === "ROW") {
            // The same transaction's further row events on the table: their rows count too.
            if (found.rows !== undefined) {
              const rows = countRows(event, bodyEnd, size, map, rowEvent);
              if (rows === undefined) delete found.rows;
              else found.rows += rows;
            }
          } else if (!found && eligible) {
            const rows = countRows(event, bodyEnd, size, map, rowEvent);
            found = { ...at(rowEvent.kind, "ROW"), ...(annotation ? { statement: shorten(annotation) } : {}), ...(rows === undefined ? {} : { rows }) };
          }
        }
      } else if (type === ROTATE_EVENT || type === STOP_EVENT) {
        if (found) return found;
      } else if (type === MARIADB_START_ENCRYPTION_EVENT) {
        if (found) return found;
        throw new Error(`${file.name}:${offset}: the binlog is encrypted from here (encrypt_binlog): its events cannot be searched without the server`);
      } else if (type === MYSQL_TRANSACTION_PAYLOAD_EVENT) {
        if (found) return found;
        if (eligible) {
          throw new Error(`${file.name}:${offset}: a compressed transaction payload (binlog_transaction_compression): its events cannot be searched here`);
        }
      }
      offset += length;
    }
    return found;
  } finally {
    closeSync(fd);
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

/** The format description: whether events carry a CRC32, and each event type's post-header size. */
export function readFormat(event: Buffer): { checksums: boolean; postHeaders: number[] } {
  // Body: binlog version (2), server version (50), creation time (4), header size (1), post-header sizes (one per
  // type), then (5.6.1 on) the checksum algorithm (1) and a checksum (4).
  const sizesStart = HEADER + 57;
  const algorithm = event.length >= sizesStart + 5 ? event.readUInt8(event.length - 5) : 0;
  return { checksums: algorithm === 1, postHeaders: [...event.subarray(sizesStart, Math.max(sizesStart, event.length - 5))] };
}


function mysqlGtid(event: Buffer): string {
  const sid = event.toString("hex", HEADER + 1, HEADER + 17);
  const gno = event.readBigInt64LE(HEADER + 17);
  return `${sid.slice(0, 8)}-${sid.slice(8, 12)}-${sid.slice(12, 16)}-${sid.slice(16, 20)}-${sid.slice(20)}:${gno}`;
}

/** MariaDB's compressed block: a header byte (0x80 | bytes of the length), the length (big-endian), zlib data. */
function decompress(block: Buffer): Buffer {
  const first = block.readUInt8(0);
  if ((first & 0xe0) !== 0x80) throw new Error("not a compressed block");
  return inflateSync(block.subarray(1 + (first & 0x07)));
}

export function readQuery(event: Buffer, bodyEnd: number, postHeader: number, compressed: boolean): { sql: string; database: string; sqlMode?: bigint } | undefined {
  const dbLength = event.readUInt8(HEADER + 8);
  const statusLength = event.readUInt16LE(HEADER + 11);
  const statusStart = HEADER + postHeader;
  const dbStart = statusStart + statusLength;
  if (dbStart + dbLength + 1 > bodyEnd) return undefined;
  let text = event.subarray(dbStart + dbLength + 1, bodyEnd);
  if (compressed) {
    try {
      text = decompress(text);
    } catch {
      return undefined;
    }
  }
  const sqlMode = statusSqlMode(event.subarray(statusStart, dbStart));
  return { sql: text.toString("utf8"), database: event.toString("utf8", dbStart, dbStart + dbLength), ...(sqlMode === undefined ? {} : { sqlMode }) };
}

/** The query's sql_mode from its status variables (ANSI_QUOTES and NO_BACKSLASH_ESCAPES change how it reads). */
function statusSqlMode(status: Buffer): bigint | undefined {
  let p = 0;
  const byte = (at: number) => (at < status.length ? status.readUInt8(at) : 0);
  while (p < status.length) {
    const code = byte(p++);
    switch (code) {
      case 1: // Q_SQL_MODE_CODE
        return p + 8 <= status.length ? status.readBigUInt64LE(p) : undefined;
      case 0: // flags2
      case 3: // auto_increment
      case 10: // master_data_written
        p += 4;
        break;
      case 2: // catalog (old): length, text, NUL
        p += 1 + byte(p) + 1;
        break;
      case 4: // charsets
        p += 6;
        break;
      case 5: // time zone
      case 6: // catalog
        p += 1 + byte(p);
        break;
      case 7: // lc_time_names
      case 8: // charset_database
      case 18: // default_collation_for_utf8mb4
        p += 2;
        break;
      case 9: // table_map_for_update
      case 17: // ddl_logged_with_xid
      case 129: // MariaDB xid
        p += 8;
        break;
      case 11: // invoker: user, host
        p += 1 + byte(p);
        p += 1 + byte(p);
        break;
      case 12: {
        // updated databases: a count (254: too many to list), then NUL-terminated names
        const count = byte(p++);
        if (count !== 254) {
          for (let i = 0; i < count; i++) {
            while (p < status.length && byte(p) !== 0) p++;
            p++;
          }
        }
        break;
      }
      case 13: // microseconds
      case 128: // MariaDB hrnow
        p += 3;
        break;
      case 16: // explicit_defaults_for_timestamp
      case 19: // sql_require_primary_key
      case 20: // default_table_encryption
      case 130: // MariaDB gtid flags
        p += 1;
        break;
      default:
        return undefined;
    }
  }
  return undefined;
}

/** A length-encoded integer: [value, position after it]. */
function packedInt(buffer: Buffer, p: number): [number, number] {
  const first = buffer.readUInt8(p);
  if (first < 251) return [first, p + 1];
  if (first === 252) return [buffer.readUInt16LE(p + 1), p + 3];
  if (first === 253) return [buffer.readUIntLE(p + 1, 3), p + 4];
  if (first === 254) return [Number(buffer.readBigUInt64LE(p + 1)), p + 9];
  throw new Error(`not a length-encoded integer (first byte ${first})`);
}

export function readTableMap(event: Buffer, bodyEnd: number, postHeader: number): { id: number; table: TableMap } | undefined {
  try {
    const id = postHeader === 6 ? event.readUInt32LE(HEADER) : event.readUIntLE(HEADER, 6);
    let p = HEADER + postHeader;
    const dbLength = event.readUInt8(p);
    const database = event.toString("utf8", p + 1, p + 1 + dbLength);
    p += 1 + dbLength + 1;
    const tableLength = event.readUInt8(p);
    const table = event.toString("utf8", p + 1, p + 1 + tableLength);
    p += 1 + tableLength + 1;
    const [count, typesAt] = packedInt(event, p);
    const types = [...event.subarray(typesAt, typesAt + count)];
    const [metaLength, metaAt] = packedInt(event, typesAt + count);
    if (metaAt + metaLength > bodyEnd || types.length !== count) return undefined;
    return { id, table: { database, table, types, meta: columnMeta(types, event.subarray(metaAt, metaAt + metaLength)) } };
  } catch {
    return undefined;
  }
}

// Column types as the binlog names them (MYSQL_TYPE_*), and MariaDB's compressed columns.
const T = {
  DECIMAL: 0, TINY: 1, SHORT: 2, LONG: 3, FLOAT: 4, DOUBLE: 5, NULL: 6, TIMESTAMP: 7, LONGLONG: 8, INT24: 9, DATE: 10,
  TIME: 11, DATETIME: 12, YEAR: 13, NEWDATE: 14, VARCHAR: 15, BIT: 16, TIMESTAMP2: 17, DATETIME2: 18, TIME2: 19,
  BLOB_COMPRESSED: 140, VARCHAR_COMPRESSED: 141, VECTOR: 242, JSON: 245, NEWDECIMAL: 246, ENUM: 247, SET: 248,
  TINY_BLOB: 249, MEDIUM_BLOB: 250, LONG_BLOB: 251, BLOB: 252, VAR_STRING: 253, STRING: 254, GEOMETRY: 255,
} as const;
const ONE_BYTE_META = new Set<number>([T.TINY_BLOB, T.BLOB, T.BLOB_COMPRESSED, T.MEDIUM_BLOB, T.LONG_BLOB, T.DOUBLE, T.FLOAT, T.GEOMETRY, T.JSON, T.VECTOR, T.TIME2, T.DATETIME2, T.TIMESTAMP2]);
const LENGTH_PREFIXED = new Set<number>([T.TINY_BLOB, T.BLOB, T.BLOB_COMPRESSED, T.MEDIUM_BLOB, T.LONG_BLOB, T.GEOMETRY, T.JSON, T.VECTOR]);
const FIXED_SIZE = new Map<number, number>([
  [T.TINY, 1], [T.YEAR, 1], [T.SHORT, 2], [T.INT24, 3], [T.LONG, 4], [T.LONGLONG, 8], [T.NULL, 0], [T.NEWDATE, 3],
  [T.DATE, 3], [T.TIME, 3], [T.TIMESTAMP, 4], [T.DATETIME, 8],
]);

/** Each column's metadata from the table map's block, as the server's table_def reads it. */
function columnMeta(types: number[], block: Buffer): number[] {
  let p = 0;
  const byte = () => (p < block.length ? block.readUInt8(p++) : 0);
  return types.map((type) => {
    if (ONE_BYTE_META.has(type)) return byte();
    if (type === T.STRING || type === T.ENUM || type === T.SET || type === T.NEWDECIMAL) {
      const high = byte();
      return (high << 8) | byte();
    }
    if (type === T.BIT || type === T.VARCHAR || type === T.VARCHAR_COMPRESSED) {
      const low = byte();
      return low | (byte() << 8);
    }
    return 0;
  });
}

const DIGITS_TO_BYTES = [0, 1, 1, 2, 2, 3, 3, 4, 4, 4];
function decimalSize(precision: number, scale: number): number {
  const integral = precision - scale;
  return Math.floor(integral / 9) * 4 + (DIGITS_TO_BYTES[integral % 9] ?? 0) + Math.floor(scale / 9) * 4 + (DIGITS_TO_BYTES[scale % 9] ?? 0);
}

/** The bytes a column's value takes in a rows image at `p`; undefined for a type not decoded here. */
function valueSize(type: number, meta: number, data: Buffer, p: number): number | undefined {
  const fixed = FIXED_SIZE.get(type);
  if (fixed !== undefined) return fixed;
  const lengthAt = (bytes: number) => (p + bytes <= data.length ? data.readUIntLE(p, bytes) : Infinity);
  switch (type) {
    case T.FLOAT:
    case T.DOUBLE:
      return meta;
    case T.NEWDECIMAL:
      return decimalSize(meta >> 8, meta & 0xff);
    case T.TIMESTAMP2:
      return 4 + ((meta + 1) >> 1);
    case T.DATETIME2:
      return 5 + ((meta + 1) >> 1);
    case T.TIME2:
      return 3 + ((meta + 1) >> 1);
    case T.BIT:
      return (meta >> 8) + ((meta & 0xff) > 0 ? 1 : 0);
    case T.ENUM:
    case T.SET:
      return meta & 0xff;
    case T.VARCHAR:
    case T.VARCHAR_COMPRESSED:
    case T.VAR_STRING: {
      const bytes = meta > 255 ? 2 : 1;
      return bytes + lengthAt(bytes);
    }
    case T.STRING: {
      // The real type and the length in two bytes; a CHAR longer than 255 bytes keeps its length's high bits in
      // the first one (the server's "long CHAR" encoding).
      let real = meta >> 8;
      let length = meta & 0xff;
      if (meta >= 256 && (real & 0x30) !== 0x30) {
        length |= ((real & 0x30) ^ 0x30) << 4;
        real |= 0x30;
      }
      if (real === T.ENUM || real === T.SET) return length;
      const bytes = length > 255 ? 2 : 1;
      return bytes + lengthAt(bytes);
    }
    default:
      if (LENGTH_PREFIXED.has(type) && meta >= 1 && meta <= 4) return meta + lengthAt(meta);
      return undefined;
  }
}

function bitSet(bitmap: Buffer, bit: number): boolean {
  return ((bitmap[bit >> 3] ?? 0) & (1 << (bit & 7))) !== 0;
}

/** Past one row image at `p` (its NULL bitmap over the columns present, then their values); undefined when it cannot be read. */
function skipImage(data: Buffer, p: number, map: TableMap, present: Buffer): number | undefined {
  const columns = map.types.length;
  let presentCount = 0;
  for (let c = 0; c < columns; c++) if (bitSet(present, c)) presentCount++;
  const nulls = data.subarray(p, p + ((presentCount + 7) >> 3));
  p += (presentCount + 7) >> 3;
  let n = 0;
  for (let c = 0; c < columns; c++) {
    if (!bitSet(present, c)) continue;
    if (!bitSet(nulls, n++)) {
      const size = valueSize(map.types[c] as number, map.meta[c] as number, data, p);
      if (size === undefined) return undefined;
      p += size;
    }
    if (p > data.length) return undefined;
  }
  return p;
}

/** The rows of a delete or update row event, counted from its images; undefined when they cannot be read. */
function countRows(event: Buffer, bodyEnd: number, postHeader: number, map: TableMap, rowEvent: { kind: "DELETE" | "UPDATE"; compressed?: boolean; partial?: boolean }): number | undefined {
  if (rowEvent.partial) return undefined;
  try {
    let p = HEADER + (postHeader === 6 ? 4 : 6) + 2;
    // Version 2: extra data, its length (which counts its own two bytes) first.
    if (postHeader === 10) p += event.readUInt16LE(p);
    const [width, bitmapAt] = packedInt(event, p);
    if (width !== map.types.length) return undefined;
    p = bitmapAt;
    const bitmapBytes = (width + 7) >> 3;
    const before = event.subarray(p, p + bitmapBytes);
    p += bitmapBytes;
    const after = rowEvent.kind === "UPDATE" ? event.subarray(p, p + bitmapBytes) : undefined;
    if (after) p += bitmapBytes;
    const data = rowEvent.compressed ? decompress(event.subarray(p, bodyEnd)) : event.subarray(p, bodyEnd);
    let rows = 0;
    let q: number | undefined = 0;
    while (q !== undefined && q < data.length) {
      q = skipImage(data, q, map, before);
      if (q !== undefined && after) q = skipImage(data, q, map, after);
      rows++;
    }
    return q === data.length ? rows : undefined;
  } catch {
    return undefined;
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Statements

export interface Token {
  type: "word" | "quoted" | "string" | "punct";
  text: string;
  /** A word's text in upper case (keywords); empty for the other types. */
  upper: string;
}

const ANSI_QUOTES = 1n << 2n;
const NO_BACKSLASH_ESCAPES = 1n << 20n;

/** The statement's tokens, as the server reads it: comments skipped, executable comments read, strings kept whole. */
export function tokenize(sql: string, sqlMode = 0n): Token[] {
  const tokens: Token[] = [];
  const ansiQuotes = (sqlMode & ANSI_QUOTES) !== 0n;
  const backslashes = (sqlMode & NO_BACKSLASH_ESCAPES) === 0n;
  const n = sql.length;
  let i = 0;
  let executable = false;
  const wordChar = (c: string) => /[A-Za-z0-9_$]/.test(c) || c.charCodeAt(0) >= 0x80;
  while (i < n) {
    const c = sql[i] as string;
    const next = sql[i + 1] ?? "";
    if (/\s/.test(c)) {
      i++;
    } else if (c === "#" || (c === "-" && next === "-" && (i + 2 >= n || sql.charCodeAt(i + 2) <= 0x20))) {
      const eol = sql.indexOf("\n", i);
      i = eol < 0 ? n : eol + 1;
    } else if (c === "/" && next === "*") {
      const version = /^\/\*M?!\d{0,6}/.exec(sql.slice(i, i + 12));
      if (version && !executable) {
        executable = true;
        i += version[0].length;
      } else {
        const close = sql.indexOf("*/", i + 2);
        i = close < 0 ? n : close + 2;
      }
    } else if (c === "*" && next === "/" && executable) {
      executable = false;
      i += 2;
    } else if (c === "`" || (c === '"' && ansiQuotes)) {
      let text = "";
      i++;
      while (i < n) {
        if (sql[i] === c) {
          if (sql[i + 1] === c) {
            text += c;
            i += 2;
            continue;
          }
          i++;
          break;
        }
        text += sql[i];
        i++;
      }
      tokens.push({ type: "quoted", text, upper: "" });
    } else if (c === "'" || c === '"') {
      i++;
      while (i < n) {
        if (backslashes && sql[i] === "\\") i += 2;
        else if (sql[i] === c && sql[i + 1] === c) i += 2;
        else if (sql[i] === c) {
          i++;
          break;
        } else i++;
      }
      tokens.push({ type: "string", text: "", upper: "" });
    } else if (wordChar(c)) {
      let j = i + 1;
      while (j < n && wordChar(sql[j] as string)) j++;
      const text = sql.slice(i, j);
      tokens.push({ type: "word", text, upper: text.toUpperCase() });
      i = j;
    } else {
      tokens.push({ type: "punct", text: c, upper: "" });
      i++;
    }
  }
  return tokens;
}

interface Name {
  db?: string;
  name: string;
}

/** Words that end a table reference rather than name its alias. */
const NOT_ALIAS = new Set([
  "ON", "USING", "WHERE", "SET", "JOIN", "INNER", "LEFT", "RIGHT", "CROSS", "NATURAL", "STRAIGHT_JOIN", "OUTER", "FULL",
  "PARTITION", "USE", "IGNORE", "FORCE", "ORDER", "LIMIT", "RETURNING", "FOR", "GROUP", "HAVING", "WINDOW", "UNION",
  "LOCK", "INTO", "VALUES", "SELECT", "FROM", "TO", "WAIT", "NOWAIT",
]);
const REFERENCES_END = new Set(["WHERE", "SET", "ORDER", "LIMIT", "RETURNING"]);
const SUBQUERY = new Set(["SELECT", "WITH", "VALUES", "TABLE"]);

class Cursor {
  i = 0;
  constructor(readonly tokens: Token[]) {}
  get done(): boolean {
    return this.i >= this.tokens.length || this.punct(";");
  }
  /** The unquoted word `k` tokens ahead, upper-cased; "" otherwise. */
  kw(k = 0): string {
    const t = this.tokens[this.i + k];
    return t?.type === "word" ? t.upper : "";
  }
  punct(text: string, k = 0): boolean {
    const t = this.tokens[this.i + k];
    return t?.type === "punct" && t.text === text;
  }
  /** Take one of `words` if it is next. */
  accept(...words: string[]): boolean {
    if (!words.includes(this.kw())) return false;
    this.i++;
    return true;
  }
  /** Take `words` in that order if they are all next. */
  acceptAll(...words: string[]): boolean {
    if (!words.every((w, k) => this.kw(k) === w)) return false;
    this.i += words.length;
    return true;
  }
  acceptPunct(text: string): boolean {
    if (!this.punct(text)) return false;
    this.i++;
    return true;
  }
  identifier(): string | undefined {
    const t = this.tokens[this.i];
    if (t?.type !== "word" && t?.type !== "quoted") return undefined;
    this.i++;
    return t.text;
  }
  /** `name` or `db.name` (either part quoted); a trailing `.*` (a multi-table DELETE's target) is taken too. */
  name(): Name | undefined {
    const first = this.identifier();
    if (first === undefined) return undefined;
    if (this.punct(".") && (this.tokens[this.i + 1]?.type === "word" || this.tokens[this.i + 1]?.type === "quoted")) {
      this.i++;
      const second = this.identifier() as string;
      if (this.punct(".") && this.punct("*", 1)) this.i += 2;
      return { db: first, name: second };
    }
    if (this.punct(".") && this.punct("*", 1)) this.i += 2;
    return { name: first };
  }
  /** Past a parenthesised group (the cursor is on its `(`). */
  skipGroup(): void {
    let depth = 0;
    do {
      if (this.punct("(")) depth++;
      else if (this.punct(")")) depth--;
      this.i++;
    } while (depth > 0 && this.i < this.tokens.length);
  }
  /** Past tokens up to the next top-level `,` or one of `words` (not taken), or the end. */
  skipTo(words: Set<string>): void {
    while (!this.done && !this.punct(",") && !words.has(this.kw())) {
      if (this.punct("(")) this.skipGroup();
      else this.i++;
    }
  }
  alias(): string | undefined {
    if (this.accept("AS")) return this.identifier();
    const t = this.tokens[this.i];
    if (t?.type === "quoted" || (t?.type === "word" && !NOT_ALIAS.has(t.upper))) {
      this.i++;
      return t.text;
    }
    return undefined;
  }
}

/** The tables of a FROM/UPDATE clause and their aliases (null: a derived table's); the cursor stops at its end. */
function tableReferences(c: Cursor): { refs: Name[]; aliases: Map<string, Name | null> } {
  const refs: Name[] = [];
  const aliases = new Map<string, Name | null>();
  let factor = true;
  while (!c.done && !REFERENCES_END.has(c.kw())) {
    if (c.punct("(")) {
      // A parenthesised join's tables are references like any other; a subquery's are not.
      if (factor && !SUBQUERY.has(c.kw(1))) {
        c.i++;
        continue;
      }
      c.skipGroup();
      if (factor) {
        const alias = c.alias();
        if (alias !== undefined) aliases.set(alias, null);
        factor = false;
      }
    } else if (c.punct(",") || c.kw() === "JOIN" || c.kw() === "STRAIGHT_JOIN") {
      factor = true;
      c.i++;
    } else if (factor && c.kw() !== "LATERAL" && c.kw() !== "ONLY") {
      const ref = c.name();
      if (!ref) {
        c.i++;
        continue;
      }
      refs.push(ref);
      if (c.accept("PARTITION") && c.punct("(")) c.skipGroup();
      const alias = c.alias();
      if (alias !== undefined) aliases.set(alias, ref);
      factor = false;
    } else c.i++;
  }
  return { refs, aliases };
}

/**
 * Whether `sql` (one statement, as a query event holds it) destroys data of `table`, and how; `database` is the
 * statement's current database (the query event's), `sqlMode` its sql_mode (for ANSI_QUOTES and NO_BACKSLASH_ESCAPES).
 * What is matched: the comment at the top of this file.
 */
export function destructiveStatement(sql: string, table: TableName, context: { database?: string; sqlMode?: bigint } = {}): DestructiveKind | undefined {
  const c = new Cursor(tokenize(sql, context.sqlMode ?? 0n));
  const is = (ref: Name | null | undefined): boolean => !!ref && (ref.db ?? context.database) === table.database && ref.name === table.table;
  // A target of a multi-table statement: an alias of a table reference, or a table.
  const resolve = (target: Name, aliases: Map<string, Name | null>): Name | null => (target.db === undefined && aliases.has(target.name) ? (aliases.get(target.name) ?? null) : target);
  if (c.acceptAll("SET", "STATEMENT")) {
    while (!c.done && !c.accept("FOR")) {
      if (c.punct("(")) c.skipGroup();
      else c.i++;
    }
  }
  if (c.accept("WITH")) {
    c.accept("RECURSIVE");
    do {
      c.identifier();
      if (c.punct("(")) c.skipGroup();
      if (!c.accept("AS")) return undefined;
      if (c.punct("(")) c.skipGroup();
    } while (c.acceptPunct(","));
  }
  const verb = c.kw();
  c.i++;
  switch (verb) {
    case "DROP": {
      if (c.accept("TEMPORARY")) return undefined;
      if (c.accept("TABLE", "TABLES")) {
        c.acceptAll("IF", "EXISTS");
        do if (is(c.name())) return "DROP TABLE";
        while (c.acceptPunct(","));
        return undefined;
      }
      if (c.accept("DATABASE", "SCHEMA")) {
        c.acceptAll("IF", "EXISTS");
        const name = c.name();
        return name?.db === undefined && name?.name === table.database ? "DROP DATABASE" : undefined;
      }
      return undefined;
    }
    case "CREATE": {
      if (!c.acceptAll("OR", "REPLACE") || c.accept("TEMPORARY") || !c.accept("TABLE")) return undefined;
      return is(c.name()) ? "CREATE OR REPLACE" : undefined;
    }
    case "TRUNCATE": {
      c.accept("TABLE");
      return is(c.name()) ? "TRUNCATE" : undefined;
    }
    case "DELETE": {
      while (c.accept("LOW_PRIORITY", "QUICK", "IGNORE", "HISTORY"));
      const targets: Name[] = [];
      const single = c.accept("FROM");
      do {
        const target = c.name();
        if (target) targets.push(target);
      } while (c.acceptPunct(","));
      if (single && !c.accept("USING")) return targets.some(is) ? "DELETE" : undefined;
      if (!single && !c.accept("FROM")) return undefined;
      const { aliases } = tableReferences(c);
      return targets.some((t) => is(resolve(t, aliases))) ? "DELETE" : undefined;
    }
    case "UPDATE": {
      while (c.accept("LOW_PRIORITY", "IGNORE"));
      const { refs, aliases } = tableReferences(c);
      if (!refs.some(is) || !c.accept("SET")) return undefined;
      if (refs.length === 1) return "UPDATE";
      // Several tables: the ones whose columns are assigned; an unqualified column may be the table's.
      while (!c.done) {
        const column: string[] = [];
        while (!c.done && !c.punct("=") && !c.punct(",")) {
          const part = c.identifier();
          if (part !== undefined) column.push(part);
          else c.i++;
        }
        if (column.length <= 1) return "UPDATE";
        const [a, b] = column as [string, string];
        if (is(column.length === 2 ? resolve({ name: a }, aliases) : { db: a, name: b })) return "UPDATE";
        c.skipTo(new Set(["WHERE", "ORDER", "LIMIT", "RETURNING"]));
        if (!c.acceptPunct(",")) break;
      }
      return undefined;
    }
    case "ALTER": {
      while (c.accept("ONLINE", "IGNORE"));
      if (!c.accept("TABLE")) return undefined;
      c.acceptAll("IF", "EXISTS");
      const self = is(c.name());
      const keepsData = new Set(["INDEX", "KEY", "PRIMARY", "FOREIGN", "CONSTRAINT", "CHECK", "UNIQUE", "FULLTEXT", "SPATIAL", "PERIOD"]);
      while (!c.done) {
        const first = c.kw();
        const second = c.kw(1);
        if (self) {
          if (first === "DROP" && !keepsData.has(second) && c.tokens[c.i + 1] !== undefined && c.tokens[c.i + 1]?.type !== "punct") return "ALTER";
          if ((first === "TRUNCATE" || first === "CONVERT") && second === "PARTITION") return "ALTER";
          if (first === "DISCARD") return "ALTER";
          if (first === "RENAME" && !["COLUMN", "INDEX", "KEY"].includes(second)) return "RENAME";
        }
        if (first === "EXCHANGE" && second === "PARTITION") {
          if (self) return "ALTER";
          while (!c.done && !c.punct(",") && !c.acceptAll("WITH", "TABLE")) c.i++;
          if (is(c.name())) return "ALTER";
        }
        // Table options are not separated by commas: ENGINE=BLACKHOLE may come anywhere in a specification.
        while (!c.done && !c.punct(",")) {
          if (self && c.accept("ENGINE")) {
            c.acceptPunct("=");
            if (c.kw() === "BLACKHOLE") return "ALTER";
          } else if (c.punct("(")) c.skipGroup();
          else c.i++;
        }
        c.acceptPunct(",");
      }
      return undefined;
    }
    case "RENAME": {
      if (!c.accept("TABLE", "TABLES")) return undefined;
      c.acceptAll("IF", "EXISTS");
      do {
        if (is(c.name())) return "RENAME";
        while (!c.done && !c.punct(",") && !c.accept("TO")) c.i++;
        c.name();
      } while (c.acceptPunct(","));
      return undefined;
    }
    default:
      return undefined;
  }
}
