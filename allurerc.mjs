// Allure 3 report settings for `npm run report` (scripts/report.sh): where the report goes and where its history lives.
import process from "node:process";
import { defineConfig } from "allure";

const reports = process.env.RESTORETEST_REPORTS ?? "reports";

export default defineConfig({
  name: "restoretest",
  output: process.env.ALLURE_REPORT ?? `${reports}/allure-report`,
  // One JSONL line per generated report; kept between runs (and between Jenkins builds: docs/jenkins.md).
  historyPath: process.env.ALLURE_HISTORY ?? `${reports}/allure-history.jsonl`,
  historyLimit: 90,
  plugins: {
    awesome: {
      options: {
        reportName: "restoretest",
        singleFile: true,
        reportLanguage: "en",
        groupBy: ["parentSuite", "suite", "subSuite"],
      },
    },
  },
});
