// Reading an archived binlog file event by event, without a server: where each transaction ends, whether every event's
// CRC32 checksum holds, and the GTID of the last one (MariaDB's domain-server-sequence). The nightly's roll-forward
// plans with this: it applies whole transactions only, names a damaged event by file:position before anything is
// replayed past it, and knows where replication must start afterwards.
import { closeSync, openSync, readSync, statSync } from "node:fs";
import { crc32 } from "node:zlib";

// Exported for the other readers of archived binlogs (destructive.ts): the format's constants, shared.
export const MAGIC = Buffer.from([0xfe, 0x62, 0x69, 0x6e]);
/** The common header of every v4 event: timestamp, type, server id, size, next position, flags. */
export const HEADER = 19;
export const QUERY_EVENT = 2;
export const STOP_EVENT = 3;
export const ROTATE_EVENT = 4;
export const XID_EVENT = 16;
export const FORMAT_DESCRIPTION_EVENT = 15;
export const MYSQL_GTID_EVENTS = new Set([33, 34]);
export const MARIADB_GTID_EVENT = 162;
/** A query event's fixed part: thread id, execution time, database name length, error code, status block length. */
export const QUERY_POST_HEADER = 13;

export interface TransactionEnd {
  /** Where the next transaction starts (the end of this one's last event). */
  position: number;
  /** Its commit event's time, seconds since the epoch. */
  time: number;
  /** MariaDB: `domain-server-sequence` of its GTID event; empty on MySQL (its server keeps GTIDs itself). */
  gtid: string;
}

export interface BinlogWalk {
  /** Newest event timestamp in the file (seconds since the epoch); null when it holds no event. */
  lastEventTime: number | null;
  /** Bytes up to the end of the last whole event. */
  completeBytes: number;
  /** The file ends inside an event: a copy cut off mid-write (normal for the file the copier is writing). */
  endsMidEvent: boolean;
  /** Ends with a rotate (or stop) event: the server closed this file. A closed file without one was cut short. */
  closed: boolean;
  /** The end of the last whole transaction: what can be applied, and where replication may start after it. */
  lastTransaction: TransactionEnd | null;
  /** The first event whose checksum does not hold, by its start position; the walk stops there. */
  damaged?: { position: number; type: number };
  /** Whether the file's events carry CRC32 checksums (binlog_checksum=CRC32, the default of both servers). */
  checksums: boolean;
  /**
   * With `to`: the first event boundary at or after it, where the walk stopped, and whether a transaction was open
   * there (a stop inside one cannot be a backup's position); absent when the file ends (or is damaged) before `to`.
   */
  stop?: { position: number; inTransaction: boolean };
}

/** Set in the format description event's header flags while the server writes the file; its checksum is without it. */
const BINLOG_IN_USE = 0x1;

/**
 * Whether a format description event's own CRC32 holds. The server computes it with the "in use" flag clear, and sets
 * the flag in the file while it writes it: read as written, the newest file would seem to carry no checksums.
 */
export function formatChecksumHolds(event: Buffer): boolean {
  const copy = Buffer.from(event);
  copy.writeUInt16LE(copy.readUInt16LE(17) & ~BINLOG_IN_USE, 17);
  return crc32(copy.subarray(0, copy.length - 4)) === copy.readUInt32LE(copy.length - 4);
}

function readAt(fd: number, position: number, length: number): Buffer {
  const buffer = Buffer.alloc(length);
  const n = readSync(fd, buffer, 0, length, position);
  return buffer.subarray(0, n);
}

/** The format description event (right after the magic) says whether events carry a checksum: its own holds then. */
function carriesChecksums(fd: number): boolean {
  const header = readAt(fd, 4, HEADER);
  if (header.length !== HEADER || header.readUInt8(4) !== FORMAT_DESCRIPTION_EVENT) return false;
  const length = header.readUInt32LE(9);
  const fde = readAt(fd, 4, length);
  return fde.length === length && length > 5 && fde.readUInt8(length - 5) === 1 && formatChecksumHolds(fde);
}

type Group = { gtid: string; begun: boolean } | undefined;

/** The transaction group after `event` (a GTID event opens one, BEGIN marks it begun), and whether the event ended one. */
function transactionStep(event: Buffer, group: Group, bodyEnd: number): { group: Group; ended: boolean } {
  const type = event.readUInt8(4);
  if (type === MARIADB_GTID_EVENT) {
    const sequence = event.readBigUInt64LE(HEADER);
    const domain = event.readUInt32LE(HEADER + 8);
    // FL_STANDALONE: a group of one statement (DDL) without BEGIN.
    const standalone = (event.readUInt8(HEADER + 12) & 1) === 1;
    return { group: { gtid: `${domain}-${event.readUInt32LE(5)}-${sequence}`, begun: !standalone }, ended: false };
  }
  if (MYSQL_GTID_EVENTS.has(type)) return { group: { gtid: "", begun: false }, ended: false };
  if (type === XID_EVENT) return { group: undefined, ended: true };
  if (type !== QUERY_EVENT) return { group, ended: false };
  const dbLength = event.readUInt8(HEADER + 8);
  const statusLength = event.readUInt16LE(HEADER + 11);
  const queryStart = HEADER + QUERY_POST_HEADER + statusLength + dbLength + 1;
  const query = event.subarray(queryStart, bodyEnd).toString("utf8").trim().toUpperCase();
  if (query === "BEGIN" || query.startsWith("XA START")) return { group: group ? { ...group, begun: true } : { gtid: "", begun: true }, ended: false };
  // A statement outside BEGIN … COMMIT is a transaction of its own (DDL), as is a group's COMMIT.
  if (!group?.begun || query === "COMMIT" || query === "ROLLBACK" || query.startsWith("XA COMMIT")) return { group: undefined, ended: true };
  return { group, ended: false };
}

/**
 * Walk one binlog file. `from`: transactions and checksums count from this position (an event boundary) on.
 * `headersOnly`: read only the event headers (times, sizes, the last event's type), as a quick look at a long file
 * does; no checksum is verified and no transaction end is found (`lastTransaction` stays null). `to`: stop at the first
 * event that starts at or after it (as mariadb-binlog --stop-position does): nothing from there on is read.
 */
export function walkBinlog(path: string, from = 4, options: { headersOnly?: boolean; to?: number } = {}): BinlogWalk {
  const size = statSync(path).size;
  // Not even the magic number yet: the copier (mariadb-binlog --raw) has just opened the file to fetch it again whole.
  if (size < MAGIC.length) return { lastEventTime: null, completeBytes: 0, endsMidEvent: true, closed: false, lastTransaction: null, checksums: false };
  const fd = openSync(path, "r");
  try {
    if (!readAt(fd, 0, 4).equals(MAGIC)) throw new Error(`${path} is not a binlog file (no binlog magic number at its start)`);
    const checksums = !options.headersOnly && carriesChecksums(fd);
    let offset = 4;
    let lastType = -1;
    let lastEventTime: number | null = null;
    let lastTransaction: TransactionEnd | null = null;
    let damaged: BinlogWalk["damaged"];
    // Inside a transaction group: after a GTID event, until its XID or COMMIT (or the one statement of a DDL group).
    let group: Group;
    const to = options.to ?? Infinity;
    while (offset + HEADER <= size && offset < to) {
      // Shorter than the size read at the start (here or below): the copier is fetching the file again meanwhile.
      const header = readAt(fd, offset, HEADER);
      if (header.length < HEADER) break;
      const length = header.readUInt32LE(9);
      if (length < HEADER || offset + length > size) break;
      const type = header.readUInt8(4);
      const end = offset + length;
      const time = header.readUInt32LE(0);
      // A fake rotate event that opens a relay of the file has timestamp 0: it says nothing about time.
      if (time > 0) lastEventTime = Math.max(lastEventTime ?? 0, time);
      if (options.headersOnly) {
        lastType = type;
        offset = end;
        continue;
      }
      const event = readAt(fd, offset, length);
      if (event.length < length) break;
      if (checksums && offset >= from && crc32(event.subarray(0, length - 4)) !== event.readUInt32LE(length - 4)) {
        damaged = { position: offset, type };
        break;
      }
      const step = transactionStep(event, group, length - (checksums ? 4 : 0));
      if (step.ended && offset >= from) lastTransaction = { position: end, time, gtid: group?.gtid ?? "" };
      group = step.group;
      lastType = type;
      offset = end;
    }
    const stop = damaged === undefined && offset >= to ? { position: offset, inTransaction: group !== undefined } : undefined;
    return {
      lastEventTime,
      completeBytes: offset,
      endsMidEvent: damaged === undefined && stop === undefined && offset !== size,
      closed: damaged === undefined && offset === size && (lastType === ROTATE_EVENT || lastType === STOP_EVENT),
      lastTransaction,
      ...(damaged ? { damaged } : {}),
      checksums,
      ...(stop ? { stop } : {}),
    };
  } finally {
    closeSync(fd);
  }
}

/** MariaDB: the GTID position after `applied`, from the one before it: each domain's newest sequence number. */
export function advanceGtid(before: string, applied: readonly string[]): string {
  const byDomain = new Map<string, string>();
  for (const gtid of [...before.split(","), ...applied].map((g) => g.trim()).filter((g) => /^\d+-\d+-\d+$/.test(g))) {
    byDomain.set(gtid.split("-")[0] as string, gtid);
  }
  return [...byDomain.values()].join(",");
}
