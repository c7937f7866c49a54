// Progress output: the lines CI logs show, the live terminal line, and when each is chosen.
import { afterEach, describe, expect, it } from "vitest";
import type { TestCase } from "vitest/node";
import type { ProgressArtifact } from "../../src/report/meta.ts";
import { formatBytes, progressLine, progressSettings } from "../../src/report/progress.ts";
import ProgressReporter from "../../src/report/progressReporter.ts";

const event = (p: Partial<ProgressArtifact>): ProgressArtifact => ({ type: "restoretest:progress", service: "shop", step: "transfer", phase: "running", elapsedMs: 20_000, ...p });
const someTest = {} as TestCase;
/** Carriage return and erase-line: how the live line is taken off the screen. */
const CLEAR_LINE = "\r\u001b[K";

describe("progress lines", () => {
  it("name service, step, elapsed time and, for a copy, bytes and rate", () => {
    expect(progressLine(event({ phase: "start", elapsedMs: 0 }))).toBe("[restoretest] shop › transfer: started");
    expect(progressLine(event({ bytes: 1_200_000_000 }))).toBe("[restoretest] shop › transfer: running 20.0s, 1.2 GB at 60.0 MB/s");
    expect(progressLine(event({ phase: "done", elapsedMs: 95_000, bytes: 2_400_000_000 }))).toBe("[restoretest] shop › transfer: done in 1m 35s, 2.4 GB at 25.3 MB/s");
    expect(progressLine(event({ step: "prepare", phase: "failed", elapsedMs: 3_100 }))).toBe("[restoretest] shop › prepare: FAILED after 3.1s");
    expect(formatBytes(999)).toBe("999 B");
    expect(formatBytes(19_302_476)).toBe("19.3 MB");
  });

  it("are periodic plain lines in CI or without a terminal, a live line at a terminal", () => {
    expect(progressSettings({ CI: "true" }, { isTTY: true })).toEqual({ interactive: false, intervalMs: 10_000 });
    expect(progressSettings({}, { isTTY: false })).toEqual({ interactive: false, intervalMs: 10_000 });
    expect(progressSettings({}, { isTTY: true })).toEqual({ interactive: true, intervalMs: 2_000 });
    expect(progressSettings({ CI: "1", RESTORETEST_PROGRESS_INTERVAL: "30s" }, {})).toEqual({ interactive: false, intervalMs: 30_000 });
  });
});

describe("ProgressReporter", () => {
  it("in CI prints every event it receives as one line, and ignores other artifacts", () => {
    const lines: string[] = [];
    const reporter = new ProgressReporter({ interactive: false, intervalMs: 10_000, write: (l) => lines.push(l) });
    reporter.onTestCaseArtifactRecord(someTest, event({ phase: "start", elapsedMs: 0 }));
    reporter.onTestCaseArtifactRecord(someTest, event({ bytes: 600_000_000, elapsedMs: 10_000 }));
    reporter.onTestCaseArtifactRecord(someTest, { type: "internal:failureScreenshot", attachments: [] });
    reporter.onTestCaseArtifactRecord(someTest, event({ phase: "done", bytes: 1_200_000_000 }));
    expect(lines).toEqual([
      "[restoretest] shop › transfer: started",
      "[restoretest] shop › transfer: running 10.0s, 600.0 MB at 60.0 MB/s",
      "[restoretest] shop › transfer: done in 20.0s, 1.2 GB at 60.0 MB/s",
    ]);
  });

  describe("at a terminal", () => {
    const original = { out: process.stdout.write, err: process.stderr.write };
    afterEach(() => {
      process.stdout.write = original.out;
      process.stderr.write = original.err;
    });

    it("keeps one live line of every running restore below the other output, and removes it at the end", () => {
      let screen = "";
      const capture = ((chunk: string | Uint8Array) => {
        screen += String(chunk);
        return true;
      }) as typeof process.stderr.write;
      process.stdout.write = capture;
      process.stderr.write = capture;
      const reporter = new ProgressReporter({ interactive: true, intervalMs: 2_000, write: (l) => process.stderr.write(`${l}\n`) });
      reporter.onTestRunStart();
      reporter.onTestCaseArtifactRecord(someTest, event({ phase: "start", elapsedMs: 0 }));
      reporter.onTestCaseArtifactRecord(someTest, event({ service: "blog", step: "prepare", phase: "start", elapsedMs: 0 }));
      expect(screen).toMatch(/⏳ shop › transfer \d+ms │ blog › prepare \d+ms$/);
      process.stdout.write("a line from vitest\n");
      // Cleared before the other output, drawn again after it.
      expect(screen).toContain(`${CLEAR_LINE}a line from vitest\n⏳ shop › transfer`);
      reporter.onTestCaseArtifactRecord(someTest, event({ phase: "done", bytes: 1_000_000 }));
      expect(screen).toMatch(/\[restoretest\] shop › transfer: done in 20\.0s, 1\.0 MB at 50\.0 kB\/s\n⏳ blog › prepare \d+ms$/);
      reporter.onTestRunEnd();
      expect(screen.endsWith(CLEAR_LINE)).toBe(true);
      expect(process.stderr.write).toBe(capture);
    });
  });

  it("stays silent while merging blobs: the events are old", () => {
    const lines: string[] = [];
    const reporter = new ProgressReporter({ interactive: false, intervalMs: 10_000, write: (l) => lines.push(l) });
    reporter.onInit({ config: { mergeReports: "reports/blob" }, projects: [] } as never);
    reporter.onTestCaseArtifactRecord(someTest, event({}));
    expect(lines).toEqual([]);
  });
});
