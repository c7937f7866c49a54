// reports/restoretest.prom for node_exporter's textfile collector: this run's services, plus the last known state of configured services that did not run.
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { basename, dirname, join } from "node:path";
import type { ServiceSummary } from "./summary.ts";
import { parseSamples, renderFamilies, type ParsedSample } from "./prometheus.ts";
import { metricFamilies } from "./serviceMetrics.ts";

/**
 * Which samples of the previous file stay: those of services that did not run this time (a run of one project must not
 * blank the others' gauges) and are still in services.yaml (a removed service must not alert forever as never verified).
 */
export function keptSamples(previous: readonly ParsedSample[], ran: ReadonlySet<string>, configured: ReadonlySet<string>): ParsedSample[] {
  return previous.filter((sample) => {
    const service = sample.labels.service;
    return service !== undefined && !ran.has(service) && configured.has(service);
  });
}

/** The file's text for these services, carrying over the kept services of `previous` (the file's current text). */
export function textfileContent(summaries: readonly ServiceSummary[], previous: string, configured: ReadonlySet<string>): string {
  const ran = new Set(summaries.map((s) => s.service));
  return renderFamilies(metricFamilies(summaries, keptSamples(parseSamples(previous), ran, configured)));
}

/**
 * Replace `file` atomically: the collector reads it at any moment, and must never see half of it. The temp file sits in
 * the same directory (rename is atomic only within one file system) and does not end in `.prom`, which the collector reads.
 */
export function writeTextfile(file: string, summaries: readonly ServiceSummary[], configured: ReadonlySet<string>): void {
  const previous = existsSync(file) ? readFileSync(file, "utf8") : "";
  const text = textfileContent(summaries, previous, configured);
  mkdirSync(dirname(file), { recursive: true });
  const temp = join(dirname(file), `.${basename(file)}.${process.pid}.tmp`);
  try {
    writeFileSync(temp, text, { mode: 0o644 });
    renameSync(temp, file);
  } finally {
    rmSync(temp, { force: true });
  }
}
