// vitest reporter publishing each run's per-service metrics: reports/restoretest.prom, and the Pushgateway when services.yaml names one (docs/metrics.md).
import { existsSync } from "node:fs";
import type { Reporter, TestModule } from "vitest/node";
import { loadMetricsConfig, type MetricsConfig } from "../config/load.ts";
import { maskSecrets } from "../base/secrets.ts";
import { renderFamilies } from "./prometheus.ts";
import { pushService } from "./pushgateway.ts";
import { metricFamilies } from "./serviceMetrics.ts";
import { writeTextfile } from "./textfile.ts";
import { runSummary } from "./summary.ts";

export default class MetricsReporter implements Reporter {
  private readonly config: MetricsConfig;

  /** Reads the `metrics` block now, so that a mistake in it stops the run before anything is restored. */
  constructor(private readonly options: { outputFile: string; configFile: string }) {
    this.config = existsSync(options.configFile) ? loadMetricsConfig(options.configFile) : { metrics: undefined, services: [] };
  }

  /**
   * A failure here never hides the tests' results: JUnit and summary.json are written by their own reporters, this
   * prints one line per failure on stderr, and sets the exit status as vitest does for a missed coverage threshold.
   */
  async onTestRunEnd(modules: ReadonlyArray<TestModule>): Promise<void> {
    const { services } = runSummary(modules);
    // A run of the tool's own tests has no service: the file keeps what the last nightly said.
    if (services.length === 0) return;
    const failures: string[] = [];
    try {
      writeTextfile(this.options.outputFile, services, new Set(this.config.services));
    } catch (error) {
      failures.push(`metrics file ${this.options.outputFile} not written: ${(error as Error).message}`);
    }
    const { pushgateway, job } = this.config.metrics ?? {};
    if (pushgateway && job) {
      const pushes = services.map((s) => pushService({ url: pushgateway, job }, s.service, renderFamilies(metricFamilies([s]))));
      for (const result of await Promise.allSettled(pushes)) {
        if (result.status === "rejected") failures.push((result.reason as Error).message);
      }
    }
    for (const failure of failures) process.stderr.write(`restoretest: ${maskSecrets(failure)}\n`);
    if (failures.length > 0) process.exitCode = 1;
  }
}
