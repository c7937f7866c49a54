// The bench's statistics and verdicts: an even or short run count has no median, a spread across the target is
// noise, a failed contender is FAIL with its message, and the docs' tables are what the results file says.
import { readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { describe, expect, it } from "vitest";
import { GENERATED, lineOf, lineText, mergeResults, projectionTable, readResults, replaceGenerated, type BenchLine } from "../../bench/results.ts";
import { formatRatio, measure, ratioOf, spreadOf, verdictOf } from "../../bench/stats.ts";

const ROOT = resolve(import.meta.dirname, "../..");
const RUN = { at: "2026-12-06T11:00:00.000Z", cores: 2, args: "--only a" };

describe("spreadOf", () => {
  it("takes the middle of an odd number of runs, with min and max", () => {
    expect(spreadOf([5, 1, 3])).toEqual({ median: 3, min: 1, max: 5, runs: 3 });
    expect(spreadOf([9, 2, 4, 8, 1])).toEqual({ median: 4, min: 1, max: 9, runs: 5 });
  });
  it("refuses an even count, fewer than three runs, or a time that is not a number", () => {
    expect(() => spreadOf([1, 2])).toThrow(/odd number of runs, at least 3: got 2/);
    expect(() => spreadOf([1])).toThrow(/got 1/);
    expect(() => spreadOf([1, 2, 3, 4])).toThrow(/got 4/);
    expect(() => spreadOf([1, NaN, 3])).toThrow(/not a number/);
  });
});

describe("ratioOf", () => {
  it("paired rounds: the medians' ratio, spread of each round's own ratio", () => {
    const r = ratioOf([10, 12, 11], [10, 10, 10], true);
    expect(r.median).toBeCloseTo(1.1);
    expect(r.min).toBeCloseTo(1.0);
    expect(r.max).toBeCloseTo(1.2);
  });
  it("unpaired: the widest the runs allow", () => {
    const r = ratioOf([10, 12, 11], [8, 10, 9, 11, 12], false);
    expect(r.median).toBeCloseTo(11 / 10);
    expect(r.min).toBeCloseTo(10 / 12);
    expect(r.max).toBeCloseTo(12 / 8);
  });
});

describe("verdictOf", () => {
  const at = (median: number, min: number, max: number) => ({ median, min, max, runs: 3 });
  it("within target only when every round is within", () => {
    expect(verdictOf(at(1.0, 0.95, 1.04), { op: "≤", value: 1.05 })).toBe("within target");
  });
  it("a spread straddling the target is within noise, never within", () => {
    expect(verdictOf(at(1.04, 0.97, 1.12), { op: "≤", value: 1.05 })).toBe("within noise");
    expect(formatRatio(at(1.04, 0.97, 1.12), { op: "≤", value: 1.05 })).toBe("1.04× (0.97–1.12×; target ≤ 1.05×: within noise)");
  });
  it("a median outside is outside, whatever its best round", () => {
    expect(verdictOf(at(1.2, 1.0, 1.3), { op: "≤", value: 1.1 })).toBe("OUTSIDE TARGET");
  });
  it("an at-least target reads the other way", () => {
    expect(verdictOf(at(6, 5, 7), { op: "≥", value: 3 })).toBe("within target");
    expect(verdictOf(at(3.5, 2.8, 4), { op: "≥", value: 3 })).toBe("within noise");
    expect(verdictOf(at(2.5, 2, 4), { op: "≥", value: 3 })).toBe("OUTSIDE TARGET");
  });
});

describe("a failed contender", () => {
  it("measure: a throw or a failed result is FAIL with its message, never a time", async () => {
    expect(await measure(3, async () => Promise.reject(new Error("CHECKSUM TABLE failed: Table 'x.t' doesn't exist\nstack")))).toEqual({
      ok: false,
      message: "CHECKSUM TABLE failed: Table 'x.t' doesn't exist",
    });
    expect(await measure(3, async () => ({ ok: false }), (r) => (r.ok ? undefined : "bench_a.t01:checksum: the checksum differs"))).toEqual({
      ok: false,
      message: "bench_a.t01:checksum: the checksum differs",
    });
    const fine = await measure(3, async () => 1);
    expect(fine.ok && fine.ms.length).toBe(3);
  });
  it("lineOf: FAIL with the failing side's message, no ratio, no verdict of a ratio", () => {
    const line = lineOf(
      { id: "a.verify.floor", set: "a", measured: "verify", tool: { ok: false, message: "bench_a.t01:checksum: differs" }, reference: { label: "the SQL floor", outcome: { ok: true, ms: [1, 2, 3] } }, ratioName: "restoretest / floor", target: { op: "≤", value: 1.15 } },
      RUN,
    );
    expect(line.verdict).toBe("FAIL");
    expect(line.ratio).toBeNull();
    expect(lineText(line)).toMatch(/restoretest \/ floor +FAIL: restoretest: bench_a.t01:checksum: differs$/);
  });
  it("lineOf: an inverse ratio (a slower way over restoretest) against an at-least target", () => {
    const line = lineOf(
      { id: "a.verify.shell", set: "a", measured: "verify", tool: { ok: true, ms: [2, 2, 2] }, reference: { label: "the shell loop", outcome: { ok: true, ms: [12, 13, 14] } }, ratioName: "shell / restoretest", inverse: true, paired: true, target: { op: "≥", value: 3 } },
      RUN,
    );
    expect(line.ratio?.median).toBeCloseTo(6.5);
    expect(line.verdict).toBe("within target");
  });
});

describe("the results file and the docs", () => {
  const line = (id: string, set: string): BenchLine =>
    lineOf({ id, set, measured: id, tool: { ok: true, ms: [1, 1, 1] }, reference: { label: "r", outcome: { ok: true, ms: [1, 1, 1] } }, ratioName: "x / y", target: { op: "≤", value: 1 } }, RUN);
  it("a run replaces its own sets' lines and keeps the others", () => {
    const before = { version: 1 as const, lines: [line("a.1", "a"), line("a.2", "a"), line("b.1", "b")] };
    expect(mergeResults(before, [line("a.3", "a")]).lines.map((l) => l.id)).toEqual(["a.3", "b.1"]);
  });
  it("replaceGenerated rewrites only between its markers, and refuses a page without them", () => {
    expect(replaceGenerated("x\n<!-- bench:t -->\nold\n<!-- /bench:t -->\ny", "t", "new")).toBe("x\n<!-- bench:t -->\nnew\n<!-- /bench:t -->\ny");
    expect(() => replaceGenerated("no markers", "t", "new")).toThrow(/no <!-- bench:t -->/);
  });
  it("projects a (d) stage to a terabyte from its measured rate, at each concurrency it was measured at", () => {
    const ok = { ok: true as const, ms: [1000, 1000, 1000] };
    // 20 GB in 10 s alone and 6 s on two sessions: 2 GB/s; 1 TB at those rates is 500 s and 300 s.
    const stage = lineOf(
      { id: "d.verify", set: "d", measured: "verify of (d)", tool: { ok: true, ms: [6000, 6000, 6000] }, reference: { label: "floor", outcome: ok }, ratioName: "r", target: { op: "≤", value: 1.15 }, volume: { bytes: 20e9, readLimit: 4e6, byConcurrency: { "1": 10_000, "2": 6000 } } },
      RUN,
    );
    const backup = lineOf({ id: "d.backup", set: "d", measured: "backup of (d)", tool: { ok: true, ms: [40_000, 40_000, 40_000] }, reference: { label: "by hand", outcome: ok }, ratioName: "r", target: { op: "≤", value: 1.1 }, volume: { bytes: 20e9, readLimit: 4e6, byConcurrency: {} } }, RUN);
    const plain = lineOf({ id: "a.x", set: "a", measured: "no volume", tool: ok, reference: { label: "floor", outcome: ok }, ratioName: "r", target: { op: "≤", value: 1 } }, RUN);
    const rows = projectionTable({ version: 1, lines: [stage, backup, plain] }).split("\n").slice(2);
    expect(rows).toEqual([
      "| verify of (d) | 20.00 GB | 3.33 GB/s | 83% of 4.00 GB/s | 0.08 h | 0.14 h (one run) | `--only a`, 2026-12-06, 2 cores |",
      // One stream of files: no concurrency to vary, the measured time is the projection.
      "| backup of (d) | 20.00 GB | 0.50 GB/s | 13% of 4.00 GB/s | 0.56 h | – (one stream of files) | `--only a`, 2026-12-06, 2 cores |",
    ]);
  });
  it("README.md's and docs/performance.md's tables are what the generator makes of bench/results.json", () => {
    const results = readResults();
    expect(results.lines.length).toBeGreaterThan(0);
    for (const g of GENERATED) {
      const page = readFileSync(join(ROOT, g.file), "utf8");
      expect(page, `${g.file}: run npx tsx scripts/perf-docs.ts`).toBe(replaceGenerated(page, g.name, g.table(results)));
    }
  });
});
