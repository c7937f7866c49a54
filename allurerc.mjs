// Allure 3 report settings for `npm run report` (scripts/report.sh): where the report goes and where its history lives,
// shaped by the number of tests so that a big night's report still fits the nightly (docs/performance.md).
import { readdirSync } from "node:fs";
import process from "node:process";

const reports = process.env.RESTORETEST_REPORTS ?? "reports";

/** Nights of history at most: each test's History tab, the status and duration trends, the Metrics page. */
export const HISTORY_REPORTS = 90;
/**
 * Test results the history may hold over all its reports: Allure reads every one into memory and copies each test's into
 * that test's page. At 40,000 tests a report takes 36-55 s without history on 2 cores and each night of history adds 5-10 s
 * (docs/performance.md): 1 night there, for the nightly's 60 s; 90 would be a 1.5 GB history file and several minutes.
 */
export const HISTORY_RESULTS = 60_000;
/**
 * Up to this many tests the report is one index.html; above, a directory (data files beside index.html). Allure builds
 * a single file in memory: at 40,000 tests 1.8 GB without history and a 220 MB page.
 */
export const SINGLE_FILE_TESTS = 10_000;

/** The report's shape for a run of `tests` test results. */
export function reportShape(tests) {
  return {
    singleFile: tests <= SINGLE_FILE_TESTS,
    historyLimit: Math.max(1, Math.min(HISTORY_REPORTS, Math.floor(HISTORY_RESULTS / Math.max(1, tests)))),
  };
}

function countResults(dir) {
  try {
    return readdirSync(dir).filter((name) => name.endsWith("-result.json")).length;
  } catch {
    return 0;
  }
}

const shape = reportShape(countResults(`${reports}/allure-results`));

// A plain object (allure's defineConfig returns its argument): importing "allure" would run its command line, and
// bench/report.ts imports this file for reportShape.
export default {
  name: "restoretest",
  output: process.env.ALLURE_REPORT ?? `${reports}/allure-report`,
  // One JSONL line per generated report; kept between runs (and between Jenkins builds: docs/jenkins.md).
  historyPath: process.env.ALLURE_HISTORY ?? `${reports}/allure-history.jsonl`,
  historyLimit: shape.historyLimit,
  plugins: {
    awesome: {
      options: {
        reportName: "restoretest",
        singleFile: shape.singleFile,
        reportLanguage: "en",
        groupBy: ["parentSuite", "suite", "subSuite"],
      },
    },
  },
};
