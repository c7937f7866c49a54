// The binlog archive's checks: contiguity from the oldest kept backup, where copying resumes, event headers.
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { checkArchive, readBinlogEvents, resumeFrom, type ArchivedFile } from "../../src/backup/binlogs.ts";

const from = { file: "mysql-bin.000003", position: 4521, gtid: "" };
const file = (n: number, extra: Partial<ArchivedFile> = {}): ArchivedFile => ({ name: `mysql-bin.${String(n).padStart(6, "0")}`, size: 1000, endsMidEvent: false, ...extra });

describe("binlog archive contiguity", () => {
  it("is contiguous from the oldest kept backup's file to the server's current one", () => {
    const server = [3, 4, 5].map((n) => ({ name: file(n).name, size: 1000 }));
    expect(checkArchive([file(2), file(3), file(4), file(5)], from, server)).toEqual({ ok: true, problems: [], first: "mysql-bin.000002", last: "mysql-bin.000005" });
  });

  it("names a gap in the middle and a missing start", () => {
    expect(checkArchive([file(3), file(6)], from).problems).toEqual([
      "gap in the archive: mysql-bin.000004, mysql-bin.000005 are missing between mysql-bin.000003 (the oldest kept backup's position) and mysql-bin.000006",
    ]);
    expect(checkArchive([file(5)], from).problems[0]).toMatch(/^gap in the archive: mysql-bin\.000003, mysql-bin\.000004 are missing/);
    expect(checkArchive([], from).problems).toEqual([
      "the archive holds no binlogs; it must start at mysql-bin.000003 (the oldest kept backup's position mysql-bin.000003:4521)",
    ]);
  });

  it("names a closed file cut off mid-event or shorter than the server's, and an archive behind the server", () => {
    const server = [3, 4, 5, 6].map((n) => ({ name: file(n).name, size: 1000 }));
    const result = checkArchive([file(3, { endsMidEvent: true }), file(4, { size: 700 }), file(5, { endsMidEvent: true })], from, server);
    expect(result.problems).toEqual([
      "mysql-bin.000003 ends in the middle of an event: its copy was cut off and never fetched again",
      "mysql-bin.000004 is 700 bytes in the archive but 1000 bytes on the server: the copy is incomplete",
      "the archive ends at mysql-bin.000005 but the server is writing mysql-bin.000006: binlog copying is behind or not running",
    ]);
  });

  it("resumes from the newest archived file (fetched again whole), or from the oldest kept backup's file", () => {
    expect(resumeFrom(["mysql-bin.000003", "mysql-bin.000010", "mysql-bin.000004"], "mysql-bin.000003")).toBe("mysql-bin.000010");
    expect(resumeFrom([], "mysql-bin.000003")).toBe("mysql-bin.000003");
    expect(resumeFrom(["mysql-bin.000001"], "mysql-bin.000003")).toBe("mysql-bin.000003");
  });
});

describe("binlog event headers", () => {
  const dir = mkdtempSync(join(tmpdir(), "restoretest-binlog-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const event = (timestamp: number, size: number) => {
    const b = Buffer.alloc(size);
    b.writeUInt32LE(timestamp, 0);
    b.writeUInt8(2, 4);
    b.writeUInt32LE(size, 9);
    return b;
  };

  it("finds the newest event time and a file cut off mid-event", () => {
    const magic = Buffer.from([0xfe, 0x62, 0x69, 0x6e]);
    const whole = Buffer.concat([magic, event(1_700_000_000, 40), event(1_700_000_005, 60)]);
    writeFileSync(join(dir, "whole.000001"), whole);
    expect(readBinlogEvents(join(dir, "whole.000001"))).toEqual({ lastEventTime: 1_700_000_005, endsMidEvent: false, completeBytes: 104 });
    writeFileSync(join(dir, "cut.000001"), Buffer.concat([whole, event(1_700_000_009, 80).subarray(0, 30)]));
    expect(readBinlogEvents(join(dir, "cut.000001"))).toEqual({ lastEventTime: 1_700_000_005, endsMidEvent: true, completeBytes: 104 });
    writeFileSync(join(dir, "junk.000001"), "not a binlog");
    expect(() => readBinlogEvents(join(dir, "junk.000001"))).toThrow(/is not a binlog file/);
  });
});
