// What the Allure report says about the run beside the tests: environment, executor, failure categories and restore-time metrics.
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { hostname } from "node:os";
import { join } from "node:path";
import type { Reporter, TestModule, Vitest } from "vitest/node";
import { formatDuration } from "../base/duration.ts";
import type { RejoinRecord, RestoreRecord } from "./meta.ts";

const PACKAGE = JSON.parse(readFileSync(new URL("../../package.json", import.meta.url), "utf8")) as { version: string };

/** Allure 2 style categories (Jenkins' Allure plugin and Allure 3's readers both take them); `[\s\S]` because messages span lines. */
export const CATEGORIES = [
  // First: a rejoin's "the replica differs from the source" is not a restored-data difference from the baseline.
  { name: "Replica rebuild failed (rejoin)", matchedStatuses: ["failed", "broken"], traceRegex: "^RejoinFailed[\\s\\S]*" },
  { name: "Service configuration (services.yaml)", matchedStatuses: ["failed", "broken"], traceRegex: "^ConfigFailed[\\s\\S]*" },
  { name: "Restore failed", matchedStatuses: ["failed", "broken"], messageRegex: "[\\s\\S]*restore of \\S+ failed at step[\\s\\S]*" },
  { name: "No complete backup", matchedStatuses: ["failed", "broken"], messageRegex: "[\\s\\S]*no complete backup of service[\\s\\S]*" },
  { name: "Restored data differs from the baseline", matchedStatuses: ["failed"], messageRegex: "[\\s\\S]*(differs|missing|not in the baseline)[\\s\\S]*" },
  { name: "Restore skipped a table", matchedStatuses: ["skipped"], messageRegex: "[\\s\\S]*restore failed[\\s\\S]*" },
];

/** Java .properties escaping (what Allure's reader parses). */
function property(key: string, value: string): string {
  const escape = (text: string, isKey: boolean) =>
    text
      .replace(/\\/g, "\\\\")
      .replace(/\n/g, "\\n")
      .replace(isKey ? /([=: #!])/g : /^([ #!])/, "\\$1");
  return `${escape(key, true)}=${escape(value, false)}`;
}

export function environmentOf(records: RestoreRecord[], versions: Record<string, string>): Record<string, string> {
  const env: Record<string, string> = { ...versions };
  for (const r of records) {
    const s = r.service;
    if (r.backup) {
      env[`${s}.backup`] = r.backup.id;
      env[`${s}.backup.age`] = formatDuration(r.backup.ageMs);
      env[`${s}.backup.tool`] = `${r.backup.tool} ${r.backup.toolVersion}`;
      env[`${s}.backup.position`] = r.backup.position ?? "none";
      env[`${s}.baseline.position`] = r.backup.baselinePosition ?? "none";
      env[`${s}.source.server`] = r.backup.sourceServer;
    }
    if (r.restoredServer) env[`${s}.restored.server`] = r.restoredServer;
  }
  return env;
}

/** Who ran the tests: the Jenkins build when there is one (its standard environment variables). */
export function executorOf(env: NodeJS.ProcessEnv = process.env): Record<string, unknown> {
  if (env.BUILD_URL) {
    return {
      name: "Jenkins",
      type: "jenkins",
      url: env.JENKINS_URL,
      buildOrder: Number(env.BUILD_NUMBER) || undefined,
      buildName: env.BUILD_DISPLAY_NAME ?? `${env.JOB_NAME ?? "build"} #${env.BUILD_NUMBER ?? "?"}`,
      buildUrl: env.BUILD_URL,
      reportName: "restoretest",
      reportUrl: `${env.BUILD_URL.replace(/\/?$/, "/")}allure/`,
    };
  }
  return { name: hostname(), type: "local", buildName: `restoretest on ${hostname()}` };
}

/**
 * Allure 3 performance metrics (`*-perf.json`): kept in the history file, so restore times (and a rebuilt replica's
 * catch-up, from `rejoins` by service) show as a trend.
 */
export function metricsOf(records: RestoreRecord[], rejoins: ReadonlyMap<string, RejoinRecord> = new Map()): object[] {
  return records.flatMap((r) => {
    const start = Date.parse(r.startedAt);
    const metric = (key: string, title: string, ms: number) => ({
      id: `${r.service}.${key}`,
      key: `${r.service}.${key}`,
      title: `${r.service}: ${title}`,
      value: Math.round(ms),
      unit: "ms",
      better: "lower",
      group: r.service,
      start,
      stop: start + Math.round(ms),
    });
    const done = r.steps.every((s) => s.ok) && r.steps.some((s) => s.step === "start");
    return [
      ...(done ? [metric("restore", "restore (RTO)", r.steps.reduce((t, s) => t + s.durationMs, 0))] : []),
      ...r.steps.filter((s) => s.ok).map((s) => metric(`step.${s.step}`, s.step, s.durationMs)),
      ...(r.verifyMs === undefined ? [] : [metric("verify", "verify", r.verifyMs)]),
      ...(r.backup ? [metric("backupAge", "backup age at restore", r.backup.ageMs)] : []),
      ...(r.restorable ? [metric("rpo", "RPO: age of the newest restorable point", Math.max(0, Date.parse(r.startedAt) - Date.parse(r.restorable.at)))] : []),
      ...(typeof rejoins.get(r.service)?.catchUpMs === "number" ? [metric("rejoin.catchUp", "rejoin catch-up", rejoins.get(r.service)?.catchUpMs as number)] : []),
    ];
  });
}

/** vitest reporter writing environment.properties, executor.json, categories.json and restoretest-perf.json. */
export default class AllureEnvironmentReporter implements Reporter {
  private vitestVersion = "";
  constructor(private readonly options: { resultsDir: string }) {}

  onInit(vitest: Vitest): void {
    this.vitestVersion = vitest.version;
  }

  onTestRunEnd(modules: ReadonlyArray<TestModule>): void {
    const records = modules.flatMap((m) => [...m.children.allTests()].flatMap((t) => t.meta().restore ?? []));
    const dir = this.options.resultsDir;
    mkdirSync(dir, { recursive: true });
    const versions = { restoretest: PACKAGE.version, node: process.version, vitest: this.vitestVersion };
    const env = environmentOf(records, versions);
    writeFileSync(join(dir, "environment.properties"), `${Object.entries(env).map(([k, v]) => property(k, v)).join("\n")}\n`);
    writeFileSync(join(dir, "executor.json"), JSON.stringify(executorOf(), null, 2));
    writeFileSync(join(dir, "categories.json"), JSON.stringify(CATEGORIES, null, 2));
    // Each rejoin test stores the record as far as it got: the last one per service is the most complete.
    const rejoins = new Map<string, RejoinRecord>();
    for (const m of modules) for (const t of m.children.allTests()) if (t.meta().rejoin) rejoins.set(m.project.name, t.meta().rejoin as RejoinRecord);
    const metrics = metricsOf(records, rejoins);
    if (metrics.length > 0) writeFileSync(join(dir, "restoretest-perf.json"), JSON.stringify(metrics, null, 2));
  }
}
