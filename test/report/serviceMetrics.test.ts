// Per-service gauges from summary records, restoretest.prom's carry-over and atomic replacement, and promtool's verdict on real-looking files.
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { parseSamples, renderFamilies } from "../../src/report/prometheus.ts";
import { metricFamilies, METRICS } from "../../src/report/serviceMetrics.ts";
import { textfileContent, writeTextfile } from "../../src/report/textfile.ts";
import type { RestoreRecord } from "../../src/report/meta.ts";
import { summarizeService, SummarySchema, type ServiceSummary } from "../../src/report/summary.ts";
import { promtoolCheckMetrics } from "./promtool.ts";

const ROOT = resolve(import.meta.dirname, "../..");
/** The documented summary.json example: records of a real demo run, one green service with rejoin and one whose prepare failed. */
const DOCUMENTED = SummarySchema.parse(JSON.parse(/```json\n([\s\S]*?)\n```/.exec(readFileSync(join(ROOT, "docs/summary.md"), "utf8"))?.[1] ?? "null"));
const [BLOG, SHOP] = DOCUMENTED.services as [ServiceSummary, ServiceSummary];

const NOW = new Date("2026-11-25T05:00:00Z");
const ok = (step: string, durationMs: number, bytes?: number) => ({ step, durationMs, ok: true, ...(bytes === undefined ? {} : { bytes }) });

/** An incremental chain of three restored through the real summary function: prepare once, apply-incremental twice. */
function incrementalRun(): ServiceSummary {
  const record: RestoreRecord = {
    service: "orders",
    backup: {
      id: "2026-11-25T02-00-00Z",
      finishedAt: "2026-11-25T02:01:00.000Z",
      ageMs: 10_800_500,
      tool: "mariabackup",
      toolVersion: "10.11",
      position: "mysql-bin.000004:900",
      baselinePosition: "mysql-bin.000004:1200",
      sourceServer: "10.11.19-MariaDB-log",
    },
    startedAt: "2026-11-25T05:01:00.500Z",
    restoredServer: "10.11.19-MariaDB",
    steps: [ok("locate", 12), ok("provision", 2), ok("transfer", 300, 40_000_000), ok("prepare", 900), ok("apply-incremental", 250), ok("apply-incremental", 350), ok("start", 500), ok("replay", 38)],
    verifyMs: 1234,
    restorable: { at: "2026-11-25T04:55:00.500Z", source: "binlog archive" },
  };
  const tests = [{ name: "orders › restore", state: "passed" as const, isRestore: true }, { name: "orders.orders.t › checksum", state: "passed" as const, isRestore: false }];
  return summarizeService("orders", record, tests, NOW);
}

/** A store without a complete backup: the restore test fails at locate, nothing else is known. */
const noBackup = (): ServiceSummary => summarizeService("ledger", undefined, [{ name: "ledger › restore", state: "failed", isRestore: true }], NOW);

/** The samples of one service as `name{labels}` → value, for exact comparison. */
function samplesOf(summary: ServiceSummary): Record<string, number> {
  const text = renderFamilies(metricFamilies([summary]));
  return Object.fromEntries(parseSamples(text).map((s) => [`${s.name}${JSON.stringify(s.labels)}`, s.value]));
}

describe("a service's gauges", () => {
  it("say everything a green run's record holds, in seconds, bytes and Unix time", () => {
    const s = { service: "blog" };
    expect(samplesOf(BLOG)).toEqual({
      [`restoretest_success${JSON.stringify(s)}`]: 1,
      [`restoretest_last_verify_timestamp_seconds${JSON.stringify(s)}`]: Date.parse("2026-11-25T03:40:51.169Z") / 1000,
      [`restoretest_failed_tests${JSON.stringify(s)}`]: 0,
      [`restoretest_rto_seconds${JSON.stringify(s)}`]: 1.117,
      ...Object.fromEntries(
        [["locate", 0.01], ["provision", 0.003], ["transfer", 0.124], ["prepare", 0.448], ["start", 0.531], ["replay", 0.001]].map(([step, v]) => [
          `restoretest_restore_step_seconds${JSON.stringify({ ...s, step })}`,
          v,
        ]),
      ),
      [`restoretest_verify_seconds${JSON.stringify(s)}`]: 0.109,
      [`restoretest_rpo_seconds${JSON.stringify(s)}`]: 9398.423,
      [`restoretest_backup_age_seconds${JSON.stringify(s)}`]: 9398.423,
      [`restoretest_backup_timestamp_seconds${JSON.stringify(s)}`]: Date.parse("2026-11-25T01:04:12.746Z") / 1000,
      // The backup's hold on its source while the baseline was read, and the purge it held back.
      [`restoretest_backup_source_hold_seconds${JSON.stringify(s)}`]: 2.31,
      [`restoretest_backup_history_list_length${JSON.stringify({ ...s, when: "before" })}`]: 12,
      [`restoretest_backup_history_list_length${JSON.stringify({ ...s, when: "after" })}`]: 3410,
      [`restoretest_backup_bytes${JSON.stringify(s)}`]: 19_302_476,
      [`restoretest_rejoin_catch_up_seconds${JSON.stringify(s)}`]: 0.368,
      // summary.md's blog sets an RTO and a catch-up objective, both met.
      [`restoretest_objective_limit_seconds${JSON.stringify({ ...s, objective: "rto" })}`]: 2700,
      [`restoretest_objective_limit_seconds${JSON.stringify({ ...s, objective: "catchUp" })}`]: 600,
      [`restoretest_objective_breached${JSON.stringify({ ...s, objective: "rto" })}`]: 0,
      [`restoretest_objective_breached${JSON.stringify({ ...s, objective: "catchUp" })}`]: 0,
    });
  });

  it("go red for a failed prepare, keep the steps that ran with the failed one, and claim no RTO or RPO", () => {
    const s = { service: "shop" };
    expect(samplesOf(SHOP)).toEqual({
      [`restoretest_success${JSON.stringify(s)}`]: 0,
      [`restoretest_last_verify_timestamp_seconds${JSON.stringify(s)}`]: Date.parse("2026-11-25T03:40:51.322Z") / 1000,
      // The restore, and the RTO objective it left unmeasured.
      [`restoretest_failed_tests${JSON.stringify(s)}`]: 2,
      [`restoretest_restore_step_seconds${JSON.stringify({ ...s, step: "locate" })}`]: 0.027,
      [`restoretest_restore_step_seconds${JSON.stringify({ ...s, step: "provision" })}`]: 0.002,
      [`restoretest_restore_step_seconds${JSON.stringify({ ...s, step: "transfer" })}`]: 0.098,
      [`restoretest_restore_step_seconds${JSON.stringify({ ...s, step: "prepare" })}`]: 5.173,
      [`restoretest_backup_age_seconds${JSON.stringify(s)}`]: 5891.321,
      [`restoretest_backup_timestamp_seconds${JSON.stringify(s)}`]: Date.parse("2026-11-25T02:02:40.001Z") / 1000,
      // The copy finished before prepare failed: its count is whole.
      [`restoretest_backup_bytes${JSON.stringify(s)}`]: 18_400_000,
      // Its RTO objective could not be measured: breached.
      [`restoretest_objective_limit_seconds${JSON.stringify({ ...s, objective: "rto" })}`]: 2700,
      [`restoretest_objective_breached${JSON.stringify({ ...s, objective: "rto" })}`]: 1,
    });
  });

  it("sum a step that ran once per incremental, and take the RPO from the binlog archive when the restore rolled forward", () => {
    const samples = samplesOf(incrementalRun());
    expect(samples[`restoretest_restore_step_seconds${JSON.stringify({ service: "orders", step: "apply-incremental" })}`]).toBe(0.6);
    expect(samples[`restoretest_rto_seconds${JSON.stringify({ service: "orders" })}`]).toBe(2.352);
    expect(samples[`restoretest_rpo_seconds${JSON.stringify({ service: "orders" })}`]).toBe(360);
    expect(samples[`restoretest_backup_age_seconds${JSON.stringify({ service: "orders" })}`]).toBe(10_800.5);
  });

  it("are only a red verdict, the time and the failed test when the store had no complete backup", () => {
    expect(samplesOf(noBackup())).toEqual({
      [`restoretest_success${JSON.stringify({ service: "ledger" })}`]: 0,
      [`restoretest_last_verify_timestamp_seconds${JSON.stringify({ service: "ledger" })}`]: NOW.getTime() / 1000,
      [`restoretest_failed_tests${JSON.stringify({ service: "ledger" })}`]: 1,
    });
  });

  it("leave out the backup's bytes when the copy itself broke (a partial count)", () => {
    const broken = { ...BLOG, verdict: "fail" as const, steps: [ok("locate", 1), { step: "transfer", durationMs: 80, bytes: 1_000, ok: false }], bytesMoved: 1_000, rtoMs: null };
    expect(Object.keys(samplesOf(broken)).filter((k) => k.startsWith("restoretest_backup_bytes"))).toEqual([]);
  });

  it("follow Prometheus naming: restoretest_ prefix, base units as suffixes, help on every one", () => {
    for (const metric of METRICS) {
      expect(metric.name).toMatch(/^restoretest_[a-z_]+$/);
      expect(metric.name).not.toMatch(/_(ms|milliseconds|total|count)$/);
      expect(metric.help.length).toBeGreaterThan(20);
    }
    expect(METRICS.map((m) => m.name).filter((n) => /time|age|rto|rpo|catch_up|step/.test(n)).every((n) => n.endsWith("_seconds"))).toBe(true);
    expect(METRICS.filter((m) => m.name.includes("bytes")).map((m) => m.name)).toEqual(["restoretest_backup_bytes"]);
  });
});

describe("promtool check metrics", () => {
  it("accepts the file of a fleet run: green with rejoin, failed prepare, incremental chain, no backup at all", async () => {
    // blog's oldest retained backup was never verified: every metric has a sample.
    const unproven = { longestMs: 86_400_000, backupId: "2026-11-24T01-00-00Z", neverVerified: { id: "2026-11-24T01-00-00Z", ageMs: 86_400_000 } };
    const text = textfileContent([{ ...BLOG, unproven }, SHOP, incrementalRun(), noBackup()], "", new Set());
    expect(text.match(/^# TYPE /gm)).toHaveLength(METRICS.length);
    expect(await promtoolCheckMetrics(text)).toEqual({ exitCode: 0, output: "" });
  });

  it("accepts a file holding only a failed run", async () => {
    expect(await promtoolCheckMetrics(textfileContent([noBackup()], "", new Set()))).toEqual({ exitCode: 0, output: "" });
  });
});

describe("restoretest.prom across runs", () => {
  const dir = mkdtempSync(join(tmpdir(), "metrics-textfile-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("replaces the services of this run, keeps configured ones that did not run, and drops services no longer configured", async () => {
    const previous = textfileContent([BLOG, incrementalRun(), { ...noBackup(), service: "retired" }], "", new Set());
    // This run: only orders, now a full restore without apply-incremental, green.
    const orders = { ...incrementalRun(), steps: incrementalRun().steps.filter((s) => s.step !== "apply-incremental"), rtoMs: 1752 };
    const text = textfileContent([orders], previous, new Set(["blog", "orders"]));
    const services = new Set(parseSamples(text).map((s) => s.labels.service));
    expect([...services].sort()).toEqual(["blog", "orders"]);
    // blog exactly as before; orders' old step is gone with the rest of its old group.
    expect(parseSamples(text).filter((s) => s.labels.service === "blog")).toEqual(parseSamples(previous).filter((s) => s.labels.service === "blog"));
    expect(text).not.toMatch(/step="apply-incremental"/);
    expect(text).toMatch(/^restoretest_rto_seconds\{service="orders"\} 1.752$/m);
    expect(await promtoolCheckMetrics(text)).toEqual({ exitCode: 0, output: "" });
  });

  it("is replaced by rename: a new file each run, no temp file left, readable by the collector's user", () => {
    const file = join(dir, "restoretest.prom");
    writeTextfile(file, [BLOG], new Set(["blog", "shop"]));
    const first = statSync(file);
    writeTextfile(file, [SHOP], new Set(["blog", "shop"]));
    const second = statSync(file);
    expect(second.ino).not.toBe(first.ino);
    expect(second.mode & 0o044).toBe(0o044);
    expect(readdirSync(dir)).toEqual(["restoretest.prom"]);
    expect(readFileSync(file, "utf8")).toBe(textfileContent([BLOG, SHOP], "", new Set()));
  });

  it("says why when the file cannot be written, leaving nothing behind", () => {
    const blocked = join(dir, "blocked");
    writeFileSync(blocked, "a file where the reports directory should be");
    expect(() => writeTextfile(join(blocked, "restoretest.prom"), [BLOG], new Set())).toThrow(/ENOTDIR|EEXIST/);
    expect(readdirSync(dir).sort()).toEqual(["blocked", "restoretest.prom"]);
  });
});

describe("docs/metrics.md", () => {
  const doc = readFileSync(join(ROOT, "docs/metrics.md"), "utf8");

  it("shows the file made from summary.md's example records, as it is rendered today", () => {
    const example = /The file for the example[^\n]*\n\n```\n([\s\S]*?)```/.exec(doc)?.[1];
    expect(example).toBe(textfileContent(DOCUMENTED.services, "", new Set()));
  });

  it("lists every metric in its table", () => {
    const listed = [...doc.matchAll(/^\| `(restoretest_[a-z_]+)` \|/gm)].map((m) => m[1]);
    expect(listed).toEqual(METRICS.map((m) => m.name));
  });
});

describe("unproven backups", () => {
  it("gauge the longest any retained backup went unproven, and the oldest never verified, only when the summary knows them", () => {
    const s = { service: "blog" };
    const unproven = { longestMs: 3 * 86_400_000, backupId: "2026-11-22T01-00-00Z", neverVerified: { id: "2026-11-22T01-00-00Z", ageMs: 3 * 86_400_000 } };
    const samples = samplesOf({ ...BLOG, unproven });
    expect(samples[`restoretest_unproven_seconds${JSON.stringify(s)}`]).toBe(259_200);
    expect(samples[`restoretest_never_verified_backup_age_seconds${JSON.stringify(s)}`]).toBe(259_200);
    const proven = samplesOf({ ...BLOG, unproven: { ...unproven, longestMs: 60_000, neverVerified: null } });
    expect(proven[`restoretest_unproven_seconds${JSON.stringify(s)}`]).toBe(60);
    expect(Object.keys(proven).some((k) => k.startsWith("restoretest_never_verified_backup_age_seconds"))).toBe(false);
  });
});
