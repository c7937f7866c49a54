// Objectives judged: within, breached (by how much) and not measured (which breaches), each message standing alone.
import { describe, expect, it } from "vitest";
import { configuredObjectives, judgeObjective } from "../../src/report/objectives.ts";

describe("judgeObjective", () => {
  it("is green within the objective, saying how much of it was used", () => {
    expect(judgeObjective("rto", 45 * 60_000, 2_100)).toEqual({
      objective: "rto",
      name: "RTO",
      limitMs: 45 * 60_000,
      measuredMs: 2_100,
      breached: false,
      message: "RTO 2.1s is within the objective of 45m 00s (0.08% of it)",
    });
    expect(judgeObjective("backupAge", 25 * 3_600_000, 20 * 3_600_000).message).toBe("backup age 20h 00m is within the objective of 25h 00m (80% of it)");
    expect(judgeObjective("rpo", 26 * 3_600_000, 3_000).message).toBe("RPO 3.0s is within the objective of 26h 00m (under 0.01% of it)");
  });

  it("is red when breached, with the measured value, the objective and the excess", () => {
    const r = judgeObjective("rpo", 26 * 3_600_000, 27 * 3_600_000 + 30 * 60_000);
    expect(r.breached).toBe(true);
    expect(r.message).toBe("RPO 27h 30m exceeds the objective of 26h 00m (by 1h 30m)");
  });

  it("is red when nothing was measured, saying why", () => {
    const r = judgeObjective("catchUp", 600_000, null, "the replica did not catch up (see the rejoin tests)");
    expect(r).toMatchObject({ breached: true, measuredMs: null });
    expect(r.message).toBe("catch-up not measured: the replica did not catch up (see the rejoin tests); the objective of 10m 00s is not shown to be met");
  });
});

describe("configuredObjectives", () => {
  it("lists the objectives set, in test order", () => {
    expect(configuredObjectives({ catchUp: 1, rpo: 2 })).toEqual([
      ["rpo", 2],
      ["catchUp", 1],
    ]);
    expect(configuredObjectives({})).toEqual([]);
  });
});

describe("unprovenAge", () => {
  it("is an objective like the others: `objectives › unproven age`, red past its limit", () => {
    expect(configuredObjectives({ unprovenAge: 8 * 86_400_000, rto: 1 })).toEqual([
      ["rto", 1],
      ["unprovenAge", 8 * 86_400_000],
    ]);
    expect(judgeObjective("unprovenAge", 8 * 86_400_000, 9 * 86_400_000)).toMatchObject({ name: "unproven age", breached: true, message: "unproven age 216h 00m exceeds the objective of 192h 00m (by 24h 00m)" });
  });
});
