// Decoding the binlog events the searches read, without a server: the format description, query events (MariaDB's
// compressed ones too), table maps, GTIDs, and the rows of row events counted from their images.
import { readSync } from "node:fs";
import { inflateSync } from "node:zlib";
import { HEADER } from "./events.ts";

export const STOP_EVENT = 3;
export const ROTATE_EVENT = 4;
export const TABLE_MAP_EVENT = 19;
export const MYSQL_ROWS_QUERY_EVENT = 29;
export const MYSQL_GTID_EVENT = 33;
export const XA_PREPARE_EVENT = 38;
export const MYSQL_TRANSACTION_PAYLOAD_EVENT = 40;
/** MySQL 8.3 on: the GTID event of a transaction whose GTID has a tag. */
export const MYSQL_GTID_TAGGED_EVENT = 42;
export const MARIADB_ANNOTATE_ROWS_EVENT = 160;
export const MARIADB_START_ENCRYPTION_EVENT = 164;
export const MARIADB_QUERY_COMPRESSED_EVENT = 165;
/** The format description's flag on the file the server is writing; its checksum is of the event without it. */
/** Row events that delete or change rows: their kind, whether MariaDB compressed their rows, and their default post-header size. */
export const ROW_EVENTS = new Map<number, { kind: "DELETE" | "UPDATE"; compressed?: boolean; partial?: boolean; postHeader: number }>([
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

export interface TableMap {
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

/** The format description: whether events carry a CRC32, and each event type's post-header size. */
export function readFormat(event: Buffer): { checksums: boolean; postHeaders: number[] } {
  // Body: binlog version (2), server version (50), creation time (4), header size (1), post-header sizes (one per
  // type), then (5.6.1 on) the checksum algorithm (1) and a checksum (4).
  const sizesStart = HEADER + 57;
  const algorithm = event.length >= sizesStart + 5 ? event.readUInt8(event.length - 5) : 0;
  return { checksums: algorithm === 1, postHeaders: [...event.subarray(sizesStart, Math.max(sizesStart, event.length - 5))] };
}


export function mysqlGtid(event: Buffer): string {
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
export function countRows(event: Buffer, bodyEnd: number, postHeader: number, map: TableMap, rowEvent: { kind: "DELETE" | "UPDATE"; compressed?: boolean; partial?: boolean }): number | undefined {
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
