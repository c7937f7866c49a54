// The Allure report's shape by size (allurerc.mjs) and the history file compacted after each report (labels dropped).
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { HISTORY_REPORTS, HISTORY_RESULTS, reportShape, SINGLE_FILE_TESTS } from "../../allurerc.mjs";
import { compactHistoryFile, compactHistoryLine } from "../../src/report/allureHistory.ts";

const item = (status: string) => ({
  id: "a1",
  name: "checksum",
  fullName: "restoretest:suites/restore.test.ts#blog blog.posts checksum",
  environment: "default",
  status,
  ...(status === "failed" ? { message: "blog.posts: checksum differs", trace: "AssertionError" } : {}),
  start: 1,
  stop: 3,
  duration: 2,
  labels: [
    { name: "framework", value: "vitest" },
    { name: "service", value: "blog" },
  ],
  url: "",
  historyId: "h1.d41d8cd98f00b204e9800998ecf8427e",
  reportLinks: [],
});
const point = (status: string) => ({ uuid: "u1", name: "restoretest", timestamp: 5, knownTestCaseIds: ["h1"], testResults: { "h1.d41d8cd98f00b204e9800998ecf8427e": item(status) }, metrics: { "blog.restore": 2370 }, url: "" });

describe("the history file after a report", () => {
  it("keeps every test's identity, status, duration and failure, and the report's metrics; drops the labels", () => {
    const compacted = JSON.parse(compactHistoryLine(JSON.stringify(point("failed")))) as ReturnType<typeof point>;
    const { labels: _labels, ...rest } = item("failed");
    expect(compacted).toEqual({ ...point("failed"), testResults: { "h1.d41d8cd98f00b204e9800998ecf8427e": rest } });
  });

  it("rewrites only what has labels, line by line, and leaves a compacted file as it is", () => {
    const dir = mkdtempSync(join(tmpdir(), "restoretest-allure-history-"));
    try {
      const file = join(dir, "allure-history.jsonl");
      const slim = compactHistoryLine(JSON.stringify(point("passed")));
      writeFileSync(file, `${slim}\n${JSON.stringify(point("failed"))}\n`);
      const first = compactHistoryFile(file);
      expect(first.after).toBeLessThan(first.before);
      const lines = readFileSync(file, "utf8").trimEnd().split("\n");
      expect(lines).toHaveLength(2);
      expect(lines[0]).toBe(slim);
      expect(lines.every((l) => !l.includes('"labels"'))).toBe(true);
      expect(compactHistoryFile(file)).toEqual({ before: first.after, after: first.after });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("the report's shape by the number of tests", () => {
  it("is one index.html with 90 nights of history for the demo's size", () => {
    expect(reportShape(182)).toEqual({ singleFile: true, historyLimit: HISTORY_REPORTS });
  });

  it("is a directory above SINGLE_FILE_TESTS, with as many nights as HISTORY_RESULTS allows, and always at least one", () => {
    expect(reportShape(SINGLE_FILE_TESTS).singleFile).toBe(true);
    expect(reportShape(SINGLE_FILE_TESTS + 1).singleFile).toBe(false);
    expect(reportShape(40_012)).toEqual({ singleFile: false, historyLimit: Math.floor(HISTORY_RESULTS / 40_012) });
    expect(reportShape(40_012).historyLimit).toBe(1);
    expect(reportShape(10_000_000).historyLimit).toBe(1);
    expect(reportShape(0).historyLimit).toBe(HISTORY_REPORTS);
  });
});
