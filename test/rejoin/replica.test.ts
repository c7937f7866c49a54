// The rejoin stage's judgements on their own: start point, binlog availability, server ids, error naming, lag arithmetic.
import { describe, expect, it } from "vitest";
import type { Manifest } from "../../src/store/manifest.ts";
import { RejoinSchema } from "../../src/config/schema.ts";
import type { ReplicaStatus } from "../../src/db/replication.ts";
import { binlogProblem, bytesBetween, chooseServerId, lagCsv, lagSvg, startPoint, statusProblem, type StartPoint } from "../../src/rejoin/replica.ts";

const settings = (extra: Record<string, unknown> = {}) => RejoinSchema.parse({ user: "repl", ...extra });

function manifest(extra: Partial<Manifest> = {}): Manifest {
  return {
    version: 1,
    service: "shop",
    capturedAt: "2026-11-25T01:00:00Z",
    durationMs: 1,
    server: { version: "10.11.19-MariaDB", flavor: "mariadb" },
    position: { file: "mysql-bin.000041", position: 1234, gtid: "0-1-77" },
    consistency: "snapshot",
    checks: [],
    databases: [],
    ...extra,
  };
}

const START: StartPoint = { file: "mysql-bin.000041", position: 1234, gtid: "0-1-77", useGtid: false, origin: "test" };
const LOGS = [
  { name: "mysql-bin.000041", size: 5000 },
  { name: "mysql-bin.000042", size: 7000 },
  { name: "mysql-bin.000043", size: 300 },
];
const RETENTION = { expireLogsDays: 1, expireSeconds: 86_400 };

function status(extra: Partial<ReplicaStatus> = {}): ReplicaStatus {
  return {
    ioRunning: "Yes",
    sqlRunning: "Yes",
    ioState: "",
    ioErrno: 0,
    ioError: "",
    sqlErrno: 0,
    sqlError: "",
    secondsBehind: 0,
    execFile: "mysql-bin.000041",
    execPosition: 1234,
    readFile: "mysql-bin.000041",
    readPosition: 1234,
    gtidIoPos: "",
    ...extra,
  };
}

describe("where the rebuilt replica starts", () => {
  it("uses the baseline's position, by GTID when the backup has one (auto), or by file", () => {
    expect(startPoint(manifest(), settings())).toMatchObject({ file: "mysql-bin.000041", position: 1234, gtid: "0-1-77", useGtid: true });
    expect(startPoint(manifest(), settings({ position: "file" })).useGtid).toBe(false);
    expect(startPoint(manifest({ position: { file: "mysql-bin.000041", position: 4, gtid: "" } }), settings()).useGtid).toBe(false);
  });

  it("uses the backup replica's position in the primary's binlog when joining another source", () => {
    const m = manifest({ consistency: "pausedReplica", replication: { masterLogFile: "primary-bin.000007", execMasterLogPos: 999, gtidSlavePos: "0-9-5" } });
    expect(startPoint(m, settings({ source: { host: "primary" } }))).toMatchObject({ file: "primary-bin.000007", position: 999, gtid: "0-9-5" });
    expect(startPoint(m, settings()).file).toBe("mysql-bin.000041");
  });

  it("refuses a backup without a position, and GTID asked of one without, by name", () => {
    expect(() => startPoint(manifest({ position: null }), settings())).toThrow(/^this backup records no binlog position \(binary logging was off on its source\)/);
    expect(() => startPoint(manifest({ position: { file: "mysql-bin.000001", position: 4, gtid: "" } }), settings({ position: "gtid" }))).toThrow(
      "rejoin.position is gtid but this backup records no GTID position (only mysql-bin.000001:4): use position: file",
    );
    // MySQL sources join too (GTID auto-position): proven against MySQL 9.7 in test/mysql/.
    expect(startPoint(manifest({ server: { version: "9.7.4", flavor: "mysql" }, position: { file: "binlog.000002", position: 157, gtid: "3e11fa47-71ca-11e1-9e33-c80aa9429562:1-5" } }), settings())).toMatchObject({ useGtid: true });
  });
});

describe("whether the source can still serve the backup's position", () => {
  const context = { source: "db1:3306", backupAgeMs: 2 * 86_400_000, retention: RETENTION };

  it("is fine when the file is there and long enough", () => {
    expect(binlogProblem(START, LOGS, context)).toBeUndefined();
  });

  it("names purged binlogs, the oldest left, and retention shorter than the backup's age", () => {
    const error = binlogProblem(START, LOGS.slice(2), context);
    expect(error?.failure).toBe("purged-binlogs");
    expect(error?.message).toBe(
      "the source db1:3306 has purged binlog mysql-bin.000041, which this backup needs: replication must start at mysql-bin.000041:1234 (backup age 48h 00m), " +
        "but the source's oldest binary log is mysql-bin.000043. Its binlog retention, 24h 00m (expire_logs_days=1, binlog_expire_logs_seconds=86400), is too short " +
        "for this backup's age: keep binlogs longer than the time between backups plus a restore, or rebuild from a newer backup",
    );
  });

  it("says the binlogs were purged by hand when retention is longer than the backup's age", () => {
    const error = binlogProblem(START, LOGS.slice(1), { ...context, retention: { expireLogsDays: 0, expireSeconds: 0 } });
    expect(error?.message).toMatch(/Its binlog retention is unlimited, so they were purged by hand \(PURGE BINARY LOGS\) or under an earlier setting/);
  });

  it("names a file the source never had (newer than its oldest) and a position past a file's end as an unknown position", () => {
    const gap = binlogProblem({ ...START, file: "mysql-bin.000042" }, [LOGS[0]!, LOGS[2]!], context);
    expect(gap?.failure).toBe("position-unknown");
    expect(gap?.message).toMatch(/has no binary log mysql-bin\.000042, and it is not an older one than its oldest \(mysql-bin\.000041\): its binlogs were reset/);
    const past = binlogProblem({ ...START, position: 9000 }, LOGS, context);
    expect(past?.message).toBe(
      "the source db1:3306 has mysql-bin.000041 with 5000 bytes, but this backup's position is mysql-bin.000041:9000, past its end: " +
        "the source is not the server this backup was taken from, or its binlogs were rewritten",
    );
  });
});

describe("server ids", () => {
  const ids = { own: 1, replicas: [{ id: 2, host: "db2", port: 3306 }] };

  it("takes a configured id nobody uses, and refuses the source's or a replica's", () => {
    expect(chooseServerId(ids, 4242, "db1:3306")).toBe(4242);
    expect(() => chooseServerId(ids, 1, "db1:3306")).toThrow(/^duplicate server-id 1: the source db1:3306 has server_id 1/);
    expect(() => chooseServerId(ids, 2, "db1:3306")).toThrow(/^duplicate server-id 2: the replica db2:3306 of db1:3306 already uses it/);
  });

  it("picks a free random id otherwise", () => {
    for (let i = 0; i < 100; i++) expect([1, 2]).not.toContain(chooseServerId(ids, undefined, "db1:3306"));
  });
});

describe("replication errors, named", () => {
  const context = { source: "db1:3306", user: "repl", start: START };

  it.each([
    [{ ioErrno: 1045, ioError: "error connecting to master 'repl@db1:3306' - retry-time: 5 message: Access denied for user 'repl'@'10.0.0.9'" }, "access-denied"],
    [{ ioErrno: 1593, ioError: "Fatal error: The slave I/O thread stops because master and slave have equal MariaDB server ids" }, "duplicate-server-id"],
    [{ ioErrno: 1236, ioError: "Got fatal error 1236 from master when reading data from binary log: 'Could not find first log file name in binary log index file'" }, "purged-binlogs"],
    [{ ioErrno: 2003, ioError: "error connecting to master 'repl@db1:3306' - Can't connect to server" }, "unreachable"],
    [{ ioErrno: 1062, ioError: "something else" }, "not-started"],
    [{ sqlErrno: 1032, sqlError: "Could not execute Update_rows_v1 event on table shop.customers; Can't find record" }, "diverged"],
  ] as [Partial<ReplicaStatus>, string][])("%o is %s", (extra, failure) => {
    expect(statusProblem(status(extra), context)?.failure).toBe(failure);
  });

  it("tells a rejected GTID from purged files only when starting by GTID", () => {
    const error = { ioErrno: 1236, ioError: "Error: connecting slave requested to start from GTID 0-1-99, which is not in the master's binlog" };
    expect(statusProblem(status(error), { ...context, start: { ...START, useGtid: true } })?.failure).toBe("gtid-rejected");
    expect(statusProblem(status(), context)).toBeUndefined();
  });
});

describe("lag", () => {
  it("counts binlog bytes between two positions across files", () => {
    expect(bytesBetween(LOGS, { file: "mysql-bin.000041", position: 1000 }, { file: "mysql-bin.000041", position: 1500 })).toBe(500);
    expect(bytesBetween(LOGS, { file: "mysql-bin.000041", position: 1000 }, { file: "mysql-bin.000043", position: 100 })).toBe(4000 + 7000 + 100);
    expect(bytesBetween(LOGS, { file: "mysql-bin.000043", position: 100 }, { file: "mysql-bin.000041", position: 1000 })).toBe(0);
    expect(bytesBetween(LOGS, { file: "mysql-bin.000040", position: 4 }, { file: "mysql-bin.000041", position: 1000 })).toBeUndefined();
  });

  it("renders the curve as CSV and as an SVG line chart", () => {
    const samples = [
      { atMs: 0, secondsBehind: 3, bytesBehind: 9000 },
      { atMs: 250, secondsBehind: null, bytesBehind: undefined },
      { atMs: 500, secondsBehind: 0, bytesBehind: 0 },
    ];
    expect(lagCsv(samples)).toBe("elapsed_ms,seconds_behind_master,bytes_behind\n0,3,9000\n250,,\n500,0,0\n");
    const svg = lagSvg(samples, "shop <caught up>");
    expect(svg).toContain('points="48.0,48.0 592.0,192.0"');
    expect(svg).toContain("shop &lt;caught up>");
  });
});
