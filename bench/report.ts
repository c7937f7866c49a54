// The Allure report of a big night: `npm run report` over the allure-results of 40,000 tests, with the history a nightly
// job carries (allurerc.mjs's historyLimit reports), timed and its peak memory read from /usr/bin/time.
import { createHash, randomUUID } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { reportShape } from "../allurerc.mjs";
import { check } from "../src/checks/index.ts";
import { createWorkDir } from "../src/hosts/sandbox.ts";
import { runCommand } from "../src/base/command.ts";
import { CATEGORIES, environmentOf, executorOf, metricsOf } from "../src/report/allureEnvironment.ts";
import type { RestoreRecord } from "../src/report/meta.ts";

const ROOT = resolve(import.meta.dirname, "..");
const md5 = (text: string) => createHash("md5").update(text).digest("hex");
const NO_PARAMETERS = md5("");
const DAY = 86_400_000;

export interface Night {
  service: string;
  database: string;
  tables: readonly string[];
  checks: readonly string[];
  /** When the night's restore started. */
  at: number;
  /** Tests that fail this night (table index × check), with a diff as allure-vitest attaches it. */
  failing?: readonly { table: number; check: string }[];
}

/** One test result as allure-vitest writes it for the suite (src/report/suite.ts): its labels, steps and identity. */
function result(
  service: string,
  path: readonly string[],
  name: string,
  extra: { labels?: Record<string, string>; steps?: object[]; parameters?: object[]; description?: string; start: number; stop: number; failed?: string; attachments?: object[] },
): object {
  const fullName = `restoretest:suites/restore.test.ts#${[service, ...path, name].join(" ")}`;
  const testCaseId = md5(fullName);
  return {
    uuid: randomUUID(),
    name,
    historyId: `${testCaseId}:${NO_PARAMETERS}`,
    status: extra.failed ? "failed" : "passed",
    statusDetails: extra.failed ? { message: extra.failed, trace: `AssertionError: ${extra.failed}\n    at suites/restore.test.ts:213:11` } : {},
    stage: "finished",
    steps: extra.steps ?? [],
    attachments: extra.attachments ?? [],
    parameters: extra.parameters ?? [],
    labels: [
      { name: "framework", value: "vitest" },
      { name: "language", value: "javascript" },
      { name: "parentSuite", value: service },
      ...(path[0] ? [{ name: "suite", value: path[0] }] : []),
      { name: "host", value: "vm" },
      { name: "thread", value: "vitest-worker-1" },
      { name: "_fallbackTestCaseId", value: md5(`${fullName}#fallback`) },
      { name: "package", value: "restoretest.suites.restore.test.ts" },
      ...Object.entries({ service, ...extra.labels }).map(([n, value]) => ({ name: n, value })),
    ],
    links: [],
    start: extra.start,
    fullName,
    titlePath: ["restoretest", "suites", "restore.test.ts", service, ...path],
    ...(extra.description ? { description: extra.description } : {}),
    testCaseId,
    stop: extra.stop,
  };
}

/**
 * A night's allure-results in `dir`, in the shapes allure-vitest and AllureEnvironmentReporter write for one service:
 * the restore test with its steps, the server and database tests, every table × check, the objectives, and beside them
 * environment.properties, executor.json, categories.json and the restore-time metrics. Returns the number of tests.
 */
export function writeNight(dir: string, night: Night): number {
  mkdirSync(dir, { recursive: true });
  const { service, database, at } = night;
  const write = (r: object) => writeFileSync(join(dir, `${(r as { uuid: string }).uuid}-result.json`), JSON.stringify(r));
  const stepNames = ["locate", "provision", "transfer", "prepare", "start", "replay", "capture restored state"];
  const stepMs = [20, 10, 40_000, 9_000, 6_000, 200, 60_000];
  let clock = at;
  const steps = stepNames.map((name, i) => {
    const start = clock;
    clock += stepMs[i] as number;
    return { status: "passed", statusDetails: {}, stage: "finished", steps: [], attachments: [], parameters: [], start, name, stop: clock };
  });
  const backupId = new Date(at - 3 * 3_600_000).toISOString().replace(/\.\d+Z$/, "Z").replaceAll(":", "-");
  write(result(service, [], "restore", { labels: { check: "restore" }, steps, parameters: [{ name: "backup", value: backupId, excluded: true }], start: at, stop: clock }));
  let tests = 1;
  for (const name of ["accounts", "server"]) {
    write(result(service, [], name, { labels: { check: name }, description: check(name).description, start: clock, stop: clock + 5 }));
    tests++;
  }
  for (const name of ["tables", "views", "triggers", "routines", "events", "database"]) {
    write(result(service, [database], name, { labels: { database, check: name }, description: check(name).description, start: clock, stop: clock + 3 }));
    tests++;
  }
  const failing = new Set((night.failing ?? []).map((f) => `${f.table}:${f.check}`));
  night.tables.forEach((table, i) => {
    for (const name of night.checks) {
      const failed = failing.has(`${i}:${name}`) ? `${database}.${table}: ${name} differs from the baseline` : undefined;
      const attachments: object[] = [];
      if (failed) {
        const source = `${randomUUID()}-attachment.diff`;
        writeFileSync(join(dir, source), `--- baseline\n+++ restored\n@@ -1 +1 @@\n-v1\n+v2\n`);
        attachments.push({ name: "diff", source, type: "text/x-diff" });
      }
      write(result(service, [`${database}.${table}`], name, { labels: { database, table, check: name }, description: check(name).description, start: clock + i, stop: clock + i + 2, failed, attachments }));
      tests++;
    }
  });
  for (const name of ["RTO", "RPO", "backup age"]) {
    write(result(service, ["objectives"], name, { labels: { check: "objectives" }, start: clock, stop: clock + 1 }));
    tests++;
  }
  const record: RestoreRecord = {
    service,
    backup: { id: backupId, finishedAt: new Date(at - 3 * 3_600_000).toISOString(), ageMs: 3 * 3_600_000, tool: "mariabackup", toolVersion: "10.11", position: "mysql-bin.000042:4711", baselinePosition: "mysql-bin.000042:5110", sourceServer: "10.11.19-MariaDB-log" },
    restoredServer: "10.11.19-MariaDB",
    startedAt: new Date(at).toISOString(),
    steps: stepNames.slice(0, 6).map((step, i) => ({ step, durationMs: stepMs[i] as number, ok: true })),
    verifyMs: stepMs[6],
    restorable: { at: new Date(at - 3 * 3_600_000).toISOString(), source: "backup" },
  };
  const env = environmentOf([record], { restoretest: "0.1.0", node: process.version, vitest: "4" });
  writeFileSync(join(dir, "environment.properties"), `${Object.entries(env).map(([k, v]) => `${k}=${v}`).join("\n")}\n`);
  writeFileSync(join(dir, "executor.json"), JSON.stringify(executorOf({})));
  writeFileSync(join(dir, "categories.json"), JSON.stringify(CATEGORIES));
  writeFileSync(join(dir, "restoretest-perf.json"), JSON.stringify(metricsOf([record])));
  return tests;
}

export interface ReportRun {
  ms: number;
  /** From /usr/bin/time (undefined where it is missing): the largest process's peak resident memory, and user + system CPU. */
  peakBytes?: number;
  cpuMs?: number;
  historyBytes: number;
  /** The report directory's files, in bytes (not disk blocks). */
  reportBytes: number;
}

/** `npm run report` as a night runs it, over `reports` (RESTORETEST_REPORTS); time and peak memory from /usr/bin/time. */
export async function runReport(reports: string): Promise<ReportRun> {
  const timeFile = join(reports, "time.txt");
  // Added to this process's environment: ALLURE_HISTORY or ALLURE_REPORT set there would send the files elsewhere.
  const env = { RESTORETEST_REPORTS: reports };
  const measured = existsSync("/usr/bin/time");
  const npm = ["npm", "run", "--silent", "report"];
  const started = performance.now();
  if (measured) await runCommand("/usr/bin/time", ["-f", "%M %U %S", "-o", timeFile, ...npm], { cwd: ROOT, env, timeoutMs: 3_600_000 });
  else await runCommand(npm[0] as string, npm.slice(1), { cwd: ROOT, env, timeoutMs: 3_600_000 });
  const ms = performance.now() - started;
  const history = join(reports, "allure-history.jsonl");
  const [kb, user, sys] = measured ? (readFileSync(timeFile, "utf8").trim().split("\n").at(-1) as string).split(" ").map(Number) : [];
  const du = await runCommand("du", ["-sb", join(reports, "allure-report")]);
  return {
    ms,
    ...(kb !== undefined ? { peakBytes: kb * 1024, cpuMs: ((user ?? 0) + (sys ?? 0)) * 1000 } : {}),
    historyBytes: existsSync(history) ? statSync(history).size : 0,
    reportBytes: Number(/^\d+/.exec(du.stdout)?.[0] ?? 0),
  };
}

/**
 * The history file a nightly job carries once it is full: `lines` reports, each a copy of the newest line Allure wrote
 * (its own shape: every test's status and duration, the metrics), dated one night apart.
 */
export function fillHistory(file: string, lines: number): void {
  const newest = JSON.parse(readFileSync(file, "utf8").trimEnd().split("\n").at(-1) as string) as { uuid: string; timestamp: number };
  const out: string[] = [];
  for (let i = lines - 1; i >= 0; i--) out.push(JSON.stringify({ ...newest, uuid: randomUUID(), timestamp: newest.timestamp - (i + 1) * DAY }));
  writeFileSync(file, `${out.join("\n")}\n`);
}

export interface ReportTargets {
  ms: number;
  bytes: number;
}

const fmt = (ms: number) => (ms >= 1000 ? `${(ms / 1000).toFixed(1)} s` : `${ms.toFixed(0)} ms`);
const mib = (bytes: number | undefined) => (bytes === undefined ? "not measured (/usr/bin/time missing: apt-get install time)" : `${(bytes / 2 ** 20).toFixed(0)} MiB`);
const mb = (bytes: number) => `${(bytes / 1e6).toFixed(1)} MB`;
const verdict = (ok: boolean) => (ok ? "within target" : "OUTSIDE TARGET");

/**
 * `runs` nights of `tables.length × checks.length` table tests (40,000 for data set (b)) reported by `npm run report`:
 * the first night with no history, then each with the history file full (as many reports as allurerc.mjs keeps for a
 * run of this size), in the shape scripts/report.sh leaves it.
 */
export async function reportBench(tables: readonly string[], runs: number, targets: ReportTargets, log: (s: string) => void): Promise<void> {
  const work = createWorkDir("bench-report");
  try {
    const reports = join(work.path, "reports");
    const results = join(reports, "allure-results");
    const history = join(reports, "allure-history.jsonl");
    const checks = ["checksum", "definition", "rowCount", "integrity"];
    const night = (n: number): Night => ({
      service: "bench",
      database: "bench_b",
      tables,
      checks,
      at: Date.now() - (runs - n) * DAY,
      failing: [{ table: n * 7, check: "checksum" }, { table: n * 13 + 1, check: "definition" }],
    });
    const generate = async (n: number) => {
      await runCommand("rm", ["-rf", results]);
      const started = performance.now();
      const count = writeNight(results, night(n));
      return { count, ms: performance.now() - started };
    };
    const first = await generate(0);
    const shape = reportShape(first.count);
    const cold = await runReport(reports);
    const nights: ReportRun[] = [];
    for (let n = 1; n <= runs; n++) {
      fillHistory(history, shape.historyLimit);
      await generate(n);
      nights.push(await runReport(reports));
    }
    const middle = [...nights].sort((a, b) => a.ms - b.ms)[Math.floor(nights.length / 2)] as ReportRun;
    const peaks = nights.map((r) => r.peakBytes ?? Infinity);
    const peak = Math.max(...peaks);
    log(`\nAllure report (npm run report) over ${first.count} test results (${tables.length} tables × ${checks.length} checks + restore, server, database, objective tests; written in ${fmt(first.ms)})`);
    log(`  shape (allurerc.mjs for ${first.count} tests): ${shape.singleFile ? "one index.html" : "a directory"}, history of ${shape.historyLimit} report(s)`);
    const cpu = (r: ReportRun) => (r.cpuMs === undefined ? "" : ` (${fmt(r.cpuMs)} CPU)`);
    log(`  no history yet                  ${fmt(cold.ms)}${cpu(cold)}, peak ${mib(cold.peakBytes)}; report ${mb(cold.reportBytes)}, history ${mb(cold.historyBytes)}`);
    log(`  history full (${shape.historyLimit} earlier reports) ${fmt(middle.ms)}${cpu(middle)}, peak ${mib(middle.peakBytes)}; report ${mb(middle.reportBytes)}, history ${mb(middle.historyBytes)}`);
    log(`    runs: ${nights.map((r) => `${fmt(r.ms)}${cpu(r)} ${mib(r.peakBytes)}`).join(", ")}`);
    log(`  report time      ${fmt(middle.ms)}   (target ≤ ${fmt(targets.ms)}: ${verdict(middle.ms <= targets.ms)})`);
    log(`  report peak RSS  ${mib(peak === Infinity ? undefined : peak)}   (target ≤ ${mib(targets.bytes)}: ${verdict(peak <= targets.bytes)})`);
  } finally {
    await work.remove();
  }
}
