// Archived binlog files read without a server, on synthetic files built event by event: transaction ends, MariaDB
// GTIDs, CRC32 checksums, closed and cut-off files, and the continuity the nightly's roll-forward checks.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { crc32 } from "node:zlib";
import { afterAll, describe, expect, it } from "vitest";
import { advanceGtid, walkBinlog } from "../../src/binlog/events.ts";
import { checkContinuity } from "../../src/restore/rollForward.ts";

const dir = mkdtempSync(join(tmpdir(), "restoretest-events-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** One v4 event with a CRC32 checksum: header (timestamp, type, server id 7, size, next position, flags) + body. */
function event(type: number, body: Buffer, at: number, time = 1_700_000_000): Buffer {
  const size = 19 + body.length + 4;
  const header = Buffer.alloc(19);
  header.writeUInt32LE(time, 0);
  header.writeUInt8(type, 4);
  header.writeUInt32LE(7, 5);
  header.writeUInt32LE(size, 9);
  header.writeUInt32LE(at + size, 13);
  const withoutSum = Buffer.concat([header, body]);
  const sum = Buffer.alloc(4);
  sum.writeUInt32LE(crc32(withoutSum), 0);
  return Buffer.concat([withoutSum, sum]);
}
const fde = () => {
  const body = Buffer.alloc(2 + 50 + 4 + 1 + 10 + 1);
  body.writeUInt8(1, body.length - 1); // checksum algorithm: CRC32
  return body;
};
const query = (text: string) => Buffer.concat([Buffer.alloc(13), Buffer.from("\0"), Buffer.from(text)]);
const gtid = (seq: number, standalone = false) => {
  const b = Buffer.alloc(13);
  b.writeBigUInt64LE(BigInt(seq), 0);
  b.writeUInt32LE(0, 8);
  b.writeUInt8(standalone ? 1 : 0, 12);
  return b;
};

/** A file of `events` (type, body, time), closed with a rotate event unless `open`. */
function file(name: string, events: [number, Buffer, number?][], open = false): string {
  let at = 4;
  const parts: Buffer[] = [Buffer.from([0xfe, 0x62, 0x69, 0x6e])];
  for (const [type, body, time] of [[15, fde()] as [number, Buffer], ...events, ...(open ? [] : [[4, Buffer.from("next.000002")] as [number, Buffer]])]) {
    const e = event(type, body, at, time);
    parts.push(e);
    at += e.length;
  }
  writeFileSync(join(dir, name), Buffer.concat(parts));
  return join(dir, name);
}

const transaction = (seq: number, time: number): [number, Buffer, number?][] => [
  [162, gtid(seq), time],
  [2, query("BEGIN"), time],
  [19, Buffer.alloc(8), time],
  [16, Buffer.alloc(8), time],
];

describe("walkBinlog", () => {
  it("finds the last whole transaction, its commit time and MariaDB GTID, and a closed file", () => {
    const path = file("a.000001", [...transaction(41, 1_700_000_010), ...transaction(42, 1_700_000_020), [162, gtid(43, true), 1_700_000_030], [2, query("CREATE TABLE t (id INT)"), 1_700_000_030]]);
    const walk = walkBinlog(path);
    expect(walk).toMatchObject({ checksums: true, closed: true, endsMidEvent: false });
    // The DDL after the second transaction is a group of its own (standalone GTID, no BEGIN): the last one.
    expect(walk.lastTransaction).toMatchObject({ time: 1_700_000_030, gtid: "0-7-43" });
  });

  it("stops at a transaction's end when the file being written ends inside the next one", () => {
    const path = file("b.000001", [...transaction(1, 1_700_000_010), [162, gtid(2), 1_700_000_011], [2, query("BEGIN"), 1_700_000_011]], true);
    const walk = walkBinlog(path);
    expect(walk.closed).toBe(false);
    expect(walk.lastTransaction).toMatchObject({ time: 1_700_000_010, gtid: "0-7-1" });
  });

  it("reads a file the copier has just opened again (empty, or shorter than the magic number) as cut off, not as a stranger", () => {
    writeFileSync(join(dir, "e.000001"), Buffer.alloc(0));
    expect(walkBinlog(join(dir, "e.000001"))).toMatchObject({ completeBytes: 0, endsMidEvent: true, closed: false, lastTransaction: null });
    writeFileSync(join(dir, "e.000001"), Buffer.from([0xfe, 0x62]));
    expect(walkBinlog(join(dir, "e.000001")).endsMidEvent).toBe(true);
    writeFileSync(join(dir, "e.000001"), Buffer.from("not a binlog"));
    expect(() => walkBinlog(join(dir, "e.000001"))).toThrow(/is not a binlog file/);
  });

  it("names the first event whose checksum does not hold", () => {
    const path = file("c.000001", [...transaction(1, 1_700_000_010), ...transaction(2, 1_700_000_020)]);
    const bytes = Buffer.from(readFileSync(path));
    let offset = 4;
    for (let i = 0; i < 5; i++) offset += bytes.readUInt32LE(offset + 9);
    bytes[offset + 20] = (bytes[offset + 20] as number) ^ 0xff;
    writeFileSync(path, bytes);
    expect(walkBinlog(path)).toMatchObject({ damaged: { position: offset, type: 162 }, lastTransaction: { gtid: "0-7-1" } });
  });
});

describe("checkContinuity", () => {
  const from = { file: "s.000001", position: 4, gtid: "" };
  it("is contiguous from P's file to the newest, which may still be being written", () => {
    file("s.000001", transaction(1, 1_700_000_010));
    file("s.000002", transaction(2, 1_700_000_020));
    file("s.000003", transaction(3, 1_700_000_030), true);
    const c = checkContinuity(dir, from);
    expect(c.problems, c.problems.join("\n")).toEqual([]);
    expect(c.files.map((f) => f.name)).toEqual(["s.000001", "s.000002", "s.000003"]);
  });

  it("names a closed file without its rotate event, and a gap with the files on both sides", () => {
    file("s.000002", transaction(2, 1_700_000_020), true);
    expect(checkContinuity(dir, from).problems).toEqual([expect.stringMatching(/^s\.000002 ends at byte \d+ without the rotate event that closes a binlog file, though s\.000003 follows it/)]);
    rmSync(join(dir, "s.000002"));
    expect(checkContinuity(dir, from).problems).toEqual(["gap in the archive: s.000002 is missing between s.000001 and s.000003"]);
    expect(checkContinuity(dir, { ...from, file: "s.000000" }).problems[0]).toMatch(/^the archive does not hold s\.000000, where the backup's data ends/);
  });
});

describe("checkContinuity to another backup's position", () => {
  /** Where each event of an archived file starts (after the magic number). */
  const starts = (name: string): number[] => {
    const bytes = readFileSync(join(dir, name));
    const out: number[] = [];
    for (let at = 4; at < bytes.length; at += bytes.readUInt32LE(at + 9)) out.push(at);
    return out;
  };
  const from = { file: "t.000001", position: 4, gtid: "" };
  const stopAt = (file: string, position: number) => ({ at: { file, position, gtid: "" }, name: "backup B2" });
  // Events: FDE, then per transaction GTID, BEGIN, table map, XID: transaction k of a file ends where event 1 + 4k starts.
  const build = () => {
    file("t.000001", [...transaction(1, 1_700_000_010), ...transaction(2, 1_700_000_011)]);
    file("t.000002", [...transaction(3, 1_700_000_020), ...transaction(4, 1_700_000_021)]);
    file("t.000003", [...transaction(5, 1_700_000_030), [162, gtid(6), 1_700_000_031], [2, query("BEGIN"), 1_700_000_031]], true);
  };

  it("walks to the stop and no further: the last transaction before it, nothing past it read (a damaged event after it is not the pair's)", () => {
    build();
    const stop = stopAt("t.000002", starts("t.000002")[5] as number);
    // Past the stop, damage that must not count: the XID of the second transaction of t.000002.
    const path = join(dir, "t.000002");
    const bytes = Buffer.from(readFileSync(path));
    const at = (starts("t.000002")[8] as number) + 20;
    bytes[at] = (bytes[at] as number) ^ 0xff;
    writeFileSync(path, bytes);
    const c = checkContinuity(dir, from, dir, stop);
    expect(c.problems, c.problems.join("\n")).toEqual([]);
    expect(c.files.map((f) => f.name)).toEqual(["t.000001", "t.000002"]);
    expect(c.files[1]?.walk).toMatchObject({ stop: { position: stop.at.position, inTransaction: false }, endsMidEvent: false, lastTransaction: { position: stop.at.position, gtid: "0-7-3" } });
  });

  it("names a stop inside a transaction, one between events, one the archive does not reach, a gap before it, and one behind the start", () => {
    build();
    const inside = starts("t.000002")[3] as number;
    expect(checkContinuity(dir, from, dir, stopAt("t.000002", inside)).problems).toEqual([
      `t.000002:${inside}, where backup B2 is, falls inside a transaction in the archive: this archive is not the binlog that backup was taken from`,
    ]);
    expect(checkContinuity(dir, from, dir, stopAt("t.000002", inside + 3)).problems).toEqual([
      `t.000002:${inside + 3}, where backup B2 is, is not an event boundary in the archive (the event there ends at ${starts("t.000002")[4]}): this archive is not the binlog that backup was taken from`,
    ]);
    expect(checkContinuity(dir, from, dir, stopAt("t.000003", 100_000)).problems).toEqual([
      expect.stringMatching(/^t\.000003 ends at byte \d+, before t\.000003:100000, where backup B2 is: the archive does not reach it/),
    ]);
    expect(checkContinuity(dir, from, dir, stopAt("t.000005", 4)).problems).toEqual(["the archive ends with t.000003, before t.000005:4, where backup B2 is: it does not reach it (is restoretest binlogs running?)"]);
    rmSync(join(dir, "t.000002"));
    expect(checkContinuity(dir, from, dir, stopAt("t.000003", starts("t.000003")[5] as number)).problems).toEqual(["gap in the archive: t.000002 is missing between t.000001 and t.000003"]);
    // The stop's own file missing, with a later file: a gap named with the files on both sides.
    expect(checkContinuity(dir, from, dir, stopAt("t.000002", 4)).problems).toEqual(["gap in the archive: t.000002 is missing between t.000001 and t.000003"]);
    expect(checkContinuity(dir, { ...from, position: 200 }, dir, stopAt("t.000001", 100)).problems).toEqual(["backup B2 is at t.000001:100, before t.000001:200: a roll-forward cannot go back to it"]);
  });
});

describe("advanceGtid", () => {
  it("keeps each domain's newest GTID", () => {
    expect(advanceGtid("0-1-100,1-1-7", ["0-2-101", "0-2-102"])).toBe("0-2-102,1-1-7");
    expect(advanceGtid("", ["0-1-5"])).toBe("0-1-5");
  });
});
