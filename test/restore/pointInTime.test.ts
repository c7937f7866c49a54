// Point-in-time restores: reading --to, choosing the backup to start from, and the replay to a time.
import { describe, expect, it } from "vitest";
import { chooseBackup, parseRestorePoint } from "../../src/restore/locate.ts";
import { planReplayToTime, replayScript } from "../../src/binlog/replay.ts";

const pos = (file: string, position: number) => ({ file, position, gtid: "" });
const backups = [
  { id: "a", meta: { finishedAt: "2026-11-24T03:00:00.000Z", position: pos("mysql-bin.000003", 100) } },
  { id: "b", meta: { finishedAt: "2026-11-25T03:00:00.000Z", position: pos("mysql-bin.000005", 200) } },
];

describe("restore points", () => {
  it("reads a binlog position, a local time and an ISO time", () => {
    expect(parseRestorePoint("mysql-bin.000042:1234")).toEqual({ position: pos("mysql-bin.000042", 1234) });
    expect(parseRestorePoint("2026-11-25 03:00:00")).toEqual({ time: new Date(2026, 10, 25, 3, 0, 0) });
    expect(parseRestorePoint("2026-11-25T03:00:00Z")).toEqual({ time: new Date("2026-11-25T03:00:00Z") });
    expect(parseRestorePoint("2026-11-25T03:00:00+02:00")).toEqual({ time: new Date("2026-11-25T01:00:00Z") });
    expect(() => parseRestorePoint("yesterday")).toThrow(/cannot read restore point "yesterday": expected a time like/);
  });

  it("restores from the newest backup finished by the time, or at or before the position", () => {
    expect(chooseBackup(backups, { time: new Date("2026-11-25T02:59:59Z") }).id).toBe("a");
    expect(chooseBackup(backups, { time: new Date("2026-11-25T03:00:00Z") }).id).toBe("b");
    expect(chooseBackup(backups, { position: pos("mysql-bin.000005", 199) }).id).toBe("a");
    expect(chooseBackup(backups, { position: pos("mysql-bin.000005", 200) }).id).toBe("b");
    expect(() => chooseBackup(backups, { time: new Date("2026-11-01T00:00:00Z") })).toThrow(
      "no backup to restore 2026-11-01 00:00:00 UTC from: the oldest kept backup a finished at 2026-11-24T03:00:00.000Z (position mysql-bin.000003:100)",
    );
  });

  it("replays every file from the backup's on up to the time, with mariadb-binlog pinned to UTC", () => {
    const plan = planReplayToTime(pos("mysql-bin.000005", 200), new Date("2026-11-25T03:30:00Z"), ["mysql-bin.000004", "mysql-bin.000005", "mysql-bin.000006"]);
    expect(plan).toEqual({ files: ["mysql-bin.000005", "mysql-bin.000006"], startPosition: 200, stopDatetime: "2026-11-25 03:30:00" });
    expect(replayScript(plan, "/r/binlogs", "/r/my client.cnf", { binlog: "mariadb-binlog", client: "mariadb" })).toBe(
      "set -o pipefail; TZ=UTC mariadb-binlog --start-position=200 --stop-datetime='2026-11-25 03:30:00' /r/binlogs/mysql-bin.000005 /r/binlogs/mysql-bin.000006" +
        " | mariadb --defaults-file='/r/my client.cnf' --binary-mode",
    );
    expect(() => planReplayToTime(pos("mysql-bin.000005", 200), new Date(), ["mysql-bin.000004", "mysql-bin.000007"])).toThrow(
      /binlogs needed to replay from mysql-bin\.000005:200 to .* UTC are missing: mysql-bin\.000005, mysql-bin\.000006$/,
    );
  });
});
