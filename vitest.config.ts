// One vitest project per service in services.yaml (`npx vitest --project blog`), plus the tool's own tests.
import { existsSync, rmSync } from "node:fs";
import { join } from "node:path";
import { defineConfig } from "vitest/config";
import { ConfigError, loadFleet, type Fleet } from "./src/config/load.ts";
import { maxConcurrentRestores, serviceProject, toolProject } from "./src/report/projects.ts";
import { configPath, reportsDir } from "./src/report/paths.ts";
import AllureEnvironmentReporter from "./src/report/allureEnvironment.ts";
import JUnitReporter from "./src/report/junitReporter.ts";
import MetricsReporter from "./src/report/metricsReporter.ts";
import { progressSettings } from "./src/report/progress.ts";
import ProgressReporter from "./src/report/progressReporter.ts";
import ServiceSequencer from "./src/report/sequencer.ts";
import SummaryReporter from "./src/report/summary.ts";

/**
 * Every service's project, its structure read but no secret resolved: each service's suite resolves its own, so a run
 * of one project never needs another service's secrets, and a service whose entry is broken fails in its own project.
 * A problem of the file itself is one line, not a stack trace.
 */
function readFleet(): Fleet {
  if (!existsSync(configPath())) return { names: [], services: [], broken: [], unresolved: [] };
  try {
    return loadFleet(configPath(), process.env, []);
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    for (const line of error.message.split("\n")) process.stderr.write(`restoretest: ${line}\n`);
    process.exit(1);
  }
}
const fleet = readFleet();
const reports = reportsDir();
const allureResults = join(reports, "allure-results");
// Each run's Allure results stand alone; history across runs is kept by the report step (npm run report).
rmSync(allureResults, { recursive: true, force: true });
const progress = progressSettings();
// A shard of a nightly run (Jenkinsfile) also writes a blob for `vitest run --merge-reports`. Added here rather than with
// `--reporter=blob`, which would replace these reporters: allure-vitest's must run in the shard to record steps and labels.
const blob = process.env.RESTORETEST_BLOB;

export default defineConfig({
  test: {
    projects: [toolProject(), ...fleet.names.map((name) => serviceProject(name, fleet.services.find((s) => s.name === name)))],
    reporters: [
      // In a terminal the restore progress is a live line of its own; vitest's live summary would fight over it.
      progress.interactive ? ["default", { summary: false }] : "default",
      new ProgressReporter(progress),
      new JUnitReporter({ outputFile: join(reports, "junit.xml") }),
      new SummaryReporter({ outputFile: join(reports, "summary.json") }),
      new MetricsReporter({ outputFile: join(reports, "restoretest.prom"), configFile: configPath() }),
      ["allure-vitest/reporter", { resultsDir: allureResults }],
      new AllureEnvironmentReporter({ resultsDir: allureResults }),
      ...(blob ? [["blob", { outputFile: blob }] satisfies ["blob", object]] : []),
    ],
    // Each service's suite is one file: files in parallel are restores in parallel, as many as RESTORETEST_MAX_RESTORES
    // (default 1) or `--maxWorkers=N` allow. Sizing: docs/jenkins.md.
    maxWorkers: maxConcurrentRestores(),
    pool: "forks",
    sequence: { sequencer: ServiceSequencer },
  },
});
