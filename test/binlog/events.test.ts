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

describe("advanceGtid", () => {
  it("keeps each domain's newest GTID", () => {
    expect(advanceGtid("0-1-100,1-1-7", ["0-2-101", "0-2-102"])).toBe("0-2-102,1-1-7");
    expect(advanceGtid("", ["0-1-5"])).toBe("0-1-5");
  });
});
