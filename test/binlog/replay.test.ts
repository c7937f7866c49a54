import { describe, expect, it } from "vitest";
import { planReplay } from "../../src/binlog/replay.ts";

const pos = (file: string, position: number) => ({ file, position, gtid: "" });

describe("planReplay", () => {
  it("needs nothing when the baseline is at the backup's position", () => {
    expect(planReplay(pos("mysql-bin.000003", 500), pos("mysql-bin.000003", 500), [])).toBeNull();
  });

  it("replays across files from the backup's position to the baseline's", () => {
    const files = ["mysql-bin.000002", "mysql-bin.000003", "mysql-bin.000004", "mysql-bin.000005"];
    expect(planReplay(pos("mysql-bin.000003", 500), pos("mysql-bin.000005", 120), files)).toEqual({
      files: ["mysql-bin.000003", "mysql-bin.000004", "mysql-bin.000005"],
      startPosition: 500,
      stopPosition: 120,
    });
  });

  it("names the missing file of a gap", () => {
    expect(() => planReplay(pos("mysql-bin.000003", 500), pos("mysql-bin.000005", 120), ["mysql-bin.000003", "mysql-bin.000005"])).toThrow(
      "binlogs needed to replay from mysql-bin.000003:500 to mysql-bin.000005:120 are missing: mysql-bin.000004",
    );
  });

  it("refuses a baseline before the backup as a position mismatch", () => {
    expect(() => planReplay(pos("mysql-bin.000003", 500), pos("mysql-bin.000003", 400), [])).toThrow(/^positions do not match/);
  });
});
